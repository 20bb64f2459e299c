// A state timeline: one row per series, a bar coloured by the state it was in,
// from a list of transitions (in any order) over [from, to]. `current`, when given,
// holds the keys of the rule's series now: a series gone since (e.g. the no-data
// series once points arrive) ends where the next change of another series begins.
import { formatDateTime, h } from "../ui/dom.js";
import { seriesKey } from "./common.js";

function endOf(events, all, current, to) {
  if (!current || current.has(seriesKey(events[0].labels))) return to;
  const last = Date.parse(events[events.length - 1].at);
  const next = all.find((e) => Date.parse(e.at) > last && seriesKey(e.labels) !== seriesKey(events[0].labels));
  return next ? Date.parse(next.at) : to;
}

export function renderTimeline(transitions, { from, to, id, current = null }) {
  const root = h("div", { class: "timeline", id });
  const span = Math.max(to - from, 1);
  const ordered = [...transitions].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const bySeries = new Map();
  for (const event of ordered) {
    const key = seriesKey(event.labels);
    if (!bySeries.has(key)) bySeries.set(key, []);
    bySeries.get(key).push(event);
  }
  if (bySeries.size === 0) {
    root.append(h("p", { class: "hint" }, "No state changes in this range."));
    return root;
  }
  for (const [key, events] of bySeries) {
    const bar = h("div", { class: "timeline-bar" });
    const until = endOf(events, ordered, current, to);
    // before its first change, a series was in that change's previous state
    const steps = [{ at: from, state: events[0].previousState ?? "INACTIVE" },
      ...events.map((e) => ({ at: Date.parse(e.at), state: e.state, value: e.value }))];
    steps.forEach((step, i) => {
      const start = Math.max(step.at, from);
      const end = Math.min(steps[i + 1]?.at ?? until, until);
      if (end <= start && i < steps.length - 1) return;
      const left = ((start - from) / span) * 100;
      const width = Math.max(((end - start) / span) * 100, 0.4);
      bar.append(h("span", {
        class: `segment state-${step.state.toLowerCase()}`,
        dataset: { state: step.state },
        title: `${step.state} from ${formatDateTime(new Date(start).toISOString())}`,
        style: { left: `${left}%`, width: `${width}%` },
      }));
    });
    const last = events[events.length - 1].state;
    const gone = until < to;
    root.append(h("div", { class: `timeline-row${gone ? " gone" : ""}`, dataset: { series: key, state: gone ? "GONE" : last } },
      h("span", { class: "timeline-label", title: key }, gone ? `${key} (gone)` : key), bar));
  }
  root.append(h("div", { class: "timeline-axis" },
    h("span", {}, formatDateTime(new Date(from).toISOString())),
    h("span", {}, formatDateTime(new Date(to).toISOString()))));
  return root;
}
