// Create or edit a report: KPIs and recipients picked from the tenant's, panels as
// metric + aggregation + groupBy, a period and a schedule (the server's word on a
// schedule it cannot read is shown under the field).
import { GatewayError, run } from "../graphql.js";
import { field, h, select } from "../ui/dom.js";
import { reportHash } from "./list.js";
import { AGGREGATIONS, FormProblem, MAX_PANELS, PERIODS, panelRows, reportInput } from "./model.js";
import { CREATE_REPORT, REPORT_CHOICES, UPDATE_REPORT } from "./queries.js";

const SCHEDULE_HINT = 'e.g. "every day 07:30 UTC", "every Monday 08:00 Europe/Paris", "every month on day 1 09:00 America/New_York"; blank: on demand';

function checkboxes(id, items, chosen, empty) {
  const box = h("div", { id, class: "checkboxes" });
  if (items.length === 0) box.append(h("small", { class: "hint" }, empty));
  for (const item of items) {
    box.append(h("label", { class: "check" },
      h("input", { type: "checkbox", value: item.id, checked: chosen.includes(item.id) }), ` ${item.label}`));
  }
  return box;
}

function panelRow(row, onRemove) {
  const metric = h("input", { class: "panel-metric", value: row.metric ?? "", list: "report-metric-names", autocomplete: "off", placeholder: "metric", "aria-label": "Metric" });
  const aggregation = select(AGGREGATIONS, row.aggregation ?? "SUM", { class: "panel-aggregation", "aria-label": "Aggregation" });
  const groupBy = h("input", { class: "panel-group-by", value: row.groupBy ?? "", autocomplete: "off", placeholder: "group by, e.g. country", "aria-label": "Group by" });
  const title = h("input", { class: "panel-title", value: row.title ?? "", autocomplete: "off", placeholder: "title (default: metric)", "aria-label": "Title" });
  const node = h("div", { class: "panel-row" }, metric, aggregation, groupBy, title,
    h("button", { type: "button", class: "small danger", "aria-label": "Remove panel", onClick: () => onRemove(node) }, "Remove"));
  node.read = () => ({ metric: metric.value, aggregation: aggregation.value, groupBy: groupBy.value, title: title.value, labels: row.labels ?? null });
  return node;
}

export async function renderReportForm(root, api, report = null) {
  const choices = await run(api, REPORT_CHOICES);
  const kpis = choices.kpis ?? [];
  const channels = (choices.channels ?? []).filter((c) => c.kind === "EMAIL" || c.kind === "WEBHOOK");
  const metrics = choices.metricNames ?? [];

  const name = h("input", { id: "report-name", value: report?.name ?? "", required: true, autocomplete: "off" });
  const kpiBoxes = checkboxes("report-kpis", kpis.map((k) => ({ id: k.id, label: k.name })), report?.kpis ?? [],
    "No KPIs yet: make them on the KPIs page.");
  const recipientBoxes = checkboxes("report-recipients",
    channels.map((c) => ({ id: c.id, label: `${c.name} (${c.kind.toLowerCase()})` })), report?.recipients ?? [],
    "No email or webhook contact points yet (Alerting › Contact points).");
  const datalist = h("datalist", { id: "report-metric-names" }, ...metrics.map((m) => h("option", { value: m })));
  const panels = h("div", { id: "report-panels", class: "panel-rows" });
  const addPanel = h("button", { type: "button", id: "add-panel", class: "small" }, "Add panel");
  const remove = (node) => {
    node.remove();
    addPanel.disabled = panels.children.length >= MAX_PANELS;
  };
  const add = (row) => {
    panels.append(panelRow(row, remove));
    addPanel.disabled = panels.children.length >= MAX_PANELS;
  };
  addPanel.addEventListener("click", () => add({}));
  for (const row of panelRows(report)) add(row);
  if (!report) add({});
  const period = select(PERIODS.map((p) => [p, p.toLowerCase()]), report?.period ?? "WEEK", { id: "report-period" });
  const schedule = h("input", { id: "report-schedule", value: report?.schedule ?? "", autocomplete: "off", placeholder: "every Monday 08:00 UTC" });
  const scheduleError = h("small", { class: "error", id: "report-schedule-error", role: "alert" });
  const message = h("p", { class: "error", id: "report-error", role: "alert" });
  const checked = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);

  const form = h("form", { class: "report-form", id: "report-form" },
    field("Name", name),
    h("fieldset", {}, h("legend", { class: "field-label" }, "KPIs"), kpiBoxes),
    h("fieldset", {}, h("legend", { class: "field-label" }, `Panels (metric, aggregation, group by; at most ${MAX_PANELS})`),
      panels, addPanel, datalist),
    h("div", { class: "row" }, field("Period", period),
      h("label", { class: "field schedule-field" }, h("span", { class: "field-label" }, "Schedule"), schedule,
        h("small", { class: "hint" }, SCHEDULE_HINT), scheduleError)),
    h("fieldset", {}, h("legend", { class: "field-label" }, "Recipients (sent on the schedule)"), recipientBoxes),
    message,
    h("div", { class: "modal-actions" },
      h("a", { class: "button", href: report ? reportHash(report.id) : "#/reports" }, "Cancel"),
      h("button", { type: "submit", class: "primary", id: "save-report" }, report ? "Save report" : "Create report")));
  schedule.addEventListener("input", () => { scheduleError.textContent = ""; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    scheduleError.textContent = "";
    try {
      const input = reportInput({
        name: name.value, kpis: checked(kpiBoxes), panels: [...panels.children].map((row) => row.read()),
        period: period.value, schedule: schedule.value, recipients: checked(recipientBoxes),
      });
      const saved = report
        ? (await run(api, UPDATE_REPORT, { id: report.id, version: report.version, input })).updateReport
        : (await run(api, CREATE_REPORT, { input })).createReport;
      window.location.hash = reportHash(saved.id);
    } catch (error) {
      const field = error instanceof FormProblem ? error.field
        : error instanceof GatewayError && error.code === "BAD_USER_INPUT" ? error.extensions.field : null;
      if (field === "schedule") {
        scheduleError.textContent = error.message;
        schedule.focus();
      } else if (error instanceof GatewayError && error.code === "CONFLICT") {
        message.textContent = "Someone changed this report since you opened it: reload the page to edit their version.";
      } else {
        message.textContent = error.message;
      }
    }
  });

  root.replaceChildren(h("h1", {}, report ? `Edit ${report.name}` : "New report"), form);
  name.focus();
}
