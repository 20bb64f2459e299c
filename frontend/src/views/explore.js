// Explore: one metric, ad hoc. Pick the metric (metricNames), filter its labels
// (labelValues), choose aggregation, step, group-by and range (relative, absolute,
// or dragged across the chart), see the chart and the table, and add the query to a
// dashboard as a new panel (saved through the editor's save path, version checked).
import { Catalog } from "../editor/catalog.js";
import { freeSlot } from "../editor/layout.js";
import { AGGREGATIONS, DEFAULT_SIZES, newWidgetId, querySummary } from "../editor/model.js";
import { readDraft, save } from "../editor/persist.js";
import { DASHBOARD_NAMES, EXPLORE_SERIES } from "../explore/queries.js";
import { EXPLORE_RANGES, exploreHash, metricQuery, panelQuery, parseExplore } from "../explore/state.js";
import { run } from "../graphql.js";
import { setTimeZone, timeZone } from "../prefs.js";
import { dashboardHash } from "../router.js";
import { fromInputValue, rangeProblem, toInputValue, zoneLabel } from "../time.js";
import { formDialog } from "../ui/dialog.js";
import { field, h, select } from "../ui/dom.js";
import { detectUnit } from "../units.js";
import { createChart } from "../widgets/chart.js";
import { createTable } from "../widgets/table.js";

const STEPS = ["10s", "30s", "1m", "5m", "15m", "1h", "6h", "1d"];

export class ExploreView {
  constructor(app, api, route) {
    this.app = app;
    this.api = api;
    this.state = parseExplore(route.params);
    this.catalog = new Catalog(api);
    this.zone = timeZone();
    this.renderers = [];
    this.destroyed = false;
  }

  go(changes) {
    window.location.hash = exploreHash({ ...this.state, ...changes });
  }

  async load() {
    const names = await this.catalog.metricNames();
    const labelNames = this.state.metric ? await this.catalog.labelNames(this.state.metric).catch(() => []) : [];
    const values = await Promise.all(labelNames.map((label) => this.catalog.labelValues(this.state.metric, label).catch(() => [])));
    if (this.destroyed) return;
    this.status = h("p", { class: "hint", id: "explore-status" });
    this.results = h("div", { class: "explore-results" });
    const add = h("button", { type: "button", id: "explore-add", class: "primary", disabled: !this.state.metric, onClick: () => this.addToDashboard() }, "Add to dashboard");
    this.added = h("p", { class: "hint", id: "explore-added" });
    this.app.replaceChildren(h("section", { class: "explore", id: "explore" },
      h("div", { class: "dashboard-header" }, h("h1", {}, "Explore"), h("div", { class: "controls" }, add)),
      this.form(names, labelNames, values), this.status, this.added, this.results));
    if (this.state.metric) await this.read();
    else this.status.textContent = "Choose a metric.";
  }

  form(names, labelNames, values) {
    const s = this.state;
    const metric = select([["", "Choose a metric…"], ...names], s.metric, { id: "explore-metric" });
    metric.addEventListener("change", () => this.go({ metric: metric.value, labels: {}, groupBy: "" }));
    const filters = labelNames.map((label, i) => {
      const picker = select([["", "any"], ...values[i]], s.labels[label] ?? "", { class: "explore-label", dataset: { label }, "aria-label": `${label} filter` });
      picker.addEventListener("change", () => this.go({ labels: { ...s.labels, [label]: picker.value } }));
      return field(label, picker);
    });
    const aggregation = select(AGGREGATIONS, s.aggregation, { id: "explore-aggregation" });
    aggregation.addEventListener("change", () => this.go({ aggregation: aggregation.value }));
    const step = select([["", "auto"], ...STEPS], s.step, { id: "explore-step" });
    step.addEventListener("change", () => this.go({ step: step.value }));
    const by = select([["", "none (each series)"], ...labelNames], s.groupBy, { id: "explore-group-by" });
    by.addEventListener("change", () => this.go({ groupBy: by.value }));
    const range = select([...EXPLORE_RANGES, ...(s.from !== null ? [["custom", "custom"]] : [])], s.from !== null ? "custom" : s.range, { id: "explore-range" });
    range.addEventListener("change", () => {
      if (range.value !== "custom") this.go({ range: range.value, from: null, to: null });
    });
    const end = s.to ?? Date.now();
    const start = s.from ?? end - 3_600_000;
    const from = h("input", { type: "datetime-local", id: "explore-from", value: toInputValue(start, this.zone), "aria-label": "From" });
    const to = h("input", { type: "datetime-local", id: "explore-to", value: toInputValue(end, this.zone), "aria-label": "To" });
    const error = h("span", { class: "error", id: "explore-range-error" });
    const apply = h("button", {
      type: "button", id: "explore-apply",
      onClick: () => {
        const a = fromInputValue(from.value, this.zone);
        const b = fromInputValue(to.value, this.zone);
        const problem = rangeProblem(a, b, Date.now());
        if (problem) error.textContent = problem;
        else this.go({ from: a, to: b, range: null });
      },
    }, "Apply");
    const zone = select([["browser", "Browser time"], ["utc", "UTC"]], this.zone, { id: "time-zone", "aria-label": "Time zone" });
    zone.addEventListener("change", () => {
      setTimeZone(zone.value);
      this.zone = zone.value;
      this.load();
    });
    return h("div", { class: "explore-form" },
      h("div", { class: "row" }, field("Metric", metric), ...filters),
      h("div", { class: "row" }, field("Aggregation", aggregation), field("Step", step), field("Group by", by)),
      h("div", { class: "row" }, field("Range", range), field("From", from), field("To", to),
        h("small", { class: "hint" }, zoneLabel(this.zone)), apply, zone, error));
  }

