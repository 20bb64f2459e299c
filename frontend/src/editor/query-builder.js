// The query builder of the panel editor: pickers for a widget's query fields.
// METRIC: metric (from metricNames), label filters (names from labelNames, values
// from labelValues, or a dashboard variable), aggregation, step, group by, own range.
// EVENTS: event type (from eventTypes), step, group by one field, own range.
// FORMULA: the formula, aggregation, step, own range.
import { field, h, select } from "../ui/dom.js";
import { AGGREGATIONS } from "./model.js";

const STEPS = ["10s", "30s", "1m", "5m", "15m", "1h", "6h", "1d"];
const RANGES = ["15m", "1h", "6h", "24h", "7d", "30d"];

function datalist(id, values) {
  return h("datalist", { id }, values.map((v) => h("option", { value: v })));
}

// Sets a select's options, keeping `current` even when it is not among them.
function fillOptions(node, options, current, placeholder) {
  const values = [...new Set([...options, ...(current ? [current] : [])])];
  node.replaceChildren(
    ...(placeholder ? [h("option", { value: "" }, placeholder)] : []),
    ...values.map((v) => h("option", { value: v }, v)),
  );
  node.value = current ?? "";
}

export function createQueryBuilder({ query, catalog, variables, onChange }) {
  const state = { ...query, groupBy: query.groupBy ? [...query.groupBy] : null };
  let rows = Object.entries(query.labels ?? {}).map(([key, value]) => ({ key, value }));
  let labelNames = [];
  const root = h("div", { class: "query-builder", dataset: { kind: state.kind } });
  const labelsSection = h("div", { class: "qb-labels" });
  const groupSection = h("fieldset", { class: "qb-group-by", id: "qb-group-by" });
  const variableRefs = variables.map((v) => `$${v.name}`);

  function value() {
    const labels = Object.fromEntries(rows.filter((r) => r.key).map((r) => [r.key, r.value]));
    return { ...state, labels, groupBy: state.groupBy ? [...state.groupBy] : null };
  }
  const emit = () => onChange(value());

  function text(id, key, placeholder, list) {
    return h("input", {
      id, value: state[key] ?? "", placeholder, list, autocomplete: "off",
      onInput: (event) => {
        state[key] = event.target.value.trim() || null;
        emit();
      },
    });
  }

  function aggregationPicker() {
    return select([["", "default"], ...AGGREGATIONS], state.aggregation ?? "", {
      id: "qb-aggregation",
      onChange: (event) => {
        state.aggregation = event.target.value || null;
        emit();
      },
    });
  }

  function common() {
    return [
      field("Step", text("qb-step", "step", "auto", "qb-steps"), "bucket width, e.g. 1m"),
      datalist("qb-steps", STEPS),
      field("Own range", text("qb-last", "last", "dashboard's", "qb-ranges")),
      datalist("qb-ranges", RANGES),
    ];
  }

  function labelRow(row) {
    const key = h("select", { class: "qb-label-key", "aria-label": "Label" });
    const operator = h("span", { class: "qb-op" }, "=");
    const val = h("select", { class: "qb-label-value", "aria-label": "Value" });
    fillOptions(key, labelNames, row.key, "label…");
    const fillValues = (values) => fillOptions(val, [...values, ...variableRefs], row.value, "value…");
    fillValues([]);
    catalog.labelValues(state.name, row.key).then(fillValues, () => {});
    key.addEventListener("change", () => {
      row.key = key.value;
      row.value = "";
      fillValues([]);
      catalog.labelValues(state.name, row.key).then(fillValues, () => {});
      emit();
    });
    val.addEventListener("change", () => {
      row.value = val.value;
      emit();
    });
    const remove = h("button", {
      type: "button", class: "icon", title: "Remove this filter",
      onClick: () => {
        rows = rows.filter((r) => r !== row);
        renderLabels();
        emit();
      },
    }, "✕");
    return h("div", { class: "qb-label-row" }, key, operator, val, remove);
  }

  function renderLabels() {
    const add = h("button", {
      type: "button", id: "qb-add-label",
      onClick: () => {
        rows.push({ key: "", value: "" });
        renderLabels();
      },
    }, "+ Label filter");
    labelsSection.replaceChildren(h("span", { class: "field-label" }, "Label filters"), ...rows.map(labelRow), add);
  }

  function renderGroupBy() {
    const chosen = new Set(state.groupBy ?? []);
    const names = [...new Set([...labelNames, ...chosen])];
    const boxes = names.map((name) => h("label", { class: "check" },
      h("input", {
        type: "checkbox", name: "group-by", value: name, checked: chosen.has(name),
        onChange: (event) => {
          const next = new Set(state.groupBy ?? []);
          if (event.target.checked) next.add(name);
          else next.delete(name);
          state.groupBy = next.size ? [...next] : merge.checked ? [] : null;
          emit();
        },
      }), ` ${name}`));
    const merge = h("input", {
      type: "checkbox", id: "qb-merge", checked: Array.isArray(state.groupBy) && state.groupBy.length === 0,
      onChange: () => {
        if (!state.groupBy?.length) state.groupBy = merge.checked ? [] : null;
        emit();
      },
    });
    groupSection.replaceChildren(
      h("legend", { class: "field-label" }, "Group by"),
      ...(names.length ? boxes : [h("small", { class: "hint" }, "no labels")]),
      h("label", { class: "check" }, merge, " merge the rest into one series"),
    );
  }

  async function loadLabelNames() {
    const asked = state.name;
    labelNames = await catalog.labelNames(asked).catch(() => []);
    if (asked !== state.name) return;
    renderLabels();
    renderGroupBy();
    root.dataset.labelsReady = "true";
  }

  function metricSection() {
    const metric = h("select", { id: "qb-metric" });
    fillOptions(metric, [], state.name, "Choose a metric…");
    catalog.metricNames().then((names) => fillOptions(metric, names, state.name, "Choose a metric…"), () => {});
    metric.addEventListener("change", () => {
      state.name = metric.value;
      rows = [];
      state.groupBy = null;
      labelNames = [];
      root.dataset.labelsReady = "false";
      renderLabels();
      renderGroupBy();
      loadLabelNames();
      emit();
    });
    renderLabels();
    renderGroupBy();
    loadLabelNames();
    return [field("Metric", metric), labelsSection, field("Aggregation", aggregationPicker()), groupSection, ...common()];
  }

  function eventsSection() {
    const group = h("input", {
      id: "qb-event-group", value: state.groupBy?.[0] ?? "", placeholder: "none", autocomplete: "off",
      onInput: (event) => {
        const name = event.target.value.trim();
        state.groupBy = name ? [name] : null;
        emit();
      },
    });
    const types = h("datalist", { id: "qb-event-types" });
    catalog.eventTypes().then((list) => types.replaceChildren(...list.map((n) => h("option", { value: n }))), () => {});
    return [
      field("Event type", text("qb-event-type", "name", "e.g. song_play", "qb-event-types")),
      types,
      field("Group by field", group, "a metadata field, e.g. country"),
      ...common(),
    ];
  }

  function formulaSection() {
    const names = h("datalist", { id: "qb-metric-names" });
    catalog.metricNames().then((list) => names.replaceChildren(...list.map((n) => h("option", { value: n }))), () => {});
    return [
      field("Formula", text("qb-formula", "formula", "e.g. revenue / active_users"), "arithmetic over metric names"),
      names,
      field("Aggregation", aggregationPicker()),
      ...common(),
    ];
  }

  const sections = { METRIC: metricSection, EVENTS: eventsSection, FORMULA: formulaSection };
  root.append(...sections[state.kind]());
  return { root, value };
}
