// One dashboard: the grid of widgets, the time range (relative, or absolute from/to),
// refresh (live, paused, or every n), time zone and variable pickers.
// The address holds the range, refresh, variables and the panel shown full screen (see
// time.js); dragging across a chart sets an absolute range there. Each panel's menu
// inspects its query and response, exports its data as CSV, or shows it full screen.
import { csvFileName, panelCsv } from "../csv.js";
import { download } from "../editor/json-io.js";
import { element, interpolate } from "../format.js";
import { setTimeZone, timeZone } from "../prefs.js";
import { DASHBOARD, UPDATES } from "../queries.js";
import { editorHash } from "../router.js";
import {
  RANGES, REFRESH, dateTime, durationMs, fromInputValue, plan, rangeProblem, refreshMs, routeOf, toInputValue, zoneLabel,
} from "../time.js";
import { choose } from "../ui/dialog.js";
import { h, select } from "../ui/dom.js";
import { resolveUnit } from "../units.js";
import { rendererFor } from "../widgets/index.js";

const ROW_HEIGHT = 80;
const REFRESH_TEXT = { live: "live", off: "paused" };

// The errors of each widget of an answer, by index: [{ message, extensions, path }]
function widgetErrors(errors) {
  const byIndex = new Map();
  for (const error of errors ?? []) {
    const path = error.path ?? [];
    if (path[0] === "dashboard" && path[1] === "widgets" && typeof path[2] === "number") {
      byIndex.set(path[2], [...(byIndex.get(path[2]) ?? []), error]);
    }
  }
  return byIndex;
}

// One panel's part of an answer: its object, and its errors when it has any.
function panelResponse(widget, errors) {
  return errors?.length ? { data: widget, errors } : { data: widget };
}

// The metric a widget's unit is detected from: its metric (not a formula's parts).
function metricOf(widget, data) {
  if (widget.query?.kind === "METRIC") return widget.query.name;
  if (widget.query) return "";
  return data?.series?.[0]?.name ?? data?.history?.name ?? data?.rows?.[0]?.name ?? "";
}

const pretty = (value) => JSON.stringify(value, null, 2);

class WidgetView {
  constructor(widget, variables, board) {
    this.widget = widget;
    this.board = board;
    this.renderer = null;
    this.typename = null;
    this.data = null;
    this.response = null; // the panel's part of the last answer, as the gateway sent it
    const p = widget.position;
    this.root = element("section", `widget widget-${widget.type.toLowerCase()}`);
    this.root.dataset.widgetId = widget.id;
    this.root.dataset.widgetType = widget.type;
    this.root.style.gridColumn = `${p.x + 1} / span ${p.w}`;
    this.root.style.gridRow = `${p.y + 1} / span ${p.h}`;
    this.title = element("h2", "widget-title", interpolate(widget.title, variables));
    this.unit = widget.unit ? widget.unit.toLowerCase() : null; // null: detected
    this.body = element("div", "widget-body");
    this.error = element("p", "error widget-error");
    this.error.hidden = true;
    this.root.append(h("div", { class: "widget-head" }, this.title, this.menu()), this.error, this.body);
  }

  menu() {
    const label = this.title.textContent;
    const item = (text, action, name) => h("button", {
      type: "button", role: "menuitem", class: `panel-menu-item panel-menu-${name}`,
      onClick: () => {
        list.hidden = true;
        action();
      },
    }, text);
    const list = h("div", { class: "panel-menu-list", role: "menu", hidden: true },
      item("Inspect query", () => this.inspect(), "inspect"),
      item("Export CSV", () => this.exportCsv(), "csv"),
      this.board.fullScreen === this.widget.id
        ? item("Exit full screen", () => this.board.go({ view: null }), "exit")
        : item("View full screen", () => this.board.go({ view: this.widget.id }), "fullscreen"));
    const toggle = h("button", {
      type: "button", class: "small icon panel-menu-toggle", title: "Panel menu", "aria-label": `Menu of ${label}`,
      "aria-haspopup": "menu",
      onClick: () => {
        list.hidden = !list.hidden;
      },
    }, "⋮");
    this.root.addEventListener("focusout", (event) => {
      if (!this.root.contains(event.relatedTarget)) list.hidden = true;
    });
    const close = this.board.fullScreen === this.widget.id
      ? h("button", { type: "button", class: "small panel-exit-fullscreen", title: "Back to the dashboard (Esc)", onClick: () => this.board.go({ view: null }) }, "Exit full screen")
      : null;
    return h("div", { class: "panel-menu" }, close, toggle, list);
  }

