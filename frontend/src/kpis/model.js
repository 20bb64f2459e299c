// The KPI form as plain data: KpiInput from the form's values, with the server's bounds.
export const AGGREGATIONS = ["SUM", "AVG", "MIN", "MAX", "COUNT", "LAST", "P50", "P95", "P99", "RATE"];
export const UNITS = ["", "NONE", "PERCENT", "BYTES", "MS", "CURRENCY"];
export const DIRECTIONS = ["HIGHER", "LOWER"];
export const COMPARISONS = ["PREVIOUS_PERIOD", "PREVIOUS_WEEK"];
export const RANGES = ["1h", "24h", "7d", "30d"];
export const MAX_FORMULA = 500;

export const BLANK_KPI = {
  name: "", formula: "", aggregation: "SUM", unit: "", target: "", direction: "HIGHER",
  comparison: "PREVIOUS_PERIOD", description: "", labels: null,
};

// A saved KPI as form values (target and unit as text; blank: none).
export function kpiForm(kpi) {
  if (!kpi) return { ...BLANK_KPI };
  return {
    name: kpi.name, formula: kpi.formula, aggregation: kpi.aggregation, unit: kpi.unit ?? "",
    target: kpi.target === null || kpi.target === undefined ? "" : String(kpi.target),
    direction: kpi.direction, comparison: kpi.comparison, description: kpi.description ?? "",
    labels: kpi.labels && Object.keys(kpi.labels).length ? kpi.labels : null,
  };
}

// Form values -> KpiInput; throws an Error naming what is wrong.
export function kpiInput(form) {
  const name = String(form.name ?? "").trim();
  if (!name) throw new Error("The KPI needs a name.");
  const formula = String(form.formula ?? "").trim();
  if (!formula) throw new Error("The KPI needs a formula, e.g. revenue / events(\"song_play\").");
  if (formula.length > MAX_FORMULA) throw new Error(`The formula is longer than ${MAX_FORMULA} characters.`);
  const targetText = String(form.target ?? "").trim();
  const target = targetText === "" ? null : Number(targetText);
  if (target !== null && !Number.isFinite(target)) throw new Error(`Target: "${targetText}" is not a number.`);
  const input = {
    name, formula,
    aggregation: AGGREGATIONS.includes(form.aggregation) ? form.aggregation : "SUM",
    unit: form.unit ? form.unit : null,
    target,
    direction: DIRECTIONS.includes(form.direction) ? form.direction : "HIGHER",
    comparison: COMPARISONS.includes(form.comparison) ? form.comparison : "PREVIOUS_PERIOD",
    description: String(form.description ?? "").trim(),
  };
  if (form.labels) input.labels = form.labels;
  return input;
}

// The unit a value is formatted in (units.js's names), from a KPI's PanelUnit.
export const unitName = (unit) => (unit ? String(unit).toLowerCase() : "none");

// Whether a change is good news, given the direction that is better; null: no change.
export function changeIsGood(change, direction) {
  if (change === null || change === undefined || change === 0 || !Number.isFinite(change)) return null;
  return direction === "LOWER" ? change < 0 : change > 0;
}