  async read() {
    const s = this.state;
    this.status.textContent = "Reading…";
    let series;
    try {
      series = (await run(this.api, EXPLORE_SERIES, { query: metricQuery(s) })).metrics ?? [];
    } catch (error) {
      this.status.textContent = error.message;
      this.status.className = "error";
      return;
    }
    if (this.destroyed) return;
    for (const renderer of this.renderers) renderer.destroy();
    this.renderers = [];
    const unit = detectUnit(s.metric);
    const window = s.from !== null ? { from: s.from, to: s.to } : null;
    const view = { zone: this.zone, unit, window, onZoom: (from, to) => this.go({ from, to, range: null }) };
    const chartBox = h("div", { class: "widget-body explore-chart", id: "explore-chart" });
    const tableBox = h("div", { class: "widget-body", id: "explore-table" });
    this.results.replaceChildren(
      h("section", { class: "widget explore-panel" }, h("h2", { class: "widget-title" }, querySummary(panelQuery(s))), chartBox),
      h("section", { class: "widget" }, tableBox));
    const chart = createChart(chartBox, { style: "LINE" }, view);
    const table = createTable(tableBox, {}, view);
    this.renderers.push(chart, table);
    chart.update({ series });
    table.update({ rows: series.map((x) => ({ name: x.name, labels: x.labels, summary: x.summary })) });
    const points = series.reduce((n, x) => n + x.data.t.length, 0);
    this.status.textContent = `${series.length} series, ${points} points`;
    this.app.querySelector("#explore").dataset.state = "ready";
  }

  async addToDashboard() {
    const dashboards = (await run(this.api, DASHBOARD_NAMES)).dashboards ?? [];
    const target = select(dashboards.map((d) => [d.id, d.name]), dashboards[0]?.id, { id: "explore-dashboard" });
    const title = h("input", { id: "explore-title", value: this.state.metric, autocomplete: "off" });
    const saved = await formDialog({
      title: "Add to dashboard", id: "explore-add-dialog", submitLabel: "Add panel",
      content: h("div", { class: "modal-form" }, field("Dashboard", target), field("Panel title", title),
        h("p", { class: "hint" }, querySummary(panelQuery(this.state)))),
      submit: async () => {
        if (!target.value) throw new Error("There is no dashboard to add to.");
        const draft = await readDraft(this.api, target.value);
        const [w, hh] = DEFAULT_SIZES.CHART;
        const positions = new Map(draft.widgets.map((x) => [x.id, x.position]));
        draft.widgets.push({
          id: newWidgetId(new Set(draft.widgets.map((x) => x.id))), type: "CHART", title: title.value.trim(),
          style: "LINE", position: freeSlot(positions, w, hh), query: panelQuery(this.state),
        });
        const result = await save(this.api, draft);
        return { id: result.id, name: draft.name };
      },
    });
    if (!saved) return;
    this.added.replaceChildren(`Added to ${saved.name}: `, h("a", { href: dashboardHash(saved.id), id: "explore-open" }, "open it"));
  }

  destroy() {
    this.destroyed = true;
    for (const renderer of this.renderers) renderer.destroy();
  }
}
