// The editor's draft of a dashboard, and its conversions: from the GraphQL read shape
// (`dashboard { ... widgets { query { kind ... } } }`), to `DashboardInput` (what
// updateDashboard and createCustomDashboard take, and what JSON export writes), and
// back from either shape (JSON import).
//
// A draft widget: { id, type, title, style, position: {x y w h}, query, unit, thresholds }
// where query is null or the schema's WidgetQuery: { kind, name, formula, labels,
// aggregation, step, groupBy, last, source }; unit is null (detected from the metric) or
// one of PANEL_UNITS; thresholds is a list of { value, color }.
import { COLOR_NAMES } from "../thresholds.js";

export const WIDGET_TYPES = ["CHART", "KPI", "HEATMAP", "TABLE", "ALERTS", "ANOMALIES", "FORECAST"];
export const AGGREGATIONS = ["AVG", "SUM", "MIN", "MAX", "COUNT", "LAST", "P50", "P95", "P99", "RATE"];
export const CHART_STYLES = ["LINE", "AREA"];
export const QUERY_KINDS = ["METRIC", "EVENTS", "FORMULA"];
// the schema's PanelUnit, in lower case as units.js names them
export const PANEL_UNITS = ["none", "percent", "bytes", "ms", "currency"];

// What each widget type can show (the gateway's dashboards/checks.py); ALERTS needs none.
export const KINDS_BY_TYPE = {
  CHART: ["METRIC", "EVENTS", "FORMULA"],
  KPI: ["METRIC", "EVENTS", "FORMULA"],
  HEATMAP: ["METRIC", "EVENTS"],
  TABLE: ["METRIC", "EVENTS"],
  ALERTS: [],
  ANOMALIES: ["METRIC"],
  FORECAST: ["METRIC"],
};

// Default sizes, as the gateway flows new widgets (dashboards/model.py)
export const DEFAULT_SIZES = {
  KPI: [3, 2], CHART: [6, 4], HEATMAP: [6, 4], TABLE: [6, 4], ALERTS: [4, 4], ANOMALIES: [4, 4], FORECAST: [4, 4],
};

export function emptyQuery(kind = "METRIC") {
  return {
    kind, name: "", formula: "", labels: {}, aggregation: kind === "EVENTS" ? null : "AVG",
    step: null, groupBy: null, last: null, source: "STORE",
  };
}

export function normalizeQuery(query) {
  if (!query) return null;
  if (!QUERY_KINDS.includes(query.kind)) throw new Error(`query kind must be one of ${QUERY_KINDS.join(", ")}`);
  const groupBy = query.groupBy ?? null;
  if (groupBy !== null && !(Array.isArray(groupBy) && groupBy.every((g) => typeof g === "string"))) {
    throw new Error("groupBy must be a list of label names, or null");
  }
  const labels = query.labels ?? {};
  if (typeof labels !== "object" || Array.isArray(labels)) throw new Error("labels must be an object");
  if (query.aggregation && !AGGREGATIONS.includes(query.aggregation)) {
    throw new Error(`aggregation must be one of ${AGGREGATIONS.join(", ")}`);
  }
  return {
    kind: query.kind,
    name: String(query.name ?? ""),
    formula: String(query.formula ?? ""),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
    aggregation: query.aggregation || null,
    step: query.step || null,
    groupBy: groupBy ? [...groupBy] : null,
    last: query.last || null,
    source: query.source || "STORE",
  };
}

function variableFrom(v) {
  return {
    name: v.name,
    label: v.label ?? "",
    default: v.default ?? "",
    options: [...(v.options ?? [])],
    optionsMetric: v.optionsMetric ?? null,
    optionsLabel: v.optionsLabel ?? null,
  };
}

// The read shape -> a draft. A variable fed by a metric keeps only that source (its
// `options` as read include the metric's values).
export function fromGraphQL(dashboard) {
  return {
    id: dashboard.id ?? null,
    version: dashboard.version ?? null,
    name: dashboard.name,
    layout: dashboard.layout ?? "GRID",
    timeRange: dashboard.timeRange ?? "1h",
    variables: (dashboard.variables ?? []).map((v) => variableFrom(v.optionsMetric ? { ...v, options: [] } : v)),
    widgets: (dashboard.widgets ?? []).map(widgetFromJson),
  };
}

