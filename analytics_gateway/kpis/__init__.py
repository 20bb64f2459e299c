"""KPIs: named per-tenant formulas over metrics and event counts, judged against a target.

- `model`: the plain dataclasses and their stored (JSON) form;
- `checks`: what a valid definition is (formula, unit, target, bounds);
- `repository`: versioned storage in the `ConfigStore` (document kind `kpi`);
- `evaluate`: a definition over a range -> value, previous value, change, status, series;
- `service`: `KpiService`, the one entry point for GraphQL, dashboards, alerts and reports.
"""
