// A table: one row per series with its summary; with thresholds, each row's last value
// takes the colour of the highest one it reaches.
import { element, labelText } from "../format.js";
import { colorHex, thresholdColor } from "../thresholds.js";
import { formatValue } from "../units.js";

const COLUMNS = ["last", "avg", "min", "max", "count"];

export function createTable(body, widget, view = {}) {
  const table = element("table", "summary-table");
  const head = element("tr");
  head.append(element("th", "", "series"), ...COLUMNS.map((c) => element("th", "num", c)));
  const rows = element("tbody");
  table.append(element("thead"), rows);
  table.tHead.append(head);
  body.append(table);
  return {
    update(data) {
      body.dataset.points = String(data.rows.length);
      rows.replaceChildren(
        ...data.rows.map((series) => {
          const row = element("tr");
          row.append(element("td", "", labelText(series)));
          for (const column of COLUMNS) {
            const value = series.summary[column];
            const cell = element("td", "num", column === "count" ? String(value) : formatValue(value, view.unit));
            if (column === "last") {
              const color = thresholdColor(value, view.thresholds);
              cell.dataset.threshold = color ?? "";
              cell.style.color = colorHex(color) ?? "";
            }
            row.append(cell);
          }
          return row;
        }),
      );
    },
    destroy() {},
  };
}