// A unit as either shape writes it ("PERCENT" or "percent") -> the draft's, or null.
export function unitFrom(unit, index = 0) {
  if (unit === null || unit === undefined || unit === "" || unit === "auto") return null;
  const lower = String(unit).toLowerCase();
  if (!PANEL_UNITS.includes(lower)) throw new Error(`widget ${index}: unit must be one of ${PANEL_UNITS.join(", ")}`);
  return lower;
}

export function thresholdsFrom(thresholds, index = 0) {
  if (thresholds === null || thresholds === undefined) return [];
  if (!Array.isArray(thresholds)) throw new Error(`widget ${index}: thresholds must be a list of {value, color}`);
  return thresholds.map((t) => {
    const value = Number(t?.value);
    if (t?.value === null || t?.value === "" || !Number.isFinite(value)) throw new Error(`widget ${index}: every threshold needs a number`);
    if (!COLOR_NAMES.includes(t.color)) throw new Error(`widget ${index}: a threshold's colour is one of ${COLOR_NAMES.join(", ")}`);
    return { value, color: t.color };
  });
}

function compact(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== null && v !== undefined));
}

function nonEmpty(labels) {
  return labels && Object.keys(labels).length ? { ...labels } : null;
}

// A draft widget -> WidgetInput: the query becomes `query`, `events` or `formula`.
export function widgetInput(widget) {
  const { x, y, w, h } = widget.position;
  const input = {
    id: widget.id, type: widget.type, title: widget.title, position: { x, y, w, h }, style: widget.style ?? "LINE",
    unit: widget.unit ? widget.unit.toUpperCase() : null,
    thresholds: (widget.thresholds ?? []).map(({ value, color }) => ({ value, color })),
  };
  const q = widget.query;
  if (!q) return input;
  if (q.kind === "METRIC") {
    input.query = compact({
      name: q.name, labels: nonEmpty(q.labels), aggregation: q.aggregation, step: q.step,
      groupBy: q.groupBy, last: q.last, source: q.source,
    });
  } else if (q.kind === "EVENTS") {
    input.events = compact({ type: q.name, step: q.step, groupBy: q.groupBy?.[0] ?? null, last: q.last });
  } else {
    Object.assign(input, compact({
      formula: q.formula, aggregation: q.aggregation, labels: nonEmpty(q.labels), step: q.step,
      groupBy: q.groupBy, last: q.last,
    }));
  }
  return input;
}

function variableInput(v) {
  const metric = v.optionsMetric || null;
  return compact({
    name: v.name,
    label: v.label || null,
    default: v.default ?? "",
    options: metric ? null : [...(v.options ?? [])],
    optionsMetric: metric,
    optionsLabel: metric ? v.optionsLabel || null : null,
  });
}

// A draft -> DashboardInput (also the JSON export)
export function toInput(draft) {
  return {
    name: draft.name,
    layout: draft.layout ?? "GRID",
    timeRange: draft.timeRange,
    variables: draft.variables.map(variableInput),
    widgets: draft.widgets.map(widgetInput),
  };
}

