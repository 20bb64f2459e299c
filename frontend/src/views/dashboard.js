// One dashboard: the grid of widgets, the time range (relative, or absolute from/to),
// refresh (live, paused, or every n), time zone and variable pickers.
// The address holds the range, refresh and variables (see time.js); dragging across
// a chart sets an absolute range there.
import { element, interpolate } from "../format.js";
import { setPanelUnit, panelUnit, setTimeZone, timeZone } from "../prefs.js";
import { DASHBOARD, UPDATES } from "../queries.js";
import { editorHash } from "../router.js";
import {
  RANGES, REFRESH, durationMs, fromInputValue, plan, rangeProblem, refreshMs, routeOf, toInputValue, zoneLabel,
} from "../time.js";
import { h, select } from "../ui/dom.js";
import { UNITS, detectUnit, resolveUnit } from "../units.js";
import { rendererFor } from "../widgets/index.js";

const ROW_HEIGHT = 80;
const REFRESH_TEXT = { live: "live", off: "paused" };

function widgetErrors(errors) {
  const byIndex = new Map();
  for (const error of errors ?? []) {
    const path = error.path ?? [];
    if (path[0] === "dashboard" && path[1] === "widgets" && typeof path[2] === "number") {
      byIndex.set(path[2], error.message);
    }
  }
  return byIndex;
}

// The metric a widget's unit is detected from: its metric (not a formula's parts).
function metricOf(widget, data) {
  if (widget.query?.kind === "METRIC") return widget.query.name;
  if (widget.query) return "";
  return data?.series?.[0]?.name ?? data?.history?.name ?? data?.rows?.[0]?.name ?? "";
}

class WidgetView {
  constructor(widget, variables, board) {
    this.widget = widget;
    this.board = board;
    this.renderer = null;
    this.typename = null;
    this.data = null;
    const p = widget.position;
    this.root = element("section", `widget widget-${widget.type.toLowerCase()}`);
    this.root.dataset.widgetId = widget.id;
    this.root.dataset.widgetType = widget.type;
    this.root.style.gridColumn = `${p.x + 1} / span ${p.w}`;
    this.root.style.gridRow = `${p.y + 1} / span ${p.h}`;
    this.title = element("h2", "widget-title", interpolate(widget.title, variables));
    this.unit = panelUnit(board.id, widget.id);
    this.unitPicker = select(UNITS.map((u) => [u, u]), this.unit, {
      class: "unit-picker", title: "Unit of this panel's values", "aria-label": `Unit of ${this.title.textContent}`,
      onChange: () => {
        this.unit = this.unitPicker.value;
        setPanelUnit(board.id, widget.id, this.unit);
        this.redraw();
      },
    });
    this.unitPicker.hidden = widget.type === "ALERTS";
    this.body = element("div", "widget-body");
    this.error = element("p", "error widget-error");
    this.error.hidden = true;
    this.root.append(h("div", { class: "widget-head" }, this.title, this.unitPicker), this.error, this.body);
  }

  view(data) {
    const metric = metricOf(this.widget, data);
    const unit = resolveUnit(this.unit, metric);
    this.root.dataset.unit = unit;
    this.unitPicker.options[0].textContent = `auto (${detectUnit(metric)})`;
    return { ...this.board.view, unit, metric };
  }

  redraw() {
    this.renderer?.destroy();
    this.renderer = null;
    this.typename = null;
    this.body.replaceChildren();
    if (this.data) this.show(this.data);
  }

  show(data, error) {
    this.error.hidden = !error;
    this.error.textContent = error ?? "";
    if (!data) {
      this.root.dataset.state = "error";
      return;
    }
    this.data = data;
    if (this.typename !== data.__typename) {
      this.renderer?.destroy();
      this.body.replaceChildren();
      this.typename = data.__typename;
      this.renderer = rendererFor(data.__typename, this.body, this.widget, this.view(data));
    }
    this.renderer.update(data);
    this.root.dataset.state = "ready";
    this.root.dataset.updatedAt = String(Date.now());
  }

  destroy() {
    this.renderer?.destroy();
  }
}

