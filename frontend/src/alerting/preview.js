// What a rule would have done over the last hours, from simulateAlert: the counts,
// a state timeline per series and the transitions. Answers to a rule since edited
// again are dropped.
import { run } from "../graphql.js";
import { formatDateTime, h } from "../ui/dom.js";
import { formatValue, labelsText, seriesLabels, stateBadge } from "./common.js";
import { SIMULATE } from "./queries.js";
import { renderTimeline } from "./timeline.js";

const UNIT_MS = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };

export function durationMs(text) {
  const match = /^(\d+)(s|m|h|d|w)$/.exec(text ?? "");
  return match ? Number(match[1]) * UNIT_MS[match[2]] : null;
}

export function createRulePreview(container, api) {
  const summary = h("p", { class: "preview-summary", id: "rule-preview-summary", role: "status" }, "The preview replays stored history through the rule.");
  const body = h("div", { class: "rule-preview-body" });
  container.append(summary, body);
  let asked = 0;

  return async function update(rule, last) {
    const ticket = ++asked;
    container.dataset.state = "loading";
    summary.textContent = `Replaying the last ${last}…`;
    try {
      const result = (await run(api, SIMULATE, { rule, last })).simulateAlert;
      if (ticket !== asked) return;
      const { evaluations, transitions, notifications } = result;
      const firing = transitions.filter((t) => t.state === "FIRING").length;
      summary.textContent = `Over the last ${last}: ${evaluations} evaluations, ${transitions.length} state changes, fired ${firing} times, ${notifications.length} notifications.`;
      Object.assign(container.dataset, { state: "ready", transitions: transitions.length, firing });
      const to = Date.now();
      const rows = transitions.slice(-50).reverse().map((t) => h("tr", {},
        h("td", {}, formatDateTime(t.at)), h("td", {}, labelsText(seriesLabels(t.labels))),
        h("td", {}, t.previousState ? stateBadge(t.previousState) : "–", " → ", stateBadge(t.state)),
        h("td", { class: "num" }, formatValue(t.value))));
      body.replaceChildren(
        renderTimeline(transitions, { from: to - durationMs(last), to, id: "rule-preview-timeline" }),
        rows.length
          ? h("table", { class: "summary-table" },
            h("thead", {}, h("tr", {}, ...["at", "series", "change", "value"].map((c) => h("th", {}, c)))),
            h("tbody", {}, rows))
          : h("p", { class: "hint" }, "It would not have changed state: nothing to notify."),
      );
    } catch (error) {
      if (ticket !== asked) return;
      container.dataset.state = "error";
      summary.textContent = error.message;
      body.replaceChildren();
    }
  };
}
