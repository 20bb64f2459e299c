"""Business reports: KPIs, panels and insights over a period, as HTML and PDF, on schedule.

- `model`: the plain dataclasses and their stored (JSON) form;
- `schedule`: "every Monday 08:00 Europe/Paris" parsed, its runs and periods in local time;
- `checks`: what a valid definition is (and its bounds);
- `repository`: versioned storage in the `ConfigStore` (document kind `report`);
- `insights`: movers and their drivers, anomalies, forecasts, KPIs off target, as
  structured records with sentences written from their figures;
- `render`: HTML with inline SVG charts, and a PDF (matplotlib), off the event loop;
- `service`: `ReportService`, generation on demand and the leased scheduled round.
"""
