// The dashboard editor: panels on the grid (add, edit, duplicate, delete, move and
// resize), dashboard settings, save with optimistic concurrency, save as, delete,
// JSON export and import. Nothing is written until Save.
import { interpolate } from "../format.js";
import { Catalog } from "../editor/catalog.js";
import { enableLayoutEditing, positionPanel } from "../editor/grid.js";
import { download, fileName, importDialog } from "../editor/json-io.js";
import { freeSlot, place } from "../editor/layout.js";
import { DEFAULT_SIZES, assignIds, clone, draftFromJson, newWidgetId, querySummary, toInput } from "../editor/model.js";
import { dataKey, readPanelData } from "../editor/panel-data.js";
import { editPanel } from "../editor/panel-editor.js";
import { Conflict, create, currentVersion, readDraft, remove, save } from "../editor/persist.js";
import { editSettings } from "../editor/settings.js";
import { timeZone } from "../prefs.js";
import { dashboardHash, editorHash } from "../router.js";
import { choose, confirmDialog, formDialog } from "../ui/dialog.js";
import { field, h } from "../ui/dom.js";
import { resolveUnit } from "../units.js";
import { rendererFor } from "../widgets/index.js";

const ROW_HEIGHT = 80;

function newDraft() {
  return { id: null, version: null, name: "New dashboard", layout: "GRID", timeRange: "1h", variables: [], widgets: [] };
}

export class EditorView {
  constructor(app, api, route) {
    this.app = app;
    this.api = api;
    this.route = route;
    this.catalog = new Catalog(api);
    this.draft = null;
    this.saved = "";
    this.panels = new Map();
    this.drawn = new Map(); // widget id -> { key, data } as saved
    this.renderers = [];
    this.destroyed = false;
    this.warnOnUnload = (event) => {
      if (this.dirty()) event.preventDefault();
    };
  }

  async load() {
    this.draft = this.route.id ? await readDraft(this.api, this.route.id) : newDraft();
    if (this.destroyed) return; // left while it loaded
    this.markSaved(this.route.id !== null);
    window.addEventListener("beforeunload", this.warnOnUnload);
    this.render();
    this.readData();
  }

  // after the definition, so the editor opens without waiting for the data
  async readData() {
    if (this.draft.id === null) return;
    try {
      this.drawn = await readPanelData(this.api, this.draft);
      this.dataRead = true;
    } catch (error) {
      console.error("panel data", error);
      return;
    }
    if (!this.destroyed) this.renderPanels();
  }

  snapshot() {
    return JSON.stringify(toInput(this.draft));
  }

  markSaved(stored = true) {
    this.saved = stored ? this.snapshot() : "";
  }

  dirty() {
    return this.draft !== null && this.snapshot() !== this.saved;
  }

  // -- rendering -----------------------------------------------------------------

  render() {
    const button = (id, text, onClick, kind = "") => h("button", { type: "button", id, class: kind, onClick }, text);
    this.title = h("h1", { id: "editor-title" });
    this.status = h("span", { class: "editor-status", id: "editor-status", role: "status" });
    this.message = h("p", { class: "error", id: "editor-error", role: "alert" });
    const toolbar = h("div", { class: "controls editor-toolbar" },
      button("add-panel", "Add panel", () => this.addPanel(), "primary"),
      button("dashboard-settings-button", "Settings", () => this.settings()),
      button("save-dashboard", "Save", () => this.save(), "primary"),
      button("save-as", "Save as…", () => this.saveAs()),
      button("export-json", "Export JSON", () => this.exportJson()),
      button("edit-json", "JSON model", () => this.editJson()),
      button("delete-dashboard", "Delete", () => this.deleteDashboard(), "danger"),
      button("exit-editor", "Exit edit", () => this.exit()));
    this.grid = h("div", { class: "grid edit-grid", id: "edit-grid" });
    this.grid.style.gridAutoRows = `${ROW_HEIGHT}px`;
    enableLayoutEditing(this.grid, {
      rowHeight: ROW_HEIGHT,
      positions: () => this.positions(),
      show: (layout) => this.showLayout(layout),
      commit: (layout) => this.commitLayout(layout),
    });
    const page = h("section", { class: "dashboard editor", dataset: { dashboardId: this.draft.id ?? "" } },
      h("div", { class: "dashboard-header" }, h("div", {}, this.title, this.status), toolbar),
      h("p", { class: "hint" }, "Drag a panel by its title bar to move it and by its corner to resize it; on a focused panel, arrow keys move and Shift+arrows resize."),
      this.message, this.grid);
    this.app.replaceChildren(page);
    this.refresh();
  }

  refresh() {
    this.title.textContent = this.draft.name;
    this.renderPanels();
    this.updateStatus();
  }

  updateStatus() {
    const { id, version } = this.draft;
    const state = id === null ? "new" : this.dirty() ? "dirty" : "saved";
    this.status.dataset.state = state;
    this.status.dataset.version = version ?? "";
    this.status.textContent = { new: "New dashboard: not saved yet", dirty: `Unsaved changes (editing version ${version})`, saved: `Saved · version ${version}` }[state];
  }

