// The tenant's dashboards, with New dashboard and Import JSON.
import { create } from "../editor/persist.js";
import { importDialog } from "../editor/json-io.js";
import { inputFromJson } from "../editor/model.js";
import { element } from "../format.js";
import { CREATE_REALTIME, DASHBOARDS } from "../queries.js";
import { editorHash } from "../router.js";
import { h } from "../ui/dom.js";

async function importDashboard(api) {
  const created = await importDialog({
    title: "Import a dashboard",
    submitLabel: "Import",
    extra: h("p", { class: "hint" }, "A dashboard's JSON as exported (the DashboardInput of the GraphQL schema), or as the dashboard query returns it. It is saved as a new dashboard."),
    accept: (parsed) => create(api, inputFromJson(parsed)),
  });
  if (created) window.location.hash = editorHash(created.id);
}

export async function renderList(app, api) {
  const body = await api.query(DASHBOARDS);
  const section = element("section", "dashboard-list");
  const tenant = body.data?.viewer?.tenant ?? "";
  const actions = h("div", { class: "controls" },
    h("a", { class: "button primary", href: "#/new", id: "new-dashboard" }, "New dashboard"),
    h("button", { type: "button", id: "import-dashboard", onClick: () => importDashboard(api) }, "Import JSON"));
  section.append(
    h("div", { class: "dashboard-header" }, element("h1", "", `Dashboards${tenant ? ` of ${tenant}` : ""}`), actions),
  );
  const dashboards = body.data?.dashboards ?? [];
  if (dashboards.length === 0) {
    section.append(
      element("p", "hint", "No dashboards yet. Start a new one, or create one from presets."),
    );
    const create = element("button", "primary", "Create a realtime dashboard");
    const message = element("p", "error");
    create.addEventListener("click", async () => {
      const created = await api.query(CREATE_REALTIME);
      if (created.errors) {
        message.textContent = created.errors[0].message;
        return;
      }
      window.location.hash = `#/d/${created.data.createRealtimeDashboard.id}`;
    });
    section.append(create, message);
  }
  const list = element("ul", "cards");
  for (const dashboard of dashboards) {
    const item = element("li", "card");
    const link = element("a", "", dashboard.name);
    link.href = `#/d/${encodeURIComponent(dashboard.id)}`;
    const meta = element(
      "span",
      "meta",
      `${dashboard.widgets.length} widgets · ${dashboard.timeRange} · v${dashboard.version}`,
    );
    const edit = h("a", { href: editorHash(dashboard.id), class: "meta", title: "Edit this dashboard" }, "edit");
    item.append(link, h("span", { class: "card-meta" }, meta, edit));
    list.append(item);
  }
  section.append(list);
  app.replaceChildren(section);
  if (body.errors && !body.data?.dashboards) throw new Error(body.errors[0].message);
}
