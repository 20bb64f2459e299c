// A heatmap: one row per series, one cell per bucket, coloured by value, with one
// time axis under the cells (in the chosen time zone) and the colour scale.
import { element } from "../format.js";
import { clock, zoneLabel } from "../time.js";
import { formatValue } from "../units.js";

// dark blue -> teal -> yellow (the gradient of .heatmap-gradient too)
const STOPS = [
  [0, [22, 38, 74]],
  [0.5, [32, 150, 140]],
  [1, [246, 214, 70]],
];

export function colour(fraction) {
  for (let i = 1; i < STOPS.length; i += 1) {
    const [end, high] = STOPS[i];
    const [start, low] = STOPS[i - 1];
    if (fraction <= end) {
      const f = (fraction - start) / (end - start);
      const rgb = low.map((c, j) => Math.round(c + (high[j] - c) * f));
      return `rgb(${rgb.join(",")})`;
    }
  }
  return "rgb(246,214,70)";
}

// Up to `count` column indexes spread evenly, the first and the last among them.
export function tickColumns(columns, count = 5) {
  if (columns <= 0) return [];
  if (columns <= count) return [...Array(columns).keys()];
  return [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * (columns - 1)) / (count - 1))))];
}

// [start, index] of the columns whose bucket overlaps `window` (all without one). A
// lone column's width is unknown: it is kept when it starts before the window ends (the
// server only answers buckets of the range it was asked).
export function windowColumns(timestamps, window) {
  const step = timestamps.length > 1 ? timestamps[1] - timestamps[0] : 0;
  return timestamps
    .map((t, c) => [t, c])
    .filter(([t]) => !window || (t <= window.to && (step === 0 || t + step > window.from)));
}

export function createHeatmap(body, widget, view = {}) {
  const zone = view.zone ?? "browser";
  const unit = view.unit ?? "none";
  const grid = element("div", "heatmap");
  const scale = element("div", "heatmap-scale");
  const empty = element("p", "empty", "No data in this range.");
  body.append(grid, scale, empty);
  return {
    update(data) {
      const columns = windowColumns(data.timestamps, view.window);
      const rows = data.rowLabels;
      const cells = rows.flatMap((_, r) => columns.map(([, c]) => data.values[r][c])).filter((v) => v !== null);
      body.dataset.points = String(cells.length);
      empty.hidden = cells.length > 0;
      grid.hidden = scale.hidden = cells.length === 0;
      const low = Math.min(...cells);
      const high = Math.max(...cells);
      grid.replaceChildren();
      grid.dataset.zone = zone;
      grid.style.gridTemplateColumns = `max-content repeat(${columns.length}, 1fr)`;
      grid.style.gridTemplateRows = `repeat(${rows.length}, minmax(12px, 1fr)) auto`;
      rows.forEach((row, r) => {
        grid.append(element("div", "heatmap-label", row));
        for (const [t, c] of columns) {
          const value = data.values[r][c];
          const cell = element("div", "heatmap-cell");
          cell.title = `${row} · ${clock(t, zone)} ${zoneLabel(zone)} · ${value === null ? "no data" : formatValue(value, unit)}`;
          if (value !== null) {
            cell.style.background = colour(high > low ? (value - low) / (high - low) : 1);
          }
          grid.append(cell);
        }
      });
      if (columns.length > 0) {
        const axis = element("div", "heatmap-axis");
        axis.style.gridColumn = `2 / span ${columns.length}`;
        const ticks = tickColumns(columns.length);
        for (const i of ticks) {
          const tick = element("span", "", clock(columns[i][0], zone));
          tick.style.left = `${columns.length > 1 ? (i / (columns.length - 1)) * 100 : 0}%`;
          axis.append(tick);
        }
        axis.title = zoneLabel(zone);
        grid.append(element("div", "heatmap-label", zoneLabel(zone)), axis);
      }
      scale.replaceChildren(
        element("span", "heatmap-min", formatValue(low, unit)),
        element("span", "heatmap-gradient"),
        element("span", "heatmap-max", formatValue(high, unit)),
      );
    },
    destroy() {},
  };
}
