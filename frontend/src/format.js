// Number and time formatting shared by the widgets.
const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatNumber(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return whole.format(value);
  if (abs >= 100) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return "0";
  return value.toPrecision(3);
}

export function formatChange(change) {
  if (change === null || change === undefined || !Number.isFinite(change)) return "";
  const percent = (change * 100).toFixed(1);
  return `${change >= 0 ? "▲ +" : "▼ "}${percent}%`;
}

export function labelText(series) {
  const entries = Object.entries(series.labels ?? {});
  if (entries.length === 0) return series.name;
  if (entries.length === 1) return String(entries[0][1]);
  return entries.map(([k, v]) => `${k}=${v}`).join(", ");
}

export const PALETTE = [
  "#4e9af1", "#f1a54e", "#5cc98a", "#e36d6d", "#a98bf0",
  "#42c6c6", "#e0c04a", "#d783c0", "#8fa3b8", "#7fcf4e",
];

// `$name` or `${name}`, as in widget queries (analytics_gateway/dashboards/variables.py)
const VARIABLE_REF = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

// A title with the dashboard's variables put in: an empty value (every value) reads
// "All"; a name that is no variable of the dashboard stays as written.
export function interpolate(text, variables) {
  const values = new Map(variables.map((v) => [v.name, v.value]));
  return text.replace(VARIABLE_REF, (ref, braced, bare) => {
    const name = braced ?? bare;
    if (!values.has(name)) return ref;
    return values.get(name) || "All";
  });
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
