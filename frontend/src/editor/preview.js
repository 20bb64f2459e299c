// A live preview of the query being edited, drawn with the dashboard's chart. It
// reads what the gateway would read for the widget (variables at their defaults);
// answers to queries that were since edited again are dropped.
import { run } from "../graphql.js";
import { h } from "../ui/dom.js";
import { createChart } from "../widgets/chart.js";
import { autoStep } from "../time.js";
import { PREVIEW_EVENTS, PREVIEW_METRIC } from "./queries.js";


// `$name` -> the variable's default; a label filter left empty means "every value"
function substitute(text, defaults) {
  return text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (ref, braced, bare) => defaults.get(braced ?? bare) ?? ref);
}

function labelsFor(labels, defaults) {
  const out = {};
  for (const [key, value] of Object.entries(labels ?? {})) {
    const resolved = substitute(value, defaults);
    if (resolved !== "") out[key] = resolved;
  }
  return Object.keys(out).length ? out : null;
}

export function createPreview(container, api) {
  const status = h("p", { class: "hint", id: "panel-preview-status" }, "Choose what to show.");
  const box = h("div", { class: "preview-chart" });
  container.append(status, box);
  const chart = createChart(box, { style: "LINE" });
  let asked = 0;

  async function read(query, range, defaults) {
    const last = query.last ?? range;
    if (query.kind === "METRIC") {
      const metricQuery = {
        name: substitute(query.name, defaults), last, step: query.step ?? autoStep(last),
        aggregation: query.aggregation, groupBy: query.groupBy, labels: labelsFor(query.labels, defaults),
        source: query.source,
      };
      return (await run(api, PREVIEW_METRIC, { query: metricQuery })).metrics ?? [];
    }
    const variables = { type: query.name, last, step: query.step ?? autoStep(last), groupBy: query.groupBy?.[0] ?? null };
    return (await run(api, PREVIEW_EVENTS, variables)).eventCounts ?? [];
  }

  return {
    async update(query, { range, variables }) {
      const ticket = ++asked;
      container.dataset.state = "loading";
      if (!query) return this.say("This panel type needs no query.", "none");
      if (query.kind === "FORMULA") return this.say("Formulas are drawn on the dashboard once saved.", "none");
      if (!query.name) return this.say("Choose what to show.", "none");
      const defaults = new Map(variables.map((v) => [v.name, v.default ?? ""]));
      try {
        const series = await read(query, range, defaults);
        if (ticket !== asked) return undefined;
        const points = series.reduce((n, s) => n + s.data.t.length, 0);
        chart.update({ series });
        status.textContent = `${series.length} series, ${points} points over ${query.last ?? range}`;
        container.dataset.series = String(series.length);
        container.dataset.state = "ready";
      } catch (error) {
        if (ticket === asked) this.say(error.message, "error");
      }
      return undefined;
    },
    say(message, state) {
      status.textContent = message;
      chart.update({ series: [] });
      container.dataset.series = "0";
      container.dataset.state = state;
    },
    destroy() {
      chart.destroy();
    },
  };
}