  say(error) {
    this.message.textContent = error ? error.message ?? String(error) : "";
  }

  renderPanels() {
    this.panels.clear();
    for (const renderer of this.renderers) renderer.destroy();
    this.renderers = [];
    const draws = [];
    const values = this.draft.variables.map((v) => ({ name: v.name, value: v.default }));
    const nodes = this.draft.widgets.map((widget) => {
      const title = interpolate(widget.title, values) || "(title from the query)";
      const act = (icon, onClick, label) => h("button", { type: "button", class: "small icon", title: label, "aria-label": `${label} ${title}`, onClick }, icon);
      const node = h("section", {
        class: `widget edit-panel widget-${widget.type.toLowerCase()}`, tabIndex: 0,
        dataset: { widgetId: widget.id, widgetType: widget.type, title },
      },
      h("header", { class: "edit-panel-head", dataset: { drag: "move" }, title: "Drag to move" },
        h("span", { class: "grip", "aria-hidden": "true" }, "⠿"),
        h("h2", { class: "widget-title" }, title),
        h("span", { class: "badge" }, widget.type.toLowerCase()),
        h("span", { class: "panel-actions" },
          act("✎", () => this.editPanel(widget.id), "Edit"),
          act("❐", () => this.duplicate(widget.id), "Duplicate"),
          act("✕", () => this.deletePanel(widget.id), "Delete"))),
      h("p", { class: "panel-summary" }, querySummary(widget.query)));
      const saved = this.drawn.get(widget.id);
      if (saved && saved.key === dataKey(widget)) {
        const body = h("div", { class: "widget-body" });
        node.append(body);
        draws.push(() => {
          const metric = widget.query?.kind === "METRIC" ? widget.query.name : "";
          const unit = resolveUnit(widget.unit, metric);
          const view = { zone: timeZone(), unit, metric, thresholds: widget.thresholds };
          const renderer = rendererFor(saved.data.__typename, body, widget, view);
          renderer.update(saved.data);
          this.renderers.push(renderer);
        });
        node.dataset.state = "ready";
      } else if (this.draft.id === null || this.dataRead) {
        node.append(h("p", { class: "hint panel-unsaved" }, "Drawn once the dashboard is saved."));
      }
      node.append(h("div", { class: "resize-handle", dataset: { drag: "resize" }, title: "Drag to resize", "aria-hidden": "true" }));
      node.addEventListener("dblclick", (event) => {
        if (!event.target.closest("button")) this.editPanel(widget.id);
      });
      positionPanel(node, widget.position);
      this.panels.set(widget.id, node);
      return node;
    });
    if (nodes.length === 0) {
      nodes.push(h("p", { class: "empty edit-empty" }, "No panels yet: Add panel."));
    }
    // faint column guides under the panels, so snapping has something to snap to
    const guides = Array.from({ length: 12 }, (_, i) => h("div", { class: "grid-guide", style: { gridColumn: `${i + 1}`, gridRow: "1 / -1" }, "aria-hidden": "true" }));
    this.grid.replaceChildren(...guides, ...nodes);
    this.stretch(this.positions());
    // in the document first, so charts know their size
    for (const draw of draws) draw();
  }

  // room below the panels, so one can be dragged lower than the last
  stretch(layout) {
    const bottom = [...layout.values()].reduce((max, r) => Math.max(max, r.y + r.h), 0);
    this.grid.style.gridTemplateRows = `repeat(${bottom + 3}, ${ROW_HEIGHT}px)`;
  }

  positions() {
    return new Map(this.draft.widgets.map((w) => [w.id, { ...w.position }]));
  }

  showLayout(layout) {
    for (const [id, rect] of layout) {
      const node = this.panels.get(id);
      if (node) positionPanel(node, rect);
    }
    this.stretch(layout);
  }

  commitLayout(layout) {
    for (const widget of this.draft.widgets) widget.position = { ...layout.get(widget.id) };
    this.showLayout(layout);
    this.updateStatus();
  }

  // -- panels ----------------------------------------------------------------------

  widget(id) {
    return this.draft.widgets.find((w) => w.id === id);
  }

  async addPanel() {
    const [w, h] = DEFAULT_SIZES.CHART;
    const widget = {
      id: newWidgetId(new Set(this.draft.widgets.map((x) => x.id))), type: "CHART", title: "", style: "LINE",
      position: freeSlot(this.positions(), w, h), query: null,
    };
    const made = await editPanel({ widget, catalog: this.catalog, api: this.api, dashboard: this.draft, heading: "Add panel" });
    if (!made) return;
    this.draft.widgets.push(made);
    this.refresh();
  }

  async editPanel(id) {
    const widget = this.widget(id);
    const edited = await editPanel({ widget, catalog: this.catalog, api: this.api, dashboard: this.draft });
    if (!edited) return;
    Object.assign(widget, edited);
    this.refresh();
  }

