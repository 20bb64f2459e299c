// Create or edit an alert rule, with a live preview (simulateAlert) of what it
// would have done over the last hours before it is saved.
import { GatewayError, run } from "../graphql.js";
import { debounce, field, h, select } from "../ui/dom.js";
import { SEVERITIES } from "./common.js";
import { createRulePreview } from "./preview.js";
import { CHANNEL_NAMES, CREATE_RULE, METRIC_NAMES, UPDATE_RULE } from "./queries.js";

const PREVIEW_RANGES = ["1h", "6h", "24h", "7d"];
const BLANK = {
  name: "", condition: "", severity: "WARNING", for: "1m", keepFiringFor: "0s", interval: "30s",
  channels: [], actions: [], labels: {}, annotations: {}, enabled: true, groupBy: [],
  groupWait: "10s", groupInterval: "1m", repeatInterval: "4h",
};

function linesOf(labels) {
  return Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join("\n");
}

function parseLines(text) {
  const labels = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    if (at < 1) throw new Error(`"${line}": write labels as name=value, one a line`);
    labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return labels;
}

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

export async function renderRuleForm(root, api, rule = null) {
  const given = { ...BLANK, ...(rule ?? {}) };
  const [channels, metrics] = await Promise.all([
    run(api, CHANNEL_NAMES).then((d) => d.channels ?? [], () => []),
    run(api, METRIC_NAMES).then((d) => d.metricNames ?? [], () => []),
  ]);
  const input = (id, value, props = {}) => h("input", { id, value: value ?? "", autocomplete: "off", ...props });
  const name = input("rule-name", given.name, { required: true });
  const condition = h("textarea", { id: "rule-condition", rows: 2, spellcheck: false, value: given.condition, required: true });
  const metric = select([["", "Insert a metric…"], ...metrics], "", { id: "rule-insert-metric" });
  metric.addEventListener("change", () => {
    if (!metric.value) return;
    condition.setRangeText(metric.value, condition.selectionStart, condition.selectionEnd, "end");
    metric.value = "";
    condition.focus();
    changed();
  });
  const severity = select(SEVERITIES, given.severity, { id: "rule-severity" });
  const forField = input("rule-for", given.for);
  const keepFiring = input("rule-keep-firing", given.keepFiringFor);
  const interval = input("rule-interval", given.interval);
  const enabled = h("input", { type: "checkbox", id: "rule-enabled", checked: given.enabled });
  const summaryText = input("rule-summary", given.annotations.summary, { placeholder: "e.g. CPU at {{ $value }} on {{ $labels.host }}" });
  const description = input("rule-description", given.annotations.description);
  const labels = h("textarea", { id: "rule-labels", rows: 2, value: linesOf(given.labels), placeholder: "team=platform" });
  const box = (names, chosen, group) => names.length
    ? names.map((n) => h("label", { class: "check" }, h("input", { type: "checkbox", name: group, value: n, checked: chosen.includes(n) }), ` ${n}`))
    : [h("small", { class: "hint" }, "none yet (Contact points)")];
  const channelBoxes = h("div", { id: "rule-channels" }, box(channels.map((c) => c.name), given.channels, "channel"));
  const actionBoxes = h("div", { id: "rule-actions" }, box(channels.filter((c) => c.kind === "WEBHOOK").map((c) => c.name), given.actions, "action"));
  const groupBy = input("rule-group-by", given.groupBy.join(", "), { placeholder: "labels, e.g. host" });
  const groupWait = input("rule-group-wait", given.groupWait);
  const groupInterval = input("rule-group-interval", given.groupInterval);
  const repeat = input("rule-repeat", given.repeatInterval);
  const message = h("p", { class: "error", id: "rule-error", role: "alert" });

  function read() {
    const checked = (container) => [...container.querySelectorAll("input:checked")].map((i) => i.value);
    const annotations = { ...given.annotations, summary: summaryText.value.trim(), description: description.value.trim() };
    for (const key of ["summary", "description"]) if (!annotations[key]) delete annotations[key];
    return {
      name: name.value.trim() || "preview", condition: condition.value.trim(), severity: severity.value,
      for: forField.value.trim() || "0s", keepFiringFor: keepFiring.value.trim() || "0s",
      interval: interval.value.trim() || "30s", channels: checked(channelBoxes), actions: checked(actionBoxes),
      labels: parseLines(labels.value), annotations, enabled: enabled.checked, groupBy: list(groupBy.value),
      groupWait: groupWait.value.trim() || "10s", groupInterval: groupInterval.value.trim() || "1m",
      repeatInterval: repeat.value.trim() || "4h",
    };
  }

  const previewBox = h("section", { class: "rule-preview", id: "rule-preview" });
  const range = select(PREVIEW_RANGES, "6h", { id: "rule-preview-range" });
  const preview = createRulePreview(previewBox, api);
  const runPreview = () => {
    let rule;
    try {
      rule = read();
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    if (rule.condition) preview(rule, range.value);
  };
  const changed = debounce(runPreview, 700);
  for (const node of [condition, forField, keepFiring, interval]) node.addEventListener("input", changed);
  range.addEventListener("change", runPreview);

  const form = h("form", { class: "rule-form", id: "rule-form" },
    h("div", { class: "rule-fields" },
      field("Name", name),
      field("Condition", condition, "e.g. avg(cpu_usage{host=\"a\"}[5m]) > 90, errors / requests > 0.05, cpu_usage outside band(7d)"),
      metric,
      h("div", { class: "row" }, field("Severity", severity), field("Pending for", forField, "holds this long to fire"),
        field("Keep firing for", keepFiring), field("Evaluate every", interval)),
      h("label", { class: "check" }, enabled, " enabled"),
      field("Summary", summaryText, "{{ $value }} and {{ $labels.name }} are filled in"),
      field("Description", description),
      field("Labels", labels, "name=value, one a line: for silences and grouping"),
      h("fieldset", {}, h("legend", { class: "field-label" }, "Notify channels"), channelBoxes),
      h("fieldset", {}, h("legend", { class: "field-label" }, "Run actions (webhooks) on fire"), actionBoxes),
      h("details", {}, h("summary", {}, "Notification grouping"),
        h("div", { class: "row" }, field("Group by", groupBy), field("Group wait", groupWait),
          field("Group interval", groupInterval), field("Repeat", repeat))),
      message,
      h("div", { class: "modal-actions" },
        h("a", { class: "button", href: rule ? `#/alerts/rules/${encodeURIComponent(rule.id)}` : "#/alerts" }, "Cancel"),
        h("button", { type: "submit", class: "primary", id: "save-rule" }, rule ? "Save rule" : "Create rule"))),
    h("div", { class: "rule-preview-column" },
      h("div", { class: "row" }, h("h2", {}, "Preview"), field("Replay the last", range),
        h("button", { type: "button", id: "preview-rule", onClick: runPreview }, "Preview")),
      previewBox));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      const ruleInput = { ...read(), name: name.value.trim() };
      if (!ruleInput.name) throw new Error("The rule needs a name.");
      const saved = rule
        ? (await run(api, UPDATE_RULE, { id: rule.id, input: ruleInput, version: rule.version })).updateAlert
        : (await run(api, CREATE_RULE, { input: ruleInput })).createAlert;
      window.location.hash = `#/alerts/rules/${encodeURIComponent(saved.id)}`;
    } catch (error) {
      message.textContent = error instanceof GatewayError && error.code === "CONFLICT"
        ? "Someone changed this rule since you opened it: reload the page to edit their version."
        : error.message;
    }
  });

  root.replaceChildren(h("h1", {}, rule ? `Edit ${rule.name}` : "New alert rule"), form);
  if (given.condition) runPreview();
  name.focus();
}
