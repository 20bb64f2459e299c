// One dashboard: the grid of widgets, the time range and variable pickers, live updates.
import { element, interpolate } from "../format.js";
import { DASHBOARD, UPDATES } from "../queries.js";
import { editorHash } from "../router.js";
import { rendererFor } from "../widgets/index.js";

const RANGES = ["15m", "1h", "6h", "24h", "7d"];
const ROW_HEIGHT = 80;

// `#/d/<id>?range=6h&var.country=DE`
export function parseRoute(hash) {
  const [path, search = ""] = hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(search);
  const vars = {};
  for (const [key, value] of params) {
    if (key.startsWith("var.")) vars[key.slice(4)] = value;
  }
  return { id: decodeURIComponent(path.split("/")[2] ?? ""), range: params.get("range"), vars };
}

function routeOf(id, range, vars) {
  const params = new URLSearchParams();
  if (range) params.set("range", range);
  for (const [name, value] of Object.entries(vars)) if (value) params.set(`var.${name}`, value);
  const search = params.toString();
  return `#/d/${encodeURIComponent(id)}${search ? `?${search}` : ""}`;
}

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

class WidgetView {
  constructor(widget, variables) {
    this.widget = widget;
    this.renderer = null;
    this.typename = null;
    const p = widget.position;
    this.root = element("section", `widget widget-${widget.type.toLowerCase()}`);
    this.root.dataset.widgetId = widget.id;
    this.root.dataset.widgetType = widget.type;
    this.root.style.gridColumn = `${p.x + 1} / span ${p.w}`;
    this.root.style.gridRow = `${p.y + 1} / span ${p.h}`;
    this.title = element("h2", "widget-title", interpolate(widget.title, variables));
    this.body = element("div", "widget-body");
    this.error = element("p", "error widget-error");
    this.error.hidden = true;
    this.root.append(this.title, this.error, this.body);
  }

  show(data, error) {
    this.error.hidden = !error;
    this.error.textContent = error ?? "";
    if (!data) {
      this.root.dataset.state = "error";
      return;
    }
    if (this.typename !== data.__typename) {
      this.renderer?.destroy();
      this.body.replaceChildren();
      this.typename = data.__typename;
      this.renderer = rendererFor(data.__typename, this.body, this.widget);
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
    this.destroyed = false;
  }

  variables() {
    return Object.keys(this.route.vars).length ? this.route.vars : null;
  }

  async load() {
    const { id, range } = this.route;
    const body = await this.api.query(DASHBOARD, { id, range, vars: this.variables() });
    if (this.destroyed) return; // left while it loaded
    const dashboard = body.data?.dashboard;
    if (!dashboard) {
      const message = body.errors?.[0]?.message ?? "no such dashboard";
      this.app.replaceChildren(element("p", "error", message));
      return;
    }
    this.render(dashboard, widgetErrors(body.errors));
    this.subscribe();
  }

  render(dashboard, errors) {
    this.destroyWidgets();
    this.version = dashboard.version;
    const page = element("section", "dashboard");
    page.dataset.dashboardId = dashboard.id;
    const header = element("div", "dashboard-header");
    const title = element("h1", "", dashboard.name);
    const controls = element("div", "controls");
    controls.append(this.rangePicker(dashboard), ...this.variablePickers(dashboard));
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
    dashboard.widgets.forEach((widget, index) => {
      const view = new WidgetView(widget, dashboard.variables);
      this.widgets.set(widget.id, view);
      grid.append(view.root);
      // rendered once in the document, so charts know their size
      queueMicrotask(() => view.show(widget.data, errors.get(index)));
    });
    page.append(header, grid);
    this.app.replaceChildren(page);
  }

  rangePicker(dashboard) {
    const label = element("label", "picker", "Range ");
    const select = element("select");
    select.id = "time-range";
    const current = this.route.range ?? dashboard.timeRange;
    for (const range of new Set([...RANGES, dashboard.timeRange])) {
      const option = element("option", "", range);
      option.value = range;
      option.selected = range === current;
      select.append(option);
    }
    select.addEventListener("change", () => {
      window.location.hash = routeOf(this.route.id, select.value, this.route.vars);
    });
    label.append(select);
    return label;
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
        const vars = { ...this.route.vars, [variable.name]: select.value };
        window.location.hash = routeOf(this.route.id, this.route.range, vars);
      });
      label.append(select);
      return label;
    });
  }

  setStatus(state) {
    if (!this.status) return;
    this.status.textContent = state;
    this.status.dataset.state = state;
    document.body.dataset.live = state;
  }

  subscribe() {
    const { id, range } = this.route;
    this.unsubscribe = this.api.subscribe(
      UPDATES,
      { id, range, vars: this.variables() },
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

  async reload() {
    this.unsubscribe?.();
    await this.load();
  }

  destroyWidgets() {
    for (const view of this.widgets.values()) view.destroy();
    this.widgets.clear();
  }

  destroy() {
    this.destroyed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.destroyWidgets();
  }
}