  duplicate(id) {
    const original = this.widget(id);
    const copy = clone(original);
    copy.id = newWidgetId(new Set(this.draft.widgets.map((w) => w.id)));
    copy.title = original.title ? `${original.title} (copy)` : "";
    this.draft.widgets.splice(this.draft.widgets.indexOf(original) + 1, 0, copy);
    // right below the original; what it would cover moves down
    const { x, y, w, h } = original.position;
    this.commitLayout(place(this.positions(), copy.id, { x, y: y + h, w, h }));
    this.refresh();
  }

  async deletePanel(id) {
    const widget = this.widget(id);
    const ok = await confirmDialog("Delete panel", `Delete the panel "${widget.title || querySummary(widget.query)}"? It is gone once you save.`, "Delete panel", "danger");
    if (!ok) return;
    this.draft.widgets = this.draft.widgets.filter((w) => w.id !== id);
    this.refresh();
  }

  async settings() {
    const changed = await editSettings(this.draft, this.catalog);
    if (!changed) return;
    Object.assign(this.draft, changed);
    this.refresh();
  }

  // -- saving ----------------------------------------------------------------------

  async save(version = this.draft.version) {
    this.say(null);
    try {
      const saved = await save(this.api, this.draft, version);
      const created = this.draft.id === null;
      Object.assign(this.draft, { id: saved.id, version: saved.version });
      this.markSaved();
      // the new dashboard's own address, without leaving the editor
      if (created) history.replaceState(null, "", editorHash(saved.id));
      this.updateStatus();
      this.readData(); // changed panels can be drawn now
    } catch (error) {
      if (error instanceof Conflict) await this.conflict(error);
      else this.say(error);
    }
  }

  async conflict(error) {
    const newer = error.current ?? "a newer one";
    const choice = await choose({
      title: "This dashboard was changed elsewhere",
      body: h("div", {},
        h("p", { id: "conflict-message" }, `Someone saved this dashboard after you opened it: you started from version ${this.draft.version}, it is now at version ${newer}.`),
        h("p", {}, "Reload it to see their version (your unsaved changes are lost), or overwrite theirs with yours.")),
      id: "conflict-dialog",
      actions: [
        { label: "Cancel", value: "cancel" },
        { label: "Reload (discard my changes)", value: "reload", kind: "danger" },
        { label: "Overwrite with mine", value: "overwrite", kind: "primary" },
      ],
    });
    if (choice === "reload") {
      this.draft = await readDraft(this.api, this.draft.id);
      this.markSaved();
      this.refresh();
    } else if (choice === "overwrite") {
      await this.save(error.current ?? (await currentVersion(this.api, this.draft.id)));
    }
  }

  async saveAs() {
    const name = h("input", { id: "save-as-name", value: `${this.draft.name} (copy)`, required: true, autocomplete: "off" });
    const created = await formDialog({
      title: "Save as a new dashboard", content: field("Title", name), submitLabel: "Save as new", id: "save-as-dialog",
      submit: () => {
        if (!name.value.trim()) throw new Error("The new dashboard needs a title.");
        return create(this.api, { ...toInput(this.draft), name: name.value.trim() });
      },
    });
    if (!created) return;
    this.saved = this.snapshot(); // the copy holds the edits: leave without asking
    window.location.hash = editorHash(created.id);
  }

  async deleteDashboard() {
    if (this.draft.id === null) {
      this.saved = this.snapshot();
      window.location.hash = "#/";
      return;
    }
    const ok = await confirmDialog("Delete dashboard", `Delete "${this.draft.name}" for everyone? This cannot be undone.`, "Delete dashboard", "danger");
    if (!ok) return;
    try {
      await remove(this.api, this.draft.id);
      this.saved = this.snapshot();
      window.location.hash = "#/";
    } catch (error) {
      this.say(error);
    }
  }

  exportJson() {
    download(fileName(this.draft.name), `${JSON.stringify(toInput(this.draft), null, 2)}\n`);
  }

  // The definition as JSON (DashboardInput), edited in place
  async editJson() {
    const next = await importDialog({
      title: "JSON model", submitLabel: "Apply to this dashboard", id: "json-model",
      initial: JSON.stringify(toInput(this.draft), null, 2),
      extra: h("p", { class: "hint" }, "The shape updateDashboard takes. Apply replaces this editor's dashboard; Save writes it."),
      accept: (parsed) => draftFromJson(parsed),
    });
    if (!next) return;
    assignIds(next.widgets);
    Object.assign(this.draft, { name: next.name, layout: next.layout, timeRange: next.timeRange, variables: next.variables, widgets: next.widgets });
    this.refresh();
  }

  exit() {
    window.location.hash = this.draft.id ? dashboardHash(this.draft.id) : "#/";
  }

  async confirmLeave() {
    if (!this.dirty()) return true;
    return confirmDialog("Unsaved changes", "Leave the editor and lose your unsaved changes?", "Discard changes", "danger");
  }

  destroy() {
    this.destroyed = true;
    for (const renderer of this.renderers) renderer.destroy();
    window.removeEventListener("beforeunload", this.warnOnUnload);
  }
}
