// A heatmap: one row per series, one cell per bucket, coloured by value.
import { element, formatNumber, formatTime } from "../format.js";

// dark blue -> teal -> yellow
const STOPS = [
  [0, [22, 38, 74]],
  [0.5, [32, 150, 140]],
  [1, [246, 214, 70]],
];

function colour(fraction) {
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

export function createHeatmap(body) {
  const grid = element("div", "heatmap");
  const empty = element("p", "empty", "No data in this range.");
  body.append(grid, empty);
  return {
    update(data) {
      const rows = data.rowLabels;
      const cells = data.values.flat().filter((v) => v !== null);
      body.dataset.points = String(cells.length);
      empty.hidden = cells.length > 0;
      grid.hidden = cells.length === 0;
      const low = Math.min(...cells);
      const high = Math.max(...cells);
      grid.replaceChildren();
      grid.style.gridTemplateColumns = `max-content repeat(${data.timestamps.length}, 1fr)`;
      grid.style.gridTemplateRows = `repeat(${rows.length}, minmax(12px, 1fr)) auto`;
      rows.forEach((row, r) => {
        grid.append(element("div", "heatmap-label", row));
        data.values[r].forEach((value, c) => {
          const cell = element("div", "heatmap-cell");
          const when = formatTime(data.timestamps[c]);
          cell.title = `${row} · ${when} UTC · ${value === null ? "no data" : formatNumber(value)}`;
          if (value !== null) {
            cell.style.background = colour(high > low ? (value - low) / (high - low) : 1);
          }
          grid.append(cell);
        });
      });
      if (data.timestamps.length > 0) {
        const axis = element("div", "heatmap-axis");
        axis.style.gridColumn = `2 / span ${data.timestamps.length}`;
        axis.append(
          element("span", "", formatTime(data.timestamps[0])),
          element("span", "", `${formatTime(data.timestamps[data.timestamps.length - 1])} UTC`),
        );
        grid.append(element("div"), axis);
      }
    },
    destroy() {},
  };
}
