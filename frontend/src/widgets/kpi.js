// A KPI tile: the value, its change against the previous period, and a sparkline.
// The change reads green when it is good news: up for most metrics, down for the
// ones where rising is bad (errors, latency). With thresholds, the value takes the
// colour of the highest one it reaches. A saved KPI also says whether it is on target,
// and its direction (higher or lower is better) decides which change is good news.
import uPlot from "uplot";
import { element, formatChange } from "../format.js";
import { colorHex, thresholdColor } from "../thresholds.js";
import { formatValue, risingIsBad } from "../units.js";

export function createKpi(body, widget, view = {}) {
  const unit = view.unit ?? "none";
  const badWhenUp = risingIsBad(view.metric ?? widget?.query?.name ?? "");
  const value = element("div", "kpi-value", "–");
  const change = element("div", "kpi-change");
  const status = element("div", "kpi-status");
  const spark = element("div", "sparkline");
  body.append(value, change, status, spark);
  let plot = null;

  const observer = new ResizeObserver(() => {
    plot?.setSize({ width: Math.max(spark.clientWidth, 60), height: 36 });
  });
  observer.observe(spark);

  return {
    update(data) {
      value.textContent = formatValue(data.value, unit);
      value.dataset.unit = unit;
      value.dataset.value = data.value === null ? "" : String(data.value);
      const color = thresholdColor(data.value, view.thresholds);
      value.dataset.threshold = color ?? "";
      value.style.color = colorHex(color) ?? "";
      change.textContent = formatChange(data.change);
      const direction = data.change > 0 ? "up" : data.change < 0 ? "down" : "";
      const lowerIsBetter = data.direction ? data.direction === "LOWER" : badWhenUp;
      const good = direction === "" ? "" : (direction === "up") !== lowerIsBetter ? "good" : "bad";
      change.className = `kpi-change ${direction} ${good}`.trim();
      change.title = data.previous === null ? "" : `previous period: ${formatValue(data.previous, unit)}`;
      showStatus(status, data, unit);
      const points = [data.sparkline.t.map((t) => t / 1000), data.sparkline.v];
      body.dataset.points = String(points[0].length);
      if (plot === null) {
        plot = new uPlot(
          {
            width: Math.max(spark.clientWidth, 60),
            height: 36,
            legend: { show: false },
            cursor: { show: false },
            scales: { x: { time: true } },
            axes: [{ show: false }, { show: false }],
            series: [{}, { stroke: "#4e9af1", fill: "#4e9af122", width: 1.5, spanGaps: true }],
          },
          points,
          spark,
        );
      } else {
        plot.setData(points);
      }
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
    },
  };
}

const STATUS_TEXT = { ON_TARGET: "on target", OFF_TARGET: "off target" };
const STATUS_COLOR = { ON_TARGET: "green", OFF_TARGET: "red" };

// "on target (≥ 2.5)" under the change, for a saved KPI with a target; empty otherwise.
function showStatus(node, data, unit) {
  const text = STATUS_TEXT[data.status];
  node.dataset.status = data.status ?? "";
  if (!text || data.target === null || data.target === undefined) {
    node.textContent = "";
    return;
  }
  const side = data.direction === "LOWER" ? "≤" : "≥";
  node.textContent = `${text} (${side} ${formatValue(data.target, unit)})`;
  node.style.color = colorHex(STATUS_COLOR[data.status]) ?? "";
  node.style.fontSize = "0.8rem";
}
