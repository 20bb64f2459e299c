// Silences: the list (expire one), and the form to create one; matchers may come
// from the address (`m.<label>=<value>`), as the Silence button of a firing series
// gives them.
import { run } from "../graphql.js";
import { confirmDialog } from "../ui/dialog.js";
import { field, formatDateTime, h, select } from "../ui/dom.js";
import { CREATE_SILENCE, EXPIRE_SILENCE, SILENCES } from "./queries.js";

const OPERATORS = [["EQUAL", "="], ["NOT_EQUAL", "!="], ["REGEX", "=~"], ["NOT_REGEX", "!~"]];
const SYMBOL = Object.fromEntries(OPERATORS);

function matcherText(m) {
  return `${m.label}${SYMBOL[m.operator]}"${m.value}"`;
}

export async function renderSilences(root, api) {
  const body = h("tbody");
  const message = h("p", { class: "error", role: "alert" });
  root.replaceChildren(
    h("div", { class: "dashboard-header" }, h("h1", {}, "Silences"),
      h("a", { class: "button primary", href: "#/alerts/silences/new", id: "new-silence" }, "New silence")),
    message,
    h("table", { class: "summary-table", id: "silences" },
      h("thead", {}, h("tr", {}, ...["", "matchers", "starts", "ends", "comment", "by", ""].map((c) => h("th", {}, c)))), body));

  async function refresh() {
    const silences = (await run(api, SILENCES)).silences ?? [];
    // active first, then the most recent
    silences.sort((a, b) => Number(b.active) - Number(a.active) || Date.parse(b.startsAt) - Date.parse(a.startsAt));
    body.replaceChildren(...silences.map((silence) => h("tr", { dataset: { silenceId: silence.id, active: String(silence.active) } },
      h("td", {}, h("span", { class: `state ${silence.active ? "state-silenced" : "state-expired"}` }, silence.active ? "active" : "expired")),
      h("td", { class: "mono" }, silence.matchers.map(matcherText).join(", ")),
      h("td", {}, formatDateTime(silence.startsAt)),
      h("td", {}, formatDateTime(silence.endsAt)),
      h("td", {}, silence.comment),
      h("td", { class: "hint" }, silence.createdBy),
      h("td", {}, silence.active
        ? h("button", {
          type: "button", class: "small", "aria-label": `Expire ${silence.matchers.map(matcherText).join(", ")}`,
          onClick: async () => {
            if (!(await confirmDialog("Expire silence", "End this silence now? Matching alerts notify again.", "Expire"))) return;
            try {
              await run(api, EXPIRE_SILENCE, { id: silence.id });
            } catch (error) {
              message.textContent = error.message;
            }
            refresh();
          },
        }, "Expire")
        : null))));
    if (silences.length === 0) body.append(h("tr", {}, h("td", { colSpan: 7, class: "hint" }, "No silences.")));
  }

  await refresh();
  return { onEvent: () => {} };
}

function matcherRow(matcher, onRemove) {
  const label = h("input", { class: "matcher-label", value: matcher.label, placeholder: "label", "aria-label": "Label" });
  const operator = select(OPERATORS, matcher.operator, { class: "matcher-operator", "aria-label": "Operator" });
  const value = h("input", { class: "matcher-value", value: matcher.value, placeholder: "value", "aria-label": "Value" });
  const row = h("div", { class: "matcher-row" }, label, operator, value,
    h("button", { type: "button", class: "icon", title: "Remove matcher", onClick: () => onRemove(row) }, "✕"));
  row.read = () => ({ label: label.value.trim(), operator: operator.value, value: value.value });
  return row;
}

export function renderSilenceForm(root, api, params) {
  const given = [...params].filter(([key]) => key.startsWith("m.")).map(([key, value]) => ({ label: key.slice(2), operator: "EQUAL", value }));
  const rows = h("div", { class: "matchers", id: "silence-matchers" });
  const remove = (row) => row.remove();
  const add = (m) => rows.append(matcherRow(m, remove));
  (given.length ? given : [{ label: "alertname", operator: "EQUAL", value: "" }]).forEach(add);
  const duration = h("input", { id: "silence-duration", value: "1h", list: "silence-durations", autocomplete: "off" });
  const comment = h("input", { id: "silence-comment", value: "", placeholder: "why", autocomplete: "off" });
  const message = h("p", { class: "error", id: "silence-error", role: "alert" });
  const back = params.get("rule") ? `#/alerts/rules/${encodeURIComponent(params.get("rule"))}` : "#/alerts/silences";
  const form = h("form", { class: "silence-form", id: "silence-form" },
    h("span", { class: "field-label" }, "Matchers: all must match an alert's labels"),
    rows,
    h("button", { type: "button", id: "add-matcher", onClick: () => add({ label: "", operator: "EQUAL", value: "" }) }, "+ Matcher"),
    h("div", { class: "row" }, field("Duration", duration, "from now, e.g. 2h"), field("Comment", comment)),
    h("datalist", { id: "silence-durations" }, ["30m", "1h", "2h", "6h", "1d", "7d"].map((d) => h("option", { value: d }))),
    message,
    h("div", { class: "modal-actions" }, h("a", { class: "button", href: back }, "Cancel"),
      h("button", { type: "submit", class: "primary", id: "create-silence" }, "Create silence")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const matchers = [...rows.children].map((row) => row.read()).filter((m) => m.label);
    if (matchers.length === 0) {
      message.textContent = "Give at least one matcher.";
      return;
    }
    try {
      await run(api, CREATE_SILENCE, { input: { matchers, duration: duration.value.trim(), comment: comment.value.trim() } });
      window.location.hash = "#/alerts/silences";
    } catch (error) {
      message.textContent = error.message;
    }
  });
  root.replaceChildren(h("h1", {}, "New silence"), form);
  comment.focus();
  return { onEvent: () => {} };
}
