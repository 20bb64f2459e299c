// One rule: its series (silence a firing one from here), a state timeline from its
// history, and the history itself; refreshed live on this rule's events.
import { run } from "../graphql.js";
import { confirmDialog } from "../ui/dialog.js";
import { debounce, formatDateTime, h } from "../ui/dom.js";
import { formatValue, labelsText, seriesKey, seriesLabels, stateBadge } from "./common.js";
import { DELETE_RULE, RULE } from "./queries.js";
import { renderTimeline } from "./timeline.js";

const HISTORY = 100;

// `#/alerts/silences/new?rule=<id>&m.alertname=...&m.host=...`: a silence matching
// exactly this series (its rule's name and its labels)
export function silenceHash(ruleName, labels, ruleId) {
  const params = new URLSearchParams({ rule: ruleId, "m.alertname": ruleName });
  for (const [key, value] of Object.entries(seriesLabels(labels))) params.set(`m.${key}`, value);
  return `#/alerts/silences/new?${params}`;
}

export async function renderRule(root, api, id) {
  const header = h("div", { class: "dashboard-header" });
  const facts = h("dl", { class: "facts" });
  const instances = h("tbody");
  const timeline = h("div", { class: "timeline-box" });
  const history = h("tbody");
  const message = h("p", { class: "error", role: "alert" });
  root.replaceChildren(header, message, facts,
    h("h2", {}, "Series"),
    h("table", { class: "summary-table", id: "rule-instances" },
      h("thead", {}, h("tr", {}, ...["state", "series", "value", "since", ""].map((c) => h("th", {}, c)))), instances),
    h("h2", {}, "State timeline"), timeline,
    h("h2", {}, "History"),
    h("table", { class: "summary-table", id: "rule-history" },
      h("thead", {}, h("tr", {}, ...["at", "series", "change", "value", "notification"].map((c) => h("th", {}, c)))), history));

  async function refresh() {
    let rule;
    try {
      rule = (await run(api, RULE, { id, limit: HISTORY })).alert;
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    const remove = h("button", {
      type: "button", class: "danger", id: "delete-rule",
      onClick: async () => {
        if (!(await confirmDialog("Delete alert rule", `Delete "${rule.name}" and its state?`, "Delete rule", "danger"))) return;
        await run(api, DELETE_RULE, { id });
        window.location.hash = "#/alerts";
      },
    }, "Delete");
    header.replaceChildren(
      h("h1", {}, rule.name, " ", stateBadge(rule.state, "rule-state")),
      h("div", { class: "controls" },
        h("a", { class: "button", href: `#/alerts/rules/${encodeURIComponent(id)}/edit`, id: "edit-rule" }, "Edit"), remove));
    const fact = (term, text) => [h("dt", {}, term), h("dd", {}, text)];
    facts.replaceChildren(
      ...fact("Condition", h("code", {}, rule.condition)),
      ...fact("Severity", rule.severity),
      ...fact("Pending for", rule.for), ...fact("Evaluated every", rule.interval),
      ...fact("Channels", rule.channels.join(", ") || "none"),
      ...fact("Enabled", rule.enabled ? "yes" : "no"));
    instances.replaceChildren(...rule.instances.map((instance) => h("tr", { dataset: { state: instance.state, series: labelsText(instance.labels) } },
      h("td", {}, stateBadge(instance.state)),
      h("td", {}, labelsText(instance.labels)),
      h("td", { class: "num" }, formatValue(instance.value)),
      h("td", {}, formatDateTime(instance.since)),
      h("td", {}, ["FIRING", "PENDING"].includes(instance.state)
        ? h("a", { class: "button small", href: silenceHash(rule.name, instance.labels, id), "aria-label": `Silence ${labelsText(instance.labels)}` }, "Silence")
        : null))));
    if (rule.instances.length === 0) instances.append(h("tr", {}, h("td", { colSpan: 5, class: "hint" }, "No series evaluated yet.")));
    const transitions = rule.history.filter((e) => e.kind === "TRANSITION");
    const to = Date.now();
    // from a little before its oldest change kept, or the last hour without any
    const oldest = Math.min(...transitions.map((e) => Date.parse(e.at)));
    const from = transitions.length ? oldest - Math.max((to - oldest) / 10, 5_000) : to - 3_600_000;
    const current = new Set(rule.instances.map((i) => seriesKey(i.labels)));
    timeline.replaceChildren(renderTimeline(transitions, { from, to, id: "rule-timeline", current }));
    history.replaceChildren(...rule.history.map((e) => h("tr", { dataset: { state: e.state } },
      h("td", {}, formatDateTime(e.at)),
      h("td", {}, labelsText(seriesLabels(e.labels))),
      h("td", {}, e.previousState ? stateBadge(e.previousState) : "–", " → ", stateBadge(e.state)),
      h("td", { class: "num" }, formatValue(e.value)),
      h("td", { title: e.notification.reason }, e.notification.status.toLowerCase()))));
    root.dataset.state = rule.state;
  }

  await refresh();
  const later = debounce(refresh, 150);
  // events of this rule, or none in particular (a reconnect): read it again
  return { onEvent: (event) => (!event.alertId || event.alertId === id) && later() };
}
