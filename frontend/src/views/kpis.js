// KPIs: the list with readings over a range, and the form.
import { GatewayError, run } from "../graphql.js";
import { renderKpiForm } from "../kpis/form.js";
import { renderKpis } from "../kpis/list.js";
import { KPIS } from "../kpis/queries.js";
import { h } from "../ui/dom.js";

export class KpisView {
  constructor(app, api, route) {
    this.app = app;
    this.api = api;
    this.route = route;
  }

  async load() {
    const { id, action, params } = this.route;
    const content = h("section", { class: "kpis-page", id: "kpis-page" });
    this.app.replaceChildren(content);
    if (id === "new") return renderKpiForm(content, this.api);
    if (id && action === "edit") {
      const kpi = ((await run(this.api, KPIS)).kpis ?? []).find((k) => k.id === id);
      if (!kpi) throw new GatewayError(`No KPI ${id}.`, "NOT_FOUND");
      return renderKpiForm(content, this.api, kpi);
    }
    return renderKpis(content, this.api, params);
  }
}