export class DashboardView {
  constructor(app, api, route) {
    this.app = app;
    this.api = api;
    this.route = route;
    this.widgets = new Map();
    this.version = null;
    this.unsubscribe = null;
    this.timer = null;
    this.destroyed = false;
    this.zone = timeZone();
  }

  variables() {
    return Object.keys(this.route.vars).length ? this.route.vars : null;
  }

  go(changes) {
    const { range, from, to, refresh } = { ...this.route, ...changes };
    window.location.hash = routeOf(this.route.id, { range, from, to, refresh }, changes.vars ?? this.route.vars);
  }

  async read() {
    this.plan = plan(this.route, Date.now());
    const { id } = this.route;
    return this.api.query(DASHBOARD, { id, range: this.plan.timeRange, vars: this.variables() });
  }

  async load() {
    const body = await this.read();
    if (this.destroyed) return; // left while it loaded
    const dashboard = body.data?.dashboard;
    if (!dashboard) {
      const message = body.errors?.[0]?.message ?? "no such dashboard";
      this.app.replaceChildren(element("p", "error", message));
      return;
    }
    this.render(dashboard, widgetErrors(body.errors));
    this.startUpdates();
  }

  render(dashboard, errors) {
    this.destroyWidgets();
    this.version = dashboard.version;
    this.view = {
      zone: this.zone,
      window: this.plan.window,
      onZoom: (from, to) => this.go({ from, to, range: null }),
    };
    const page = element("section", "dashboard");
    page.dataset.dashboardId = dashboard.id;
    const header = element("div", "dashboard-header");
    const title = element("h1", "", dashboard.name);
    const controls = element("div", "controls");
    controls.append(this.timePicker(dashboard), this.refreshPicker(), this.zonePicker(), ...this.variablePickers(dashboard));
    this.status = element("span", "live-status", "connecting");
    this.status.id = "live-status";
    controls.append(this.status);
    const edit = element("a", "button", "Edit");
    edit.id = "edit-dashboard";
    edit.href = editorHash(dashboard.id);
    controls.append(edit);
    header.append(title, controls);

    const grid = element("div", "grid");
    grid.style.gridAutoRows = `${ROW_HEIGHT}px`;
    const board = { id: dashboard.id, view: this.view };
    dashboard.widgets.forEach((widget, index) => {
      const view = new WidgetView(widget, dashboard.variables, board);
      this.widgets.set(widget.id, view);
      grid.append(view.root);
      // rendered once in the document, so charts know their size
      queueMicrotask(() => view.show(widget.data, errors.get(index)));
    });
    page.append(header);
    if (this.plan.window) {
      page.append(element("p", "hint range-note",
        `Charts and heatmaps show the chosen range; KPIs and tables cover the ${this.plan.timeRange} ending now (dashboards are read relative to now).`));
    }
    page.append(grid);
    this.app.replaceChildren(page);
  }

  timePicker(dashboard) {
    const window = this.plan.window;
    const current = this.route.range ?? dashboard.timeRange;
    const ranges = [...new Set([...RANGES, dashboard.timeRange])];
    const range = select([...ranges, ...(window ? [["custom", "custom"]] : [])], window ? "custom" : current, { id: "time-range", "aria-label": "Range" });
    range.addEventListener("change", () => {
      if (range.value !== "custom") this.go({ range: range.value, from: null, to: null });
    });
    const end = window?.to ?? Date.now();
    const start = window?.from ?? end - (durationMs(current) ?? 3_600_000);
    const from = h("input", { type: "datetime-local", id: "range-from", value: toInputValue(start, this.zone), "aria-label": "From" });
    const to = h("input", { type: "datetime-local", id: "range-to", value: toInputValue(end, this.zone), "aria-label": "To" });
    const error = h("span", { class: "error", id: "range-error" });
    const apply = h("button", {
      type: "button", id: "range-apply",
      onClick: () => {
        const a = fromInputValue(from.value, this.zone);
        const b = fromInputValue(to.value, this.zone);
        const problem = rangeProblem(a, b, Date.now());
        if (problem) {
          error.textContent = problem;
          return;
        }
        this.go({ from: a, to: b, range: null });
      },
    }, "Apply");
    const back = window
      ? h("button", { type: "button", id: "range-relative", title: "Back to a range ending now", onClick: () => this.go({ from: null, to: null, range: dashboard.timeRange }) }, "Now")
      : null;
    return h("div", { class: "time-picker picker" }, h("span", {}, "Range"), range, from, h("span", {}, "to"), to,
      h("small", {}, zoneLabel(this.zone)), apply, back, error);
  }

