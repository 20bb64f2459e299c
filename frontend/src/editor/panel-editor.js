// The panel editor: title, type, chart style, unit, thresholds and the query (builder or
// raw JSON), with a live preview. Resolves with the edited widget, or null when cancelled.
import { COLOR_NAMES, thresholdsProblem } from "../thresholds.js";
import { debounce, field, h, select } from "../ui/dom.js";
import { formDialog } from "../ui/dialog.js";
import { CHART_STYLES, KINDS_BY_TYPE, PANEL_UNITS, WIDGET_TYPES, clone, emptyQuery, normalizeQuery } from "./model.js";
import { createPreview } from "./preview.js";
import { createQueryBuilder } from "./query-builder.js";

// Rows of { value, color }: a number and a colour each, added and removed freely.
function thresholdsEditor(initial) {
  let rows = (initial ?? []).map((t) => ({ value: String(t.value), color: t.color }));
  const list = h("div", { class: "threshold-rows", id: "panel-thresholds" });
  function render() {
    list.replaceChildren(...rows.map((row, index) => h("div", { class: "threshold-row", dataset: { index: String(index) } },
      h("input", {
        type: "number", step: "any", class: "threshold-value", value: row.value, "aria-label": `Threshold ${index + 1} value`,
        onInput: (event) => { row.value = event.target.value; },
      }),
      select(COLOR_NAMES, row.color, {
        class: "threshold-color", "aria-label": `Threshold ${index + 1} colour`,
        onChange: (event) => { row.color = event.target.value; },
      }),
      h("button", { type: "button", class: "small icon threshold-remove", title: "Remove", "aria-label": `Remove threshold ${index + 1}`,
        onClick: () => { rows.splice(index, 1); render(); } }, "✕"),
    )));
  }
  const add = h("button", {
    type: "button", class: "small", id: "panel-add-threshold",
    onClick: () => {
      const highest = Math.max(0, ...rows.map((r) => Number(r.value)).filter(Number.isFinite));
      rows.push({ value: String(rows.length ? highest + 1 : 0), color: rows.length ? "red" : "green" });
      render();
    },
  }, "Add threshold");
  render();
  return {
    root: h("div", { class: "thresholds-editor" }, list, add),
    value() {
      const thresholds = rows.map((r) => ({ value: r.value.trim() === "" ? Number.NaN : Number(r.value), color: r.color }));
      const problem = thresholdsProblem(thresholds);
      if (problem) throw new Error(problem);
      return thresholds;
    },
  };
}

function checkQuery(query) {
  if (!query) return;
  if (query.kind === "FORMULA" && !query.formula.trim()) throw new Error("Write a formula.");
  if (query.kind === "METRIC" && !query.name) throw new Error("Choose a metric.");
  if (query.kind === "EVENTS" && !query.name) throw new Error("Give an event type.");
}

