// One report: what it holds, and Generate over its last period or from/to. The
// result shows the KPI table, the insights (rendered here from their records) and
// the report's own HTML in a sandboxed frame (srcdoc, no scripts, no same origin).
// Download PDF fetches the REST route with the credential in the Authorization
// header and saves the answer through a blob URL: the key never enters a URL.
import { run } from "../graphql.js";
import { confirmDialog } from "../ui/dialog.js";
import { field, formatDateTime, h, select } from "../ui/dom.js";
import { formatChange } from "../format.js";
import { formatValue } from "../units.js";
import { reportHash } from "./list.js";
import { generateVariables, namesOf, pdfPath, scheduleText } from "./model.js";
import { DELETE_REPORT, GENERATE_REPORT, REPORT, REPORTS } from "./queries.js";

const STATUS_TEXT = { ON_TARGET: "on target", OFF_TARGET: "off target", NO_TARGET: "no target", NO_DATA: "no data" };
const unitOf = (unit) => (unit ? String(unit).toLowerCase() : "none");

function kpiTable(kpis) {
  const rows = kpis.map((kpi) => h("tr", { dataset: { kpi: kpi.name, status: kpi.status } },
    h("td", {}, kpi.name),
    h("td", { class: "num" }, formatValue(kpi.value, unitOf(kpi.unit))),
    h("td", { class: "num" }, formatValue(kpi.previous, unitOf(kpi.unit))),
    h("td", { class: "num" }, formatChange(kpi.change) || "–"),
    h("td", { class: "num" }, kpi.target === null ? "–" : formatValue(kpi.target, unitOf(kpi.unit))),
    h("td", {}, h("span", { class: `kpi-status status-${kpi.status.toLowerCase()}` }, STATUS_TEXT[kpi.status] ?? kpi.status))));
  if (rows.length === 0) rows.push(h("tr", {}, h("td", { colSpan: 6, class: "hint" }, "This report has no KPIs.")));
  return h("table", { class: "summary-table", id: "report-kpi-values" },
    h("thead", {}, h("tr", {}, ...["KPI", "value", "previous", "change", "target", "status"].map((c) => h("th", {}, c)))),
    h("tbody", {}, rows));
}

function insightList(insights) {
  // the sentence names its subject already; the subject is kept as data
  const items = insights.map((insight) => h("li", { dataset: { kind: insight.kind, subject: insight.subject } },
    h("span", { class: `insight-kind kind-${insight.kind.toLowerCase()}` }, insight.kind.replaceAll("_", " ").toLowerCase()),
    h("span", { class: "insight-sentence" }, insight.sentence)));
  if (items.length === 0) items.push(h("li", { class: "hint" }, "Nothing stood out over this period."));
  return h("ul", { class: "insights", id: "report-insights" }, items);
}

// The PDF, read with the credential and offered as a download from a blob URL.
async function downloadPdf(api, id, generated, link) {
  const response = await fetch(new URL(pdfPath(id, generated), window.location.href), {
    headers: { authorization: `Bearer ${api.credential()}`, accept: "application/pdf" },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.errors?.[0]?.message ?? `HTTP ${response.status}`);
  }
  const blob = await response.blob();
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = `report-${id}-${generated.from.slice(0, 10)}.pdf`;
  link.dataset.bytes = String(blob.size);
  link.hidden = false;
  link.click();
}

