// A KPI tile: the value, its change against the previous period, and a sparkline.
import uPlot from "uplot";
import { element, formatChange, formatNumber } from "../format.js";

export function createKpi(body) {
  const value = element("div", "kpi-value", "–");
  const change = element("div", "kpi-change");
  const spark = element("div", "sparkline");
  body.append(value, change, spark);
  let plot = null;

  const observer = new ResizeObserver(() => {
    plot?.setSize({ width: Math.max(spark.clientWidth, 60), height: 36 });
  });
  observer.observe(spark);

  return {
    update(data) {
      value.textContent = formatNumber(data.value);
      value.dataset.value = data.value === null ? "" : String(data.value);
      change.textContent = formatChange(data.change);
      change.className = `kpi-change ${data.change > 0 ? "up" : data.change < 0 ? "down" : ""}`;
      change.title = data.previous === null ? "" : `previous period: ${formatNumber(data.previous)}`;
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
