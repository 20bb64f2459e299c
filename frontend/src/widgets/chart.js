// Line and area charts with uPlot: series aligned on the union of their timestamps.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { PALETTE, element, labelText } from "../format.js";

export function aligned(series) {
  const stamps = [...new Set(series.flatMap((s) => s.data.t))].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const byTime = new Map(s.data.t.map((t, i) => [t, s.data.v[i]]));
    return stamps.map((t) => (byTime.has(t) ? byTime.get(t) : null));
  });
  return [stamps.map((t) => t / 1000), ...columns];
}

// The plot fills the widget; the legend (a table under the plot) takes its share.
// The legend's height follows the plot's width (its entries wrap), so both the
// widget's box and the legend are watched: a size worked out from a legend laid
// out for the old width is put right once the legend reflows.
function size(root) {
  const legend = root.querySelector(".u-legend");
  return {
    width: Math.max(root.clientWidth, 120),
    height: Math.max(root.clientHeight - (legend?.offsetHeight ?? 0) - 4, 60),
  };
}

export function createChart(body, widget) {
  const root = element("div", "chart");
  const empty = element("p", "empty", "No data in this range.");
  body.append(root, empty);
  let plot = null;
  let shape = "";

  const observer = new ResizeObserver(() => {
    if (!plot) return;
    const next = size(root);
    if (next.width !== plot.width || next.height !== plot.height) plot.setSize(next);
  });
  observer.observe(root);

  function build(series, data) {
    const legend = root.querySelector(".u-legend");
    if (legend) observer.unobserve(legend);
    plot?.destroy();
    const area = widget.style === "AREA";
    plot = new uPlot(
      {
        ...size(root),
        legend: { show: series.length > 1 },
        cursor: { points: { size: 5 } },
        scales: { x: { time: true } },
        axes: [
          { stroke: "#9aa4b2", grid: { stroke: "#2a3140" }, ticks: { stroke: "#2a3140" } },
          { stroke: "#9aa4b2", grid: { stroke: "#2a3140" }, ticks: { stroke: "#2a3140" }, size: 56 },
        ],
        series: [
          {},
          ...series.map((s, i) => {
            const color = PALETTE[i % PALETTE.length];
            if (s.marker) {
              // points only, e.g. detected anomalies over the metric's lines
              return {
                label: labelText(s),
                stroke: "#e36d6d",
                width: 0,
                paths: () => null,
                points: { show: true, size: 9, fill: "#e36d6d", stroke: "#e36d6d" },
              };
            }
            return {
              label: labelText(s),
              stroke: color,
              width: 1.5,
              spanGaps: true,
              fill: area ? `${color}33` : undefined,
            };
          }),
        ],
      },
      data,
      root,
    );
    plot.setSize(size(root));
    const created = root.querySelector(".u-legend");
    if (created) observer.observe(created);
  }

  return {
    update(data) {
      const series = data.series ?? [];
      const points = series.reduce((n, s) => n + s.data.t.length, 0);
      body.dataset.points = String(points);
      empty.hidden = points > 0;
      root.hidden = points === 0;
      if (points === 0) return;
      const columns = aligned(series);
      const nextShape = series.map(labelText).join("|");
      if (plot === null || nextShape !== shape) {
        shape = nextShape;
        build(series, columns);
      } else {
        plot.setData(columns);
      }
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
    },
  };
}
