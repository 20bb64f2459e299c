// The tenant's KPIs with their value, change and status over a chosen range; each
// edited, deleted, or made into an alert rule firing while it is off target.
import { formatChange } from "../format.js";
import { run } from "../graphql.js";
import { confirmDialog, formDialog } from "../ui/dialog.js";
import { field, h, select } from "../ui/dom.js";
import { formatValue } from "../units.js";
import { RANGES, changeIsGood, unitName } from "./model.js";
import { CREATE_KPI_ALERT, DELETE_KPI, KPIS, KPI_CHANNELS, KPI_READING } from "./queries.js";

const STATUS_TEXT = { ON_TARGET: "on target", OFF_TARGET: "off target", NO_TARGET: "no target", NO_DATA: "no data" };
const SEVERITIES = ["INFO", "WARNING", "CRITICAL"];

export const kpiHash = (id, action) => `#/kpis/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;

// "Alert when off target": createKpiAlert with the durations and channels chosen.
async function alertDialog(api, kpi) {
  const channels = await run(api, KPI_CHANNELS).then((d) => d.channels ?? [], () => []);
  const forField = h("input", { id: "kpi-alert-for", value: "1h", autocomplete: "off" });
  const windowField = h("input", { id: "kpi-alert-window", value: "1h", autocomplete: "off" });
  const severity = select(SEVERITIES, "WARNING", { id: "kpi-alert-severity" });
  const boxes = h("div", { id: "kpi-alert-channels" }, channels.length
    ? channels.map((c) => h("label", { class: "check" }, h("input", { type: "checkbox", value: c.name }), ` ${c.name}`))
    : h("small", { class: "hint" }, "No contact points yet (Alerting › Contact points)."));
  return formDialog({
    title: `Alert when ${kpi.name} is off target`,
    id: "kpi-alert-dialog",
    submitLabel: "Create alert rule",
    content: h("div", { class: "modal-form" },
      h("p", { class: "hint" }, `Fires while the KPI over the trailing window is ${kpi.direction === "LOWER" ? "above" : "below"} ${kpi.target} for the duration given. KPIs with events(...) cannot be alerted on.`),
      h("div", { class: "row" }, field("Off target for", forField, "e.g. 15m, 1h"), field("Computed over the last", windowField, "at most 90d"), field("Severity", severity)),
      h("fieldset", {}, h("legend", { class: "field-label" }, "Notify"), boxes)),
    submit: async () => (await run(api, CREATE_KPI_ALERT, {
      kpi: kpi.id, for: forField.value.trim() || "1h", window: windowField.value.trim() || "1h",
      severity: severity.value, channels: [...boxes.querySelectorAll("input:checked")].map((i) => i.value),
    })).createKpiAlert,
  });
}

export async function renderKpis(root, api, params) {
  const body = h("tbody");
  const message = h("p", { class: "error", role: "alert", id: "kpis-error" });
  const notice = h("p", { class: "notice", id: "kpis-notice", role: "status" });
  const chosen = RANGES.includes(params?.get("range")) ? params.get("range") : "24h";
  const range = select(RANGES, chosen, { id: "kpi-range" });
  const table = h("table", { class: "summary-table kpis-table", id: "kpis" },
    h("thead", {}, h("tr", {}, ...["KPI", "formula", "value", "previous", "change", "target", "status", ""].map((c) => h("th", {}, c)))),
    body);
  range.addEventListener("change", () => {
    history.replaceState(null, "", `#/kpis?range=${range.value}`);
    refresh();
  });
  root.replaceChildren(
    h("div", { class: "dashboard-header" }, h("h1", {}, "KPIs"),
      h("div", { class: "controls" }, field("Over the last", range),
        h("a", { class: "button", href: "#/reports" }, "Reports"),
        h("a", { class: "button primary", href: "#/kpis/new", id: "new-kpi" }, "New KPI"))),
    message, notice, table);

  function row(kpi, reading) {
    const unit = unitName(kpi.unit);
    const good = changeIsGood(reading?.change, kpi.direction);
    const status = reading?.status ?? "NO_DATA";
    const remove = h("button", {
      type: "button", class: "small danger", "aria-label": `Delete ${kpi.name}`,
      onClick: async () => {
        if (!(await confirmDialog("Delete KPI", `Delete "${kpi.name}"? Reports and widgets naming it stop showing it.`, "Delete KPI", "danger"))) return;
        await run(api, DELETE_KPI, { id: kpi.id }).catch((error) => { message.textContent = error.message; });
        refresh();
      },
    }, "Delete");
    const alert = h("button", {
      type: "button", class: "small", "aria-label": `Alert when ${kpi.name} is off target`, disabled: kpi.target === null,
      title: kpi.target === null ? "Give the KPI a target first" : null,
      onClick: async () => {
        const rule = await alertDialog(api, kpi);
        if (rule) {
          notice.replaceChildren("Alert rule ", h("a", { href: `#/alerts/rules/${encodeURIComponent(rule.id)}`, id: "kpi-alert-link" }, rule.name), " created.");
        }
      },
    }, "Alert when off target");
    return h("tr", { dataset: { kpiId: kpi.id, kpi: kpi.name, status } },
      h("td", {}, kpi.name, kpi.description ? h("small", { class: "hint" }, ` ${kpi.description}`) : null),
      h("td", { class: "mono" }, kpi.formula, h("small", { class: "hint" }, ` (${kpi.aggregation.toLowerCase()})`)),
      h("td", { class: "num kpi-reading", dataset: { value: reading?.value ?? "" } }, reading?.error ? h("span", { class: "error" }, reading.error) : formatValue(reading?.value, unit)),
      h("td", { class: "num" }, formatValue(reading?.previous, unit)),
      h("td", { class: `num${good === null ? "" : good ? " up" : " down"}` }, formatChange(reading?.change) || "–"),
      h("td", { class: "num" }, kpi.target === null ? "–" : `${kpi.direction === "LOWER" ? "≤" : "≥"} ${formatValue(kpi.target, unit)}`),
      h("td", {}, h("span", { class: `kpi-status status-${status.toLowerCase()}` }, STATUS_TEXT[status] ?? status)),
      h("td", { class: "actions" }, h("a", { class: "button small", href: kpiHash(kpi.id, "edit") }, "Edit"), " ", alert, " ", remove));
  }

  async function refresh() {
    let kpis;
    try {
      kpis = (await run(api, KPIS)).kpis ?? [];
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    message.textContent = "";
    const last = range.value;
    // one reading per KPI (each a batched read on the server), side by side
    const readings = await Promise.all(kpis.map((kpi) => run(api, KPI_READING, { id: kpi.id, last })
      .then((d) => d.kpi, (error) => ({ error: error.message }))));
    body.replaceChildren(...kpis.map((kpi, i) => row(kpi, readings[i])));
    if (kpis.length === 0) body.append(h("tr", {}, h("td", { colSpan: 8, class: "hint" }, "No KPIs yet.")));
    table.dataset.range = last;
    table.dataset.updatedAt = String(Date.now());
  }

  await refresh();
}
