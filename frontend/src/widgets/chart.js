// Line and area charts with uPlot: series aligned on the union of their timestamps.
// `view` (all optional): { zone: "browser" | "utc", unit, window: {from, to} in epoch
// ms (the x axis is held to it), onZoom(from, to) (dragging across the plot selects a
// range and calls it instead of zooming in place) }.
// A series may be `{ marker: true }` (points only, e.g. anomalies) or
// `{ band: "upper" | "lower" }` (the two edges of a shaded interval).
// `view.thresholds` ([{ value, color }]) are drawn as dashed horizontal lines in their
// colours, where they fall within the y axis.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { PALETTE, element, labelText } from "../format.js";
import { colorHex, sortedThresholds } from "../thresholds.js";
import { clock, dateTime } from "../time.js";
import { formatValue } from "../units.js";
import { aligned, clipped } from "./series.js";

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

function lastIndex(column) {
  for (let i = column.length - 1; i >= 0; i -= 1) if (column[i] !== null && column[i] !== undefined) return i;
  return -1;
}

const UTC = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

// The y axis as wide as its longest label (units make them long: "150.0 ms").
function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let width = axis.ticks.size + axis.gap;
  const longest = (values ?? []).reduce((a, b) => (b.length > a.length ? b : a), "");
  if (longest) {
    u.ctx.font = axis.font[0];
    width += u.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(width) + 4;
}

// A uPlot `draw` hook: one dashed line per threshold inside the y range; records how
// many were drawn on `root`.
function thresholdLines(thresholds, root) {
  return (u) => {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    let drawn = 0;
    ctx.save();
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
    for (const threshold of thresholds) {
      const y = u.valToPos(threshold.value, "y", true);
      if (!Number.isFinite(y) || y < top || y > top + height) continue;
      ctx.strokeStyle = colorHex(threshold.color) ?? "#9aa4b2";
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
      drawn += 1;
    }
    ctx.restore();
    root.dataset.thresholdsDrawn = String(drawn);
  };
}

export function createChart(body, widget, view = {}) {
  const root = element("div", "chart");
  const empty = element("p", "empty", "No data in this range.");
  body.append(root, empty);
  const zone = view.zone ?? "browser";
  const unit = view.unit ?? "none";
  const thresholds = sortedThresholds(view.thresholds);
  let plot = null;
  let shape = "";

  const observer = new ResizeObserver(() => {
    if (!plot) return;
    const next = size(root);
    if (next.width !== plot.width || next.height !== plot.height) plot.setSize(next);
  });
  observer.observe(root);

  // Before any hover the legend shows the latest values, not "--".
  const timeValue = (u, ts, sidx, idx) => {
    if (idx === null) {
      const i = lastIndex(u.data[0]);
      return i < 0 ? "" : `latest ${clock(u.data[0][i] * 1000, zone, true)}`;
    }
    return ts === null ? "" : dateTime(ts * 1000, zone);
  };
  const seriesValue = (u, v, sidx, idx) => {
    if (idx === null) {
      const i = lastIndex(u.data[sidx]);
      return i < 0 ? "–" : formatValue(u.data[sidx][i], unit);
    }
    return formatValue(v, unit);
  };

  function build(series, data) {
    const legend = root.querySelector(".u-legend");
    if (legend) observer.unobserve(legend);
    plot?.destroy();
    const area = widget.style === "AREA";
    const upper = series.findIndex((s) => s.band === "upper");
    const lower = series.findIndex((s) => s.band === "lower");
    const window = view.window;
    const axis = { stroke: "#9aa4b2", grid: { stroke: "#2a3140" }, ticks: { stroke: "#2a3140" } };
    plot = new uPlot(
      {
        ...size(root),
        ...(zone === "utc" ? { tzDate: UTC } : {}),
        legend: { show: series.length > 1 },
        cursor: {
          points: { size: 5 },
          drag: { x: Boolean(view.onZoom), y: false, setScale: !view.onZoom },
        },
        scales: {
          x: { time: true, ...(window ? { range: () => [window.from / 1000, window.to / 1000] } : {}) },
        },
        axes: [
          axis,
          { ...axis, size: axisSize, values: (u, splits) => splits.map((v) => formatValue(v, unit)) },
        ],
        bands: upper >= 0 && lower >= 0 ? [{ series: [upper + 1, lower + 1], fill: "#a98bf033" }] : [],
        hooks: {
          ...(view.onZoom ? {
            setSelect: [(u) => {
              if (u.select.width < 3) return;
              const from = u.posToVal(u.select.left, "x") * 1000;
              const to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              view.onZoom(Math.round(from), Math.round(to));
            }],
          } : {}),
          ...(thresholds.length ? { draw: [thresholdLines(thresholds, root)] } : {}),
        },
        series: [
          { label: zone === "utc" ? "Time (UTC)" : "Time", value: timeValue },
          ...series.map((s, i) => {
            const color = PALETTE[i % PALETTE.length];
            const label = labelText(s);
            if (s.marker) {
              // points only, e.g. detected anomalies over the metric's lines
              return {
                label, value: seriesValue,
                stroke: "#e36d6d",
                width: 0,
                paths: () => null,
                points: { show: true, size: 9, fill: "#e36d6d", stroke: "#e36d6d" },
              };
            }
            if (s.band) {
              return { label, value: seriesValue, stroke: "#a98bf088", width: 1, dash: [4, 4], spanGaps: true, points: { show: false } };
            }
            return {
              label, value: seriesValue,
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
    root.dataset.unit = unit;
    root.dataset.zone = zone;
    root.dataset.bands = String(upper >= 0 && lower >= 0 ? 1 : 0);
    root.dataset.thresholds = thresholds.map((t) => `${t.value}:${t.color}`).join(" ");
  }

  return {
    update(data) {
      // an absolute range is read as the relative one covering it: only its part is shown
      const series = clipped(data.series ?? [], view.window);
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
    plot: () => plot,
    destroy() {
      observer.disconnect();
      plot?.destroy();
    },
  };
}
