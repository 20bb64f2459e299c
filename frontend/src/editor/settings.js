// Dashboard settings: title, default range and variables (fixed options, or the
// values of one label of one metric). Resolves with the changed fields, or null.
import { field, h, select } from "../ui/dom.js";
import { formDialog } from "../ui/dialog.js";

const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DURATION = /^\d+(ms|s|m|h|d|w)$/;

function variableRow(variable, metricNames, onRemove) {
  const fromMetric = Boolean(variable.optionsMetric);
  const name = h("input", { class: "var-name", value: variable.name, placeholder: "name", "aria-label": "Variable name" });
  const label = h("input", { class: "var-label", value: variable.label, placeholder: "label", "aria-label": "Variable label" });
  const defaultValue = h("input", { class: "var-default", value: variable.default, placeholder: "all", "aria-label": "Default value" });
  const source = select([["fixed", "fixed options"], ["metric", "a metric's label"]], fromMetric ? "metric" : "fixed", { class: "var-source", "aria-label": "Options from" });
  const options = h("input", { class: "var-options", value: (variable.options ?? []).join(", "), placeholder: "a, b, c", "aria-label": "Options" });
  const metric = select(["", ...new Set([...metricNames, ...(variable.optionsMetric ? [variable.optionsMetric] : [])])], variable.optionsMetric ?? "", { class: "var-metric", "aria-label": "Metric" });
  const metricLabel = h("input", { class: "var-metric-label", value: variable.optionsLabel ?? "", placeholder: "label", "aria-label": "Its label" });
  const showSource = () => {
    options.hidden = source.value !== "fixed";
    metric.hidden = metricLabel.hidden = source.value !== "metric";
  };
  source.addEventListener("change", showSource);
  showSource();
  const row = h("div", { class: "var-row" }, name, label, defaultValue, source, options, metric, metricLabel,
    h("button", { type: "button", class: "icon", title: "Remove variable", onClick: () => onRemove(row) }, "✕"));
  row.read = () => {
    const value = {
      name: name.value.trim(), label: label.value.trim(), default: defaultValue.value.trim(),
      options: [], optionsMetric: null, optionsLabel: null,
    };
    if (!NAME.test(value.name)) throw new Error(`"${value.name}" is not a variable name (letters, digits, _)`);
    if (source.value === "metric") {
      if (!metric.value || !metricLabel.value.trim()) throw new Error(`variable ${value.name}: choose a metric and its label`);
      value.optionsMetric = metric.value;
      value.optionsLabel = metricLabel.value.trim();
    } else {
      value.options = options.value.split(",").map((o) => o.trim()).filter(Boolean);
    }
    return value;
  };
  return row;
}

export async function editSettings(draft, catalog) {
  const metricNames = await catalog.metricNames().catch(() => []);
  const name = h("input", { id: "settings-name", value: draft.name, required: true, autocomplete: "off" });
  const range = h("input", { id: "settings-range", value: draft.timeRange, list: "settings-ranges", autocomplete: "off" });
  const rows = h("div", { class: "var-rows", id: "settings-variables" });
  const remove = (row) => row.remove();
  rows.append(...draft.variables.map((v) => variableRow(v, metricNames, remove)));
  const add = h("button", {
    type: "button", id: "settings-add-variable",
    onClick: () => rows.append(variableRow({ name: "", label: "", default: "", options: [] }, metricNames, remove)),
  }, "+ Variable");
  const content = h("div", { class: "settings" },
    field("Title", name),
    field("Default range", range, "ending now, e.g. 1h, 24h, 7d"),
    h("datalist", { id: "settings-ranges" }, RANGES.map((r) => h("option", { value: r }))),
    h("h3", {}, "Variables"),
    h("p", { class: "hint" }, "Widgets refer to a variable as $name (in label filters, metric names and titles)."),
    rows, add);
  return formDialog({
    title: "Dashboard settings", content, id: "dashboard-settings",
    submit: () => {
      if (!name.value.trim()) throw new Error("The dashboard needs a title.");
      if (!DURATION.test(range.value.trim())) throw new Error("The default range is a duration such as 1h or 7d.");
      const variables = [...rows.children].map((row) => row.read());
      const names = variables.map((v) => v.name);
      if (new Set(names).size !== names.length) throw new Error("Variable names must be unique.");
      return { name: name.value.trim(), timeRange: range.value.trim(), variables };
    },
  });
}