// A widget in either shape -> a draft widget. The input shape's `data` (a named data
// source) is resolved by the gateway only, so it is refused here.
export function widgetFromJson(w, index = 0) {
  if (!WIDGET_TYPES.includes(w.type)) throw new Error(`widget ${index}: type must be one of ${WIDGET_TYPES.join(", ")}`);
  const p = w.position ?? {};
  const widget = {
    id: w.id ? String(w.id) : "",
    type: w.type,
    title: w.title ?? "",
    style: w.style ?? "LINE",
    position: { x: p.x ?? 0, y: p.y ?? 0, w: p.w ?? DEFAULT_SIZES[w.type][0], h: p.h ?? DEFAULT_SIZES[w.type][1] },
    query: null,
    unit: unitFrom(w.unit, index),
    thresholds: thresholdsFrom(w.thresholds, index),
  };
  const refine = { labels: w.labels, aggregation: w.aggregation, step: w.step, groupBy: w.groupBy, last: w.last };
  if (w.query?.kind) widget.query = normalizeQuery(w.query);
  else if (w.query) widget.query = normalizeQuery({ ...w.query, kind: "METRIC" });
  else if (w.events) {
    const e = w.events;
    widget.query = normalizeQuery({ kind: "EVENTS", name: e.type, step: e.step, groupBy: e.groupBy ? [e.groupBy] : null, last: e.last });
  } else if (w.formula) widget.query = normalizeQuery({ aggregation: "AVG", ...compact(refine), kind: "FORMULA", formula: w.formula });
  else if (w.metric) widget.query = normalizeQuery({ aggregation: "AVG", ...compact(refine), kind: "METRIC", name: w.metric });
  else if (w.data) throw new Error(`widget ${index}: named data sources (data: ${JSON.stringify(w.data)}) are resolved by the gateway; import the file from the dashboard list`);
  return widget;
}

// A parsed JSON file -> a draft. Takes DashboardInput, the read shape, or a GraphQL
// answer holding either ({data: {dashboard: ...}}).
export function draftFromJson(parsed) {
  const dashboard = parsed?.data?.dashboard ?? parsed?.dashboard ?? parsed;
  if (!dashboard || typeof dashboard !== "object" || !Array.isArray(dashboard.widgets)) {
    throw new Error("not a dashboard: expected an object with a name and a widgets list");
  }
  if (typeof dashboard.name !== "string" || !dashboard.name.trim()) throw new Error("the dashboard needs a name");
  const draft = {
    id: null,
    version: null,
    name: dashboard.name,
    layout: dashboard.layout ?? "GRID",
    timeRange: dashboard.timeRange ?? "1h",
    variables: (dashboard.variables ?? []).map(variableFrom),
    widgets: dashboard.widgets.map(widgetFromJson),
  };
  assignIds(draft.widgets);
  return draft;
}

// DashboardInput for a JSON file, as the gateway would take it. Widgets written with
// `data` (named data sources) are passed through for the gateway to resolve.
export function inputFromJson(parsed) {
  const dashboard = parsed?.data?.dashboard ?? parsed?.dashboard ?? parsed;
  if (!dashboard || !Array.isArray(dashboard.widgets)) throw new Error("not a dashboard: expected an object with a widgets list");
  if (dashboard.widgets.some((w) => w.data && !w.query)) {
    return {
      name: dashboard.name,
      layout: dashboard.layout ?? "GRID",
      timeRange: dashboard.timeRange ?? "1h",
      variables: (dashboard.variables ?? []).map((v) => variableInput(variableFrom(v))),
      widgets: dashboard.widgets,
    };
  }
  return toInput(draftFromJson(parsed));
}

export function assignIds(widgets) {
  const taken = new Set(widgets.map((w) => w.id).filter(Boolean));
  for (const widget of widgets) {
    if (!widget.id) widget.id = newWidgetId(taken);
    taken.add(widget.id);
  }
}

export function newWidgetId(taken) {
  let n = 1;
  while (taken.has(`w${n}`)) n += 1;
  return `w${n}`;
}

// One line saying what feeds a widget, e.g. `cpu_usage{host="web-1"} · MAX · step 5m · by host`
export function querySummary(query) {
  if (!query) return "no query";
  const labels = Object.entries(query.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join(", ");
  const parts = [];
  if (query.kind === "FORMULA") parts.push(query.formula || "(no formula)");
  else if (query.kind === "EVENTS") parts.push(`events ${query.name || "(no type)"}`);
  else parts.push(`${query.name || "(no metric)"}${labels ? `{${labels}}` : ""}`);
  if (query.aggregation) parts.push(query.aggregation);
  if (query.step) parts.push(`step ${query.step}`);
  if (query.groupBy?.length) parts.push(`by ${query.groupBy.join(", ")}`);
  if (query.last) parts.push(`last ${query.last}`);
  return parts.join(" · ");
}

export const clone = (value) => structuredClone(value);