  refreshPicker() {
    const options = REFRESH.map((r) => [r, REFRESH_TEXT[r] ?? `every ${r}`]);
    const picker = select(options, this.route.refresh, { id: "refresh", "aria-label": "Refresh", disabled: Boolean(this.plan.window) });
    picker.title = this.plan.window ? "An absolute range does not move: nothing to refresh" : "Live updates, paused, or a re-read every n";
    picker.addEventListener("change", () => this.go({ refresh: picker.value }));
    return h("label", { class: "picker" }, "Refresh ", picker);
  }

  zonePicker() {
    const picker = select([["browser", "Browser time"], ["utc", "UTC"]], this.zone, { id: "time-zone", "aria-label": "Time zone" });
    picker.addEventListener("change", () => {
      setTimeZone(picker.value);
      this.zone = picker.value;
      this.reload();
    });
    return picker;
  }

  variablePickers(dashboard) {
    return dashboard.variables.map((variable) => {
      const label = element("label", "picker", `${variable.label} `);
      const select = element("select");
      select.dataset.variable = variable.name;
      const all = element("option", "", "All");
      all.value = "";
      select.append(all);
      for (const value of variable.options) {
        const option = element("option", "", value);
        option.value = value;
        select.append(option);
      }
      select.value = variable.value;
      select.addEventListener("change", () => {
        this.go({ vars: { ...this.route.vars, [variable.name]: select.value } });
      });
      label.append(select);
      return label;
    });
  }

  setStatus(state) {
    if (!this.status) return;
    if (!this.plan.live) return; // the live connection is not this view's
    this.status.textContent = state;
    this.status.dataset.state = state;
    document.body.dataset.live = state;
  }

  showStatic(text, state) {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  startUpdates() {
    if (this.plan.window) {
      this.showStatic("absolute range", "paused");
    } else if (this.plan.live) {
      this.setStatus(this.api.state ?? "connecting");
      this.subscribe();
    } else if (this.route.refresh === "off") {
      this.showStatic("paused", "paused");
    } else {
      const every = refreshMs(this.route.refresh);
      this.showStatic(`every ${this.route.refresh}`, "polling");
      this.timer = setInterval(() => this.poll(), every);
    }
  }

  async poll() {
    const body = await this.read().catch((error) => ({ errors: [{ message: String(error) }] }));
    const dashboard = body.data?.dashboard;
    if (this.destroyed || !dashboard) return;
    if (dashboard.version !== this.version) {
      this.reload();
      return;
    }
    const errors = widgetErrors(body.errors);
    dashboard.widgets.forEach((widget, index) => this.widgets.get(widget.id)?.show(widget.data, errors.get(index)));
    document.body.dataset.lastUpdate = new Date().toISOString();
  }

  subscribe() {
    const { id } = this.route;
    this.unsubscribe = this.api.subscribe(
      UPDATES,
      { id, range: this.plan.timeRange, vars: this.variables() },
      {
        next: (message) => {
          const update = message.data?.dashboardUpdates;
          if (!update) return;
          if (update.version !== this.version) {
            this.reload();
            return;
          }
          update.widgets.forEach((item, index) => {
            const error = (message.errors ?? []).find(
              (e) => e.path?.[2] === index && e.path?.[3] === "data",
            );
            this.widgets.get(item.widgetId)?.show(item.data, error?.message);
          });
          document.body.dataset.lastUpdate = update.timestamp;
        },
        error: (error) => {
          console.error("live updates stopped", error);
          this.setStatus("offline");
        },
      },
    );
  }

  stopUpdates() {
    this.unsubscribe?.();
    this.unsubscribe = null;
    clearInterval(this.timer);
    this.timer = null;
  }

  async reload() {
    this.stopUpdates();
    await this.load();
  }

  destroyWidgets() {
    for (const view of this.widgets.values()) view.destroy();
    this.widgets.clear();
  }

  destroy() {
    this.destroyed = true;
    this.stopUpdates();
    this.destroyWidgets();
  }
}
