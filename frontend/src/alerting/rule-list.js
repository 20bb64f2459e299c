// The alert rules with their state; refreshed live as alert events arrive.
import { run } from "../graphql.js";
import { confirmDialog } from "../ui/dialog.js";
import { debounce, h } from "../ui/dom.js";
import { stateBadge } from "./common.js";
import { DELETE_RULE, RULES } from "./queries.js";

// most urgent first, as the alerts panel orders them
const URGENCY = ["FIRING", "PENDING", "ERROR", "NODATA", "RESOLVED", "INACTIVE"];

function counts(instances) {
  const by = {};
  for (const i of instances) by[i.state] = (by[i.state] ?? 0) + 1;
  return URGENCY.filter((s) => by[s]).map((s) => `${by[s]} ${s.toLowerCase()}`).join(", ") || "no series yet";
}

export async function renderRules(root, api) {
  const body = h("tbody");
  const message = h("p", { class: "error", role: "alert" });
  const table = h("table", { class: "summary-table rules-table", id: "alert-rules" },
    h("thead", {}, h("tr", {}, ...["state", "rule", "severity", "condition", "series", ""].map((c) => h("th", {}, c)))),
    body);
  root.replaceChildren(
    h("div", { class: "dashboard-header" }, h("h1", {}, "Alert rules"),
      h("a", { class: "button primary", href: "#/alerts/rules/new", id: "new-rule" }, "New alert rule")),
    message, table);

  async function refresh() {
    let rules;
    try {
      rules = (await run(api, RULES)).alerts ?? [];
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    message.textContent = "";
    const byUrgency = [...rules].sort((a, b) => URGENCY.indexOf(a.state) - URGENCY.indexOf(b.state) || a.name.localeCompare(b.name));
    body.replaceChildren(...byUrgency.map((rule) => {
      const remove = h("button", {
        type: "button", class: "small danger", "aria-label": `Delete ${rule.name}`,
        onClick: async () => {
          if (!(await confirmDialog("Delete alert rule", `Delete "${rule.name}" and its state?`, "Delete rule", "danger"))) return;
          await run(api, DELETE_RULE, { id: rule.id }).catch((error) => { message.textContent = error.message; });
          refresh();
        },
      }, "Delete");
      return h("tr", { dataset: { ruleId: rule.id, ruleName: rule.name, state: rule.state } },
        h("td", {}, stateBadge(rule.state)),
        h("td", {}, h("a", { href: `#/alerts/rules/${encodeURIComponent(rule.id)}` }, rule.name), rule.enabled ? null : h("span", { class: "hint" }, " (disabled)")),
        h("td", { class: `severity-${rule.severity.toLowerCase()}` }, rule.severity),
        h("td", { class: "mono" }, rule.condition),
        h("td", {}, counts(rule.instances)),
        h("td", {}, h("a", { class: "button small", href: `#/alerts/rules/${encodeURIComponent(rule.id)}/edit` }, "Edit"), " ", remove));
    }));
    if (rules.length === 0) body.append(h("tr", {}, h("td", { colSpan: 6, class: "hint" }, "No alert rules yet.")));
    table.dataset.updatedAt = String(Date.now());
  }

  await refresh();
  return { onEvent: debounce(refresh, 150) };
}