export function editPanel({ widget, catalog, api, dashboard, heading = "Edit panel" }) {
  const draft = clone(widget);
  let query = draft.query ?? (KINDS_BY_TYPE[draft.type].length ? emptyQuery(KINDS_BY_TYPE[draft.type][0]) : null);
  let mode = "builder";
  let builder = null;

  const title = h("input", { id: "panel-title", value: draft.title, placeholder: "default: from the query", autocomplete: "off" });
  const type = select(WIDGET_TYPES, draft.type, { id: "panel-type" });
  const style = select(CHART_STYLES, draft.style ?? "LINE", { id: "panel-style" });
  const styleField = field("Chart style", style);
  const unit = select([["", "auto (from the metric)"], ...PANEL_UNITS], draft.unit ?? "", { id: "panel-unit" });
  const thresholds = thresholdsEditor(draft.thresholds);
  const kind = h("select", { id: "panel-kind" });
  const kindField = field("Query", kind);
  const builderTab = h("button", { type: "button", id: "panel-mode-builder", class: "tab" }, "Builder");
  const rawTab = h("button", { type: "button", id: "panel-mode-raw", class: "tab" }, "Raw JSON");
  const tabs = h("div", { class: "tabs", role: "tablist" }, builderTab, rawTab);
  const queryBox = h("div", { class: "panel-query" });
  const raw = h("textarea", { id: "panel-raw", rows: 14, spellcheck: false });
  const rawError = h("p", { class: "error", id: "panel-raw-error" });
  const previewBox = h("div", { class: "panel-preview", id: "panel-preview" });
  const preview = createPreview(previewBox, api);
  const refresh = debounce(() => preview.update(query, { range: dashboard.timeRange, variables: dashboard.variables }), 300);

  function setKinds() {
    const kinds = KINDS_BY_TYPE[type.value];
    kind.replaceChildren(...kinds.map((k) => h("option", { value: k }, k.toLowerCase())));
    kindField.hidden = kinds.length === 0;
    tabs.hidden = kinds.length === 0;
    if (kinds.length === 0) query = null;
    else if (!query || !kinds.includes(query.kind)) query = emptyQuery(kinds[0]);
    if (query) kind.value = query.kind;
    styleField.hidden = type.value !== "CHART";
  }

  function showQuery() {
    builderTab.setAttribute("aria-selected", String(mode === "builder"));
    rawTab.setAttribute("aria-selected", String(mode === "raw"));
    if (!query) {
      queryBox.replaceChildren(h("p", { class: "hint" }, "This panel shows the tenant's alerts; it needs no query."));
    } else if (mode === "builder") {
      builder = createQueryBuilder({
        query, catalog, variables: dashboard.variables,
        onChange: (next) => {
          query = next;
          refresh();
        },
      });
      queryBox.replaceChildren(builder.root);
    } else {
      builder = null;
      raw.value = JSON.stringify(query, null, 2);
      rawError.textContent = "";
      queryBox.replaceChildren(h("p", { class: "hint" }, "The widget's query fields: kind, name, formula, labels, aggregation, step, groupBy, last, source."), raw, rawError);
    }
    refresh();
  }

  // raw JSON -> query, or an error shown under the text
  function readRaw() {
    try {
      const parsed = normalizeQuery(JSON.parse(raw.value));
      if (!parsed || !KINDS_BY_TYPE[type.value].includes(parsed.kind)) {
        throw new Error(`a ${type.value} panel takes a ${KINDS_BY_TYPE[type.value].join(", ")} query`);
      }
      rawError.textContent = "";
      return parsed;
    } catch (error) {
      rawError.textContent = `Not a valid query: ${error.message}`;
      throw error;
    }
  }

  raw.addEventListener("input", debounce(() => {
    try {
      query = readRaw();
      refresh();
    } catch {
      // the message under the text says why
    }
  }, 300));
  builderTab.addEventListener("click", () => {
    if (mode === "raw") {
      try {
        query = readRaw();
      } catch {
        return;
      }
    }
    mode = "builder";
    showQuery();
  });
  rawTab.addEventListener("click", () => {
    mode = "raw";
    showQuery();
  });
  type.addEventListener("change", () => {
    setKinds();
    showQuery();
  });
  kind.addEventListener("change", () => {
    query = emptyQuery(kind.value);
    showQuery();
  });

  setKinds();
  showQuery();
  const content = h("div", { class: "panel-editor" },
    h("div", { class: "panel-editor-form" },
      field("Title", title, "$name shows a variable's value"),
      h("div", { class: "row" }, field("Type", type), styleField, kindField, field("Unit", unit)),
      h("div", { class: "field" }, h("span", { class: "field-label" }, "Thresholds"), thresholds.root,
        h("small", { class: "hint" }, "from each value up, values show in its colour")),
      tabs, queryBox),
    previewBox);

  return formDialog({
    title: heading, content, id: "panel-editor", className: "modal-wide", submitLabel: "Apply",
    submit: () => {
      if (mode === "raw") query = readRaw();
      checkQuery(query);
      return {
        ...draft, title: title.value.trim(), type: type.value, style: style.value, query: query ? clone(query) : null,
        unit: unit.value || null, thresholds: thresholds.value(),
      };
    },
  }).finally(() => {
    refresh.cancel();
    preview.destroy();
  });
}