export async function renderReport(root, api, id) {
  const [{ report }, { kpis, channels }] = await Promise.all([run(api, REPORT, { id }), run(api, REPORTS)]);
  const message = h("p", { class: "error", role: "alert", id: "report-error" });
  const remove = h("button", {
    type: "button", class: "danger", id: "delete-report",
    onClick: async () => {
      if (!(await confirmDialog("Delete report", `Delete "${report.name}"? Its schedule stops.`, "Delete report", "danger"))) return;
      try {
        await run(api, DELETE_REPORT, { id });
        window.location.hash = "#/reports";
      } catch (error) {
        message.textContent = error.message;
      }
    },
  }, "Delete");
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Period"), h("dd", {}, report.period.toLowerCase()),
    h("dt", {}, "Schedule"), h("dd", { class: "mono" }, scheduleText(report)),
    h("dt", {}, "Next run"), h("dd", {}, report.nextRunAt ? formatDateTime(report.nextRunAt) : "–"),
    h("dt", {}, "KPIs"), h("dd", {}, namesOf(report.kpis, kpis).join(", ") || "–"),
    h("dt", {}, "Panels"), h("dd", {}, report.panels.map((p) =>
      `${p.title || p.metric} (${p.aggregation.toLowerCase()}${p.groupBy?.length ? ` by ${p.groupBy.join(", ")}` : ""})`).join("; ") || "–"),
    h("dt", {}, "Recipients"), h("dd", {}, namesOf(report.recipients, channels).join(", ") || "–"));

  const windowChoice = select([["last", "Last complete period"], ["range", "From / to (UTC)"]], "last", { id: "generate-window" });
  const from = h("input", { type: "datetime-local", id: "generate-from" });
  const to = h("input", { type: "datetime-local", id: "generate-to" });
  const range = h("div", { class: "row", hidden: true }, field("From (UTC)", from), field("To (UTC)", to));
  windowChoice.addEventListener("change", () => { range.hidden = windowChoice.value !== "range"; });
  const generate = h("button", { type: "button", class: "primary", id: "generate-report" }, "Generate");
  const result = h("section", { class: "report-result", id: "report-result", dataset: { state: "idle" } });

  generate.addEventListener("click", async () => {
    message.textContent = "";
    let variables;
    try {
      variables = generateVariables(id, { window: windowChoice.value, from: from.value, to: to.value });
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    generate.disabled = true;
    result.dataset.state = "loading";
    result.replaceChildren(h("p", { class: "hint" }, "Generating… (reads the period and the four before it)"));
    try {
      const generated = (await run(api, GENERATE_REPORT, variables)).generateReport;
      showResult(generated);
      result.dataset.state = "ready";
    } catch (error) {
      result.dataset.state = "error";
      result.replaceChildren(h("p", { class: "error" }, error.message));
    } finally {
      generate.disabled = false;
    }
  });

  function showResult(generated) {
    const link = h("a", { class: "button small", id: "report-pdf-link", hidden: true }, "Save the PDF again");
    const pdfError = h("small", { class: "error", id: "report-pdf-error", role: "alert" });
    const download = h("button", { type: "button", id: "download-pdf" }, "Download PDF");
    download.addEventListener("click", async () => {
      download.disabled = true;
      pdfError.textContent = "";
      try {
        await downloadPdf(api, id, generated, link);
      } catch (error) {
        pdfError.textContent = error.message;
      } finally {
        download.disabled = false;
      }
    });
    // the report's HTML in a frame with every sandbox restriction: no scripts, no
    // forms, an opaque origin (its inline styles and SVG still show)
    const frame = h("iframe", { class: "report-preview", id: "report-preview", title: `${generated.name}: preview`, sandbox: "", srcdoc: generated.html });
    result.replaceChildren(
      h("div", { class: "dashboard-header" },
        h("h2", { id: "report-period-text" }, generated.periodText),
        h("div", { class: "controls" }, download, link, pdfError)),
      h("p", { class: "hint" }, `Compared with ${formatDateTime(generated.previousFrom)} to ${formatDateTime(generated.previousTo)}; PDF ${Math.ceil(generated.pdfBytes / 1024)} KiB`),
      h("h3", {}, "KPIs"), kpiTable(generated.kpis),
      h("h3", {}, "Insights"), insightList(generated.insights),
      h("h3", {}, "Preview"), frame);
  }

  root.replaceChildren(
    h("div", { class: "dashboard-header" }, h("h1", {}, report.name),
      h("div", { class: "controls" },
        h("a", { class: "button", href: "#/reports" }, "All reports"),
        h("a", { class: "button", href: reportHash(id, "edit"), id: "edit-report" }, "Edit"), remove)),
    message, facts,
    h("div", { class: "row generate-controls" }, field("Generate over", windowChoice), range, generate),
    result);
}
