// Create or edit a KPI: a formula over metrics and event counts, how each metric is
// reduced, a unit, a target and the direction that is better.
import { GatewayError, run } from "../graphql.js";
import { field, h, select } from "../ui/dom.js";
import { AGGREGATIONS, COMPARISONS, DIRECTIONS, UNITS, kpiForm, kpiInput } from "./model.js";
import { CREATE_KPI, UPDATE_KPI } from "./queries.js";

export function renderKpiForm(root, api, kpi = null) {
  const given = kpiForm(kpi);
  const input = (id, value, props = {}) => h("input", { id, value, autocomplete: "off", ...props });
  const name = input("kpi-name", given.name, { required: true });
  const formula = h("textarea", { id: "kpi-formula", rows: 2, spellcheck: false, value: given.formula, required: true, placeholder: 'revenue / events("song_play")' });
  const aggregation = select(AGGREGATIONS, given.aggregation, { id: "kpi-aggregation" });
  const unit = select(UNITS.map((u) => [u, u ? u.toLowerCase() : "(none)"]), given.unit, { id: "kpi-unit" });
  const target = input("kpi-target", given.target, { inputmode: "decimal", placeholder: "none" });
  const direction = select([["HIGHER", "higher is better"], ["LOWER", "lower is better"]].filter(([d]) => DIRECTIONS.includes(d)), given.direction, { id: "kpi-direction" });
  const comparison = select(COMPARISONS.map((c) => [c, c === "PREVIOUS_WEEK" ? "the same range a week earlier" : "the period before"]), given.comparison, { id: "kpi-comparison" });
  const description = input("kpi-description", given.description);
  const message = h("p", { class: "error", id: "kpi-error", role: "alert" });

  const form = h("form", { class: "kpi-form", id: "kpi-form" },
    field("Name", name),
    field("Formula", formula, '+ - * /, parentheses, metric{label="value"}, events("type"); at most 500 characters'),
    h("div", { class: "row" }, field("Aggregation", aggregation, "how each metric is reduced over the range"),
      field("Unit", unit), field("Target", target), field("Direction", direction), field("Compared with", comparison)),
    field("Description", description),
    message,
    h("div", { class: "modal-actions" },
      h("a", { class: "button", href: "#/kpis" }, "Cancel"),
      h("button", { type: "submit", class: "primary", id: "save-kpi" }, kpi ? "Save KPI" : "Create KPI")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      const values = kpiInput({
        name: name.value, formula: formula.value, aggregation: aggregation.value, unit: unit.value,
        target: target.value, direction: direction.value, comparison: comparison.value,
        description: description.value, labels: given.labels,
      });
      if (kpi) await run(api, UPDATE_KPI, { id: kpi.id, version: kpi.version, input: values });
      else await run(api, CREATE_KPI, { input: values });
      window.location.hash = "#/kpis";
    } catch (error) {
      message.textContent = error instanceof GatewayError && error.code === "CONFLICT"
        ? "Someone changed this KPI since you opened it: reload the page to edit their version."
        : error.message;
    }
  });

  root.replaceChildren(h("h1", {}, kpi ? `Edit ${kpi.name}` : "New KPI"), form);
  name.focus();
}
