// The report form as plain data, and the reads of generateReport: no DOM here, so
// the mapping to ReportInput and the period arithmetic are unit-tested.
export const PERIODS = ["DAY", "WEEK", "MONTH"];
export const AGGREGATIONS = ["SUM", "AVG", "MIN", "MAX", "COUNT", "LAST", "P50", "P95", "P99", "RATE"];
// the server's bounds (see the ReportInput description)
export const MAX_PANELS = 8;
export const MAX_GROUP_BY = 3;
export const MAX_SPAN_MS = 31 * 86_400_000;

const list = (text) => String(text ?? "").split(",").map((s) => s.trim()).filter(Boolean);

// A saved report's panels as form rows (groupBy as text; labels kept as they are).
export function panelRows(report) {
  return (report?.panels ?? []).map((panel) => ({
    metric: panel.metric,
    aggregation: panel.aggregation,
    groupBy: (panel.groupBy ?? []).join(", "),
    title: panel.title && panel.title !== panel.metric ? panel.title : "",
    labels: panel.labels && Object.keys(panel.labels).length ? panel.labels : null,
  }));
}

// A form error the page shows next to `field`.
export class FormProblem extends Error {
  constructor(message, field) {
    super(message);
    this.field = field;
  }
}

// The form's values -> ReportInput. Blank rows are dropped; a blank schedule is null
// (on demand), and recipients need a schedule, as the server says.
export function reportInput(form) {
  const name = String(form.name ?? "").trim();
  if (!name) throw new FormProblem("The report needs a name.", "name");
  const panels = [];
  for (const row of form.panels ?? []) {
    const metric = String(row.metric ?? "").trim();
    if (!metric) continue;
    const groupBy = list(row.groupBy);
    if (groupBy.length > MAX_GROUP_BY) {
      throw new FormProblem(`${metric}: at most ${MAX_GROUP_BY} groupBy labels`, "panels");
    }
    const panel = { metric, aggregation: row.aggregation || "SUM", groupBy: groupBy.length ? groupBy : null };
    const title = String(row.title ?? "").trim();
    if (title) panel.title = title;
    if (row.labels) panel.labels = row.labels;
    panels.push(panel);
  }
  if (panels.length > MAX_PANELS) throw new FormProblem(`At most ${MAX_PANELS} panels.`, "panels");
  const kpis = [...new Set(form.kpis ?? [])];
  if (panels.length === 0 && kpis.length === 0) {
    throw new FormProblem("Pick a KPI or add a panel with a metric.", "panels");
  }
  const schedule = String(form.schedule ?? "").trim() || null;
  const recipients = [...new Set(form.recipients ?? [])];
  if (recipients.length && !schedule) {
    throw new FormProblem("Recipients are sent the report on a schedule: give one, or pick none.", "schedule");
  }
  return { name, kpis, panels, period: PERIODS.includes(form.period) ? form.period : "WEEK", schedule, recipients };
}

// A <input type="datetime-local"> value read as UTC -> ISO-8601 on a whole minute.
export function utcMinute(text) {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(String(text ?? ""));
  if (!match) return null;
  const at = new Date(`${match[1]}T${match[2]}:00Z`);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

// What generateReport is asked: its last complete period, or from/to (UTC, whole
// minutes, at most 31 days apart).
export function generateVariables(id, { window = "last", from = "", to = "" } = {}) {
  if (window !== "range") return { id, period: "LAST" };
  const start = utcMinute(from);
  const end = utcMinute(to);
  if (!start || !end) throw new FormProblem("Give both a start and an end.", "range");
  const span = Date.parse(end) - Date.parse(start);
  if (span <= 0) throw new FormProblem("The end must come after the start.", "range");
  if (span > MAX_SPAN_MS) throw new FormProblem("A report covers at most 31 days.", "range");
  return { id, from: start, to: end };
}

// The REST route of a generated report's PDF, for the period it was generated over.
export function pdfPath(id, { from, to }) {
  const query = new URLSearchParams({ from, to });
  return `/analytics/reports/${encodeURIComponent(id)}/pdf?${query}`;
}

export function scheduleText(report) {
  return report.schedule ?? "on demand";
}

// Recipients and KPIs are ids: shown by name, an unknown id as itself.
export function namesOf(ids, known) {
  const byId = new Map((known ?? []).map((item) => [item.id, item.name]));
  return (ids ?? []).map((id) => byId.get(id) ?? id);
}