  inspect() {
    const section = (title, id, text) => h("section", { class: "inspect-section" },
      h("h3", {}, title), h("pre", { id, class: "inspect-code" }, text));
    const request = this.board.request();
    const body = h("div", { class: "inspect" },
      section("GraphQL query", "inspect-query", request.query.trim()),
      section("Variables", "inspect-variables", pretty(request.variables)),
      section("Panel query", "inspect-panel-query", pretty(this.widget.query ?? null)),
      section("Response (this panel)", "inspect-response", pretty(this.response ?? null)));
    return choose({
      title: `Inspect: ${this.title.textContent}`, body, id: "inspect-dialog", className: "modal-wide",
      actions: [{ label: "Close", value: null }],
    });
  }

  exportCsv() {
    const csv = panelCsv(this.data, this.title.textContent);
    if (csv === null) {
      this.error.hidden = false;
      this.error.textContent = "This panel has no series to export.";
      return;
    }
    download(csvFileName(this.title.textContent), csv, "text/csv");
  }

  view(data) {
    const metric = metricOf(this.widget, data);
    const unit = resolveUnit(this.unit, metric);
    this.root.dataset.unit = unit;
    return { ...this.board.view, unit, metric, thresholds: this.widget.thresholds ?? [] };
  }

  show(data, error, response) {
    if (response !== undefined) this.response = response;
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
    this.onKey = (event) => {
      if (event.key === "Escape" && this.route.view && !document.querySelector("dialog[open]")) this.go({ view: null });
    };
  }

  variables() {
    return Object.keys(this.route.vars).length ? this.route.vars : null;
  }

  go(changes) {
    const { range, from, to, refresh, view } = { ...this.route, ...changes };
    window.location.hash = routeOf(this.route.id, { range, from, to, refresh, view }, changes.vars ?? this.route.vars);
  }

  // What the dashboard is read with: a relative range, or the absolute from/to.
  request() {
    const { timeRange, from, to } = this.plan;
    return { query: DASHBOARD, variables: { id: this.route.id, range: timeRange, from, to, vars: this.variables() } };
  }

  async read() {
    this.plan = plan(this.route);
    const { query, variables } = this.request();
    return this.api.query(query, variables);
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
    const fullScreen = dashboard.widgets.some((w) => w.id === this.route.view) ? this.route.view : null;
    const board = {
      id: dashboard.id, view: this.view, fullScreen,
      go: (changes) => this.go(changes), request: () => this.request(),
    };
    dashboard.widgets.forEach((widget, index) => {
      const view = new WidgetView(widget, dashboard.variables, board);
      this.widgets.set(widget.id, view);
      grid.append(view.root);
      const failed = errors.get(index);
      // rendered once in the document, so charts know their size
      queueMicrotask(() => view.show(widget.data, failed?.[0]?.message, panelResponse(widget, failed)));
    });
    page.append(header);
    if (this.plan.window) {
      const { from, to } = this.plan.window;
      page.append(element("p", "hint range-note",
        `Every panel shows ${dateTime(from, this.zone)} to ${dateTime(to, this.zone)} (${zoneLabel(this.zone)}); an absolute range does not move.`));
    }
    page.append(grid);
    if (fullScreen) {
      this.widgets.get(fullScreen).root.classList.add("fullscreen");
      document.body.dataset.fullscreen = fullScreen;
    } else {
      delete document.body.dataset.fullscreen;
    }
    document.removeEventListener("keydown", this.onKey);
    document.addEventListener("keydown", this.onKey);
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
    dashboard.widgets.forEach((widget, index) => {
      const failed = errors.get(index);
      this.widgets.get(widget.id)?.show(widget.data, failed?.[0]?.message, panelResponse(widget, failed));
    });
    document.body.dataset.lastUpdate = new Date().toISOString();
  }

  subscribe() {
    const { id } = this.route;
    this.unsubscribe = this.api.subscribe(
      UPDATES,
      { id, range: this.plan.timeRange, from: this.plan.from, to: this.plan.to, vars: this.variables() },
      {
        next: (message) => {
          const update = message.data?.dashboardUpdates;
          if (!update) return;
          if (update.version !== this.version) {
            this.reload();
            return;
          }
          update.widgets.forEach((item, index) => {
            const failed = (message.errors ?? []).filter(
              (e) => e.path?.[2] === index && e.path?.[3] === "data",
            );
            this.widgets.get(item.widgetId)?.show(item.data, failed[0]?.message, panelResponse(item, failed));
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
    document.removeEventListener("keydown", this.onKey);
    delete document.body.dataset.fullscreen;
    this.stopUpdates();
    this.destroyWidgets();
  }
}
