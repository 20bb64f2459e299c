// What Explore shows, as its address holds it, pure (no DOM):
//   #/explore?metric=cpu_usage&label.host=web-1&agg=MAX&step=5m&by=host&range=6h
//   (or &from=<epoch ms>&to=<epoch ms> instead of range)
// and the MetricQuery it reads, and the dashboard panel it adds.
import { AGGREGATIONS } from "../editor/model.js";
import { autoStep } from "../time.js";

export const EXPLORE_RANGES = ["15m", "1h", "6h", "24h", "7d"];

export function parseExplore(params) {
  const labels = {};
  for (const [key, value] of params) {
    if (key.startsWith("label.") && value) labels[key.slice(6)] = value;
  }
  const aggregation = AGGREGATIONS.includes(params.get("agg")) ? params.get("agg") : "AVG";
  let from = Number(params.get("from") ?? Number.NaN);
  let to = Number(params.get("to") ?? Number.NaN);
  if (!Number.isFinite(from) || !Number.isFinite(to) || !(from < to)) from = to = null;
  return {
    metric: params.get("metric") ?? "",
    labels,
    aggregation,
    step: params.get("step") ?? "",
    groupBy: params.get("by") ?? "",
    range: from === null ? params.get("range") || "1h" : null,
    from, to,
  };
}

export function exploreHash(state) {
  const params = new URLSearchParams();
  if (state.metric) params.set("metric", state.metric);
  for (const [key, value] of Object.entries(state.labels ?? {})) if (value) params.set(`label.${key}`, value);
  if (state.aggregation && state.aggregation !== "AVG") params.set("agg", state.aggregation);
  if (state.step) params.set("step", state.step);
  if (state.groupBy) params.set("by", state.groupBy);
  if (state.from !== null && state.from !== undefined && state.to !== null && state.to !== undefined) {
    params.set("from", String(Math.round(state.from)));
    params.set("to", String(Math.round(state.to)));
  } else if (state.range && state.range !== "1h") {
    params.set("range", state.range);
  }
  const search = params.toString();
  return `#/explore${search ? `?${search}` : ""}`;
}

// The MetricQuery for the state: an absolute range is read as such (metrics take from/to).
export function metricQuery(state) {
  const absolute = state.from !== null;
  const span = absolute ? `${Math.max(1, Math.ceil((state.to - state.from) / 60_000))}m` : state.range;
  return {
    name: state.metric,
    labels: Object.keys(state.labels).length ? { ...state.labels } : null,
    aggregation: state.aggregation,
    step: state.step || autoStep(span),
    groupBy: state.groupBy ? [state.groupBy] : null,
    ...(absolute
      ? { from: new Date(state.from).toISOString(), to: new Date(state.to).toISOString() }
      : { last: state.range }),
  };
}

// The editor's query of a panel showing the same (the dashboard's own range applies).
export function panelQuery(state) {
  return {
    kind: "METRIC", name: state.metric, formula: "", labels: { ...state.labels },
    aggregation: state.aggregation, step: state.step || null,
    groupBy: state.groupBy ? [state.groupBy] : null, last: null, source: "STORE",
  };
}
