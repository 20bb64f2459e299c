// A panel's data as CSV, pure: a time column (ISO-8601, UTC) and one column per series,
// rows on the union of the series' timestamps; tables give one row per series.
import { labelText } from "./format.js";

export function csvCell(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const line = (cells) => cells.map(csvCell).join(",");

export function isoTime(epochMs) {
  return new Date(epochMs).toISOString();
}

// series: [{ name, labels, data: { t: [epoch ms], v: [number | null] } }]
export function seriesCsv(series) {
  const stamps = [...new Set(series.flatMap((s) => s.data.t))].sort((a, b) => a - b);
  const columns = series.map((s) => new Map(s.data.t.map((t, i) => [t, s.data.v[i]])));
  const rows = stamps.map((t) => line([isoTime(t), ...columns.map((c) => c.get(t))]));
  return [line(["time", ...series.map(labelText)]), ...rows].join("\r\n") + "\r\n";
}

const TABLE_COLUMNS = ["count", "min", "max", "avg", "last"];

// The series a panel's data holds, as `seriesCsv` takes them; null for tables and alerts.
export function panelSeries(data, title = "value") {
  switch (data?.__typename) {
    case "ChartData":
    case "AnomaliesData":
      return data.series;
    case "KpiData":
      return [{ name: title, labels: {}, data: data.sparkline }];
    case "ForecastData": {
      const name = data.history.name;
      return [
        { name, labels: {}, data: data.history.data },
        { name: `${name} forecast`, labels: {}, data: data.forecast.data },
        { name: `${name} lower`, labels: {}, data: data.lower },
        { name: `${name} upper`, labels: {}, data: data.upper },
      ];
    }
    case "HeatmapData":
      return data.rowLabels.map((label, row) => ({
        name: label, labels: {}, data: { t: data.timestamps, v: data.values[row] },
      }));
    default:
      return null;
  }
}

// The CSV of a panel's data, or null when it has nothing to export.
export function panelCsv(data, title) {
  if (data?.__typename === "TableData") {
    return [line(["series", ...TABLE_COLUMNS]),
      ...data.rows.map((s) => line([labelText(s), ...TABLE_COLUMNS.map((c) => s.summary[c])]))].join("\r\n") + "\r\n";
  }
  const series = panelSeries(data, title);
  return series && series.length ? seriesCsv(series) : null;
}

export function csvFileName(title) {
  const slug = String(title ?? "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `${slug || "panel"}.csv`;
}
