// Small pieces the alerting pages share: state badges, label text, series keys.
import { h } from "../ui/dom.js";

export const SEVERITIES = ["INFO", "WARNING", "CRITICAL"];
export const STATES = ["INACTIVE", "PENDING", "FIRING", "RESOLVED", "NODATA", "ERROR"];
// labels every event carries; a series is told apart by the others
const RULE_LABELS = new Set(["alertname", "severity"]);

export function stateBadge(state, id) {
  return h("span", { class: `state state-${state.toLowerCase()}`, id, dataset: { state } }, state);
}

export function seriesLabels(labels) {
  return Object.fromEntries(Object.entries(labels ?? {}).filter(([key]) => !RULE_LABELS.has(key)));
}

export function labelsText(labels) {
  const entries = Object.entries(labels ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}="${v}"`).join(", ") : "(one series)";
}

export function seriesKey(labels) {
  return labelsText(seriesLabels(labels));
}

export function formatValue(value) {
  if (value === null || value === undefined) return "–";
  return Math.abs(value) >= 100 ? value.toFixed(1) : String(Number(value.toPrecision(4)));
}

export function tabs(current) {
  const tab = (page, text) => h("a", {
    href: `#/alerts/${page}`, class: `tab-link${current === page ? " current" : ""}`,
    "aria-current": current === page ? "page" : null,
  }, text);
  return h("nav", { class: "alert-tabs", "aria-label": "Alerting" },
    tab("rules", "Alert rules"), tab("silences", "Silences"), tab("channels", "Contact points"));
}
