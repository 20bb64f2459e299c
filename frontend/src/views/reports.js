// Reports: the list, one report (generate, preview, PDF), and the form.
import { run } from "../graphql.js";
import { renderReport } from "../reports/detail.js";
import { renderReportForm } from "../reports/form.js";
import { renderReports } from "../reports/list.js";
import { REPORT } from "../reports/queries.js";
import { h } from "../ui/dom.js";

export class ReportsView {
  constructor(app, api, route) {
    this.app = app;
    this.api = api;
    this.route = route;
  }

  async load() {
    const { id, action } = this.route;
    const content = h("section", { class: "reports-page", id: "reports-page" });
    this.app.replaceChildren(content);
    if (id === "new") return renderReportForm(content, this.api);
    if (id && action === "edit") {
      const report = (await run(this.api, REPORT, { id })).report;
      return renderReportForm(content, this.api, report);
    }
    if (id) return renderReport(content, this.api, id);
    return renderReports(content, this.api);
  }

  // a PDF's blob URL is released with the page
  destroy() {
    const link = this.app.querySelector("#report-pdf-link");
    if (link?.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  }
}
