// The tenant's dashboards.
import { element } from "../format.js";
import { CREATE_REALTIME, DASHBOARDS } from "../queries.js";

export async function renderList(app, api) {
  const body = await api.query(DASHBOARDS);
  const section = element("section", "dashboard-list");
  const tenant = body.data?.viewer?.tenant ?? "";
  section.append(element("h1", "", `Dashboards${tenant ? ` of ${tenant}` : ""}`));
  const dashboards = body.data?.dashboards ?? [];
  if (dashboards.length === 0) {
    section.append(
      element("p", "hint", "No dashboards yet. Create one from presets, or with createCustomDashboard in GraphiQL."),
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
    item.append(link, meta);
    list.append(item);
  }
  section.append(list);
  app.replaceChildren(section);
  if (body.errors && !body.data?.dashboards) throw new Error(body.errors[0].message);
}
