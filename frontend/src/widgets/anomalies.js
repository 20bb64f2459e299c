// The anomalies panel: the series, with each anomaly marked, and the list of them.
import { element, labelText } from "../format.js";
import { clock, zoneLabel } from "../time.js";
import { formatValue } from "../units.js";
import { createChart } from "./chart.js";

export function createAnomalies(body, widget, view = {}) {
  const chartBox = element("div", "anomaly-chart");
  const list = element("ul", "anomaly-list");
  body.append(chartBox, list);
  const chart = createChart(chartBox, widget, view);
  return {
    update(data) {
      const marks = data.anomalies ?? [];
      // each anomaly is also drawn as its own point series over the metric's lines
      const anomalySeries = {
        name: "anomaly",
        marker: true,
        labels: { anomaly: `${marks.length} found` },
        data: {
          t: marks.map((m) => Date.parse(m.timestamp)),
          v: marks.map((m) => m.value),
        },
      };
      chart.update({ series: [...(data.series ?? []), ...(marks.length ? [anomalySeries] : [])] });
      body.dataset.points = String(marks.length);
      list.replaceChildren(
        ...(marks.length
          ? marks.slice(0, 5).map((m) => {
              const item = element("li", "anomaly");
              item.textContent = `${clock(Date.parse(m.timestamp), view.zone)} ${zoneLabel(view.zone)} · ${labelText({
                name: "",
                labels: m.labels,
              })} · ${formatValue(m.value, view.unit)} (score ${m.score.toFixed(3)})`;
              return item;
            })
          : [element("li", "hint", `No anomalies in this range (${data.detector}).`)]),
      );
    },
    destroy() {
      chart.destroy();
    },
  };
}
