// The tenant's reports: period, schedule, recipients, next run; each opens to
// generate, edit or delete.
import { run } from "../graphql.js";
import { confirmDialog } from "../ui/dialog.js";
import { formatDateTime, h } from "../ui/dom.js";
import { namesOf, scheduleText } from "./model.js";
import { DELETE_REPORT, REPORTS } from "./queries.js";

export const reportHash = (id, action) => `#/reports/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;

export async function renderReports(root, api) {
  const body = h("tbody");
  const message = h("p", { class: "error", role: "alert", id: "reports-error" });
  const table = h("table", { class: "summary-table reports-table", id: "reports" },
    h("thead", {}, h("tr", {}, ...["report", "period", "contents", "schedule", "recipients", "next run", ""].map((c) => h("th", {}, c)))),
    body);
  root.replaceChildren(
    h("div", { class: "dashboard-header" }, h("h1", {}, "Reports"),
      h("div", { class: "controls" },
        h("a", { class: "button", href: "#/kpis" }, "KPIs"),
        h("a", { class: "button primary", href: "#/reports/new", id: "new-report" }, "New report"))),
    message, table);

  async function refresh() {
    let data;
    try {
      data = await run(api, REPORTS);
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    message.textContent = "";
    const reports = data.reports ?? [];
    body.replaceChildren(...reports.map((report) => {
      const remove = h("button", {
        type: "button", class: "small danger", "aria-label": `Delete ${report.name}`,
        onClick: async () => {
          if (!(await confirmDialog("Delete report", `Delete "${report.name}"? Its schedule stops.`, "Delete report", "danger"))) return;
          await run(api, DELETE_REPORT, { id: report.id }).catch((error) => { message.textContent = error.message; });
          refresh();
        },
      }, "Delete");
      const kpis = namesOf(report.kpis, data.kpis);
      const contents = [
        kpis.length ? `KPIs: ${kpis.join(", ")}` : null,
        report.panels.length ? `panels: ${report.panels.map((p) => p.title || p.metric).join(", ")}` : null,
      ].filter(Boolean).join(" · ");
      return h("tr", { dataset: { reportId: report.id, report: report.name } },
        h("td", {}, h("a", { href: reportHash(report.id) }, report.name)),
        h("td", {}, report.period.toLowerCase()),
        h("td", { class: "hint" }, contents),
        h("td", { class: "mono" }, scheduleText(report)),
        h("td", {}, namesOf(report.recipients, data.channels).join(", ") || h("span", { class: "hint" }, "none")),
        h("td", {}, report.nextRunAt ? formatDateTime(report.nextRunAt) : "–"),
        h("td", { class: "actions" },
          h("a", { class: "button small", href: reportHash(report.id) }, "Generate"), " ",
          h("a", { class: "button small", href: reportHash(report.id, "edit") }, "Edit"), " ", remove));
    }));
    if (reports.length === 0) body.append(h("tr", {}, h("td", { colSpan: 7, class: "hint" }, "No reports yet.")));
    table.dataset.updatedAt = String(Date.now());
  }

  await refresh();
}
