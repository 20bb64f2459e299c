// Threshold colours of a panel, pure: a value takes the colour of the highest threshold
// it reaches (thresholds as the gateway keeps them: [{ value, color }], any order).
// The palette is the gateway's (dashboards/model.py THRESHOLD_COLORS).
export const THRESHOLD_COLORS = {
  green: "#5cc98a",
  yellow: "#e0c04a",
  orange: "#f1a54e",
  red: "#e36d6d",
  blue: "#4e9af1",
};

export const COLOR_NAMES = Object.keys(THRESHOLD_COLORS);

export function sortedThresholds(thresholds) {
  return [...(thresholds ?? [])].filter((t) => Number.isFinite(t?.value)).sort((a, b) => a.value - b.value);
}

// The colour name for `value`, or null (no value, no thresholds, or below them all).
export function thresholdColor(value, thresholds) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  let chosen = null;
  for (const threshold of sortedThresholds(thresholds)) {
    if (value >= threshold.value) chosen = threshold.color;
  }
  return chosen;
}

export function colorHex(name) {
  return THRESHOLD_COLORS[name] ?? null;
}

// Why a list of thresholds cannot be saved, or null (the gateway checks the same).
export function thresholdsProblem(thresholds) {
  const values = [];
  for (const t of thresholds ?? []) {
    if (!Number.isFinite(t.value)) return "Every threshold needs a number.";
    if (!COLOR_NAMES.includes(t.color)) return `A threshold's colour is one of ${COLOR_NAMES.join(", ")}.`;
    values.push(t.value);
  }
  if (new Set(values).size !== values.length) return "Two thresholds have the same value.";
  if (values.length > 10) return "At most 10 thresholds.";
  return null;
}
