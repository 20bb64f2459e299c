import assert from "node:assert/strict";
import { test } from "node:test";
import { csvCell, csvFileName, panelCsv, seriesCsv } from "../src/csv.js";

const T0 = Date.UTC(2026, 11, 6, 14, 0, 0);

test("one time column in ISO-8601 UTC and one column per series, on the union of times", () => {
  const csv = seriesCsv([
    { name: "cpu", labels: { host: "a" }, data: { t: [T0, T0 + 60_000], v: [1.5, 2] } },
    { name: "cpu", labels: { host: "b" }, data: { t: [T0 + 60_000, T0 + 120_000], v: [3, null] } },
  ]);
  assert.equal(csv, [
    "time,a,b",
    "2026-12-06T14:00:00.000Z,1.5,",
    "2026-12-06T14:01:00.000Z,2,3",
    "2026-12-06T14:02:00.000Z,,",
    "",
  ].join("\r\n"));
});

test("cells with commas, quotes or line breaks are quoted", () => {
  assert.equal(csvCell('say "hi", then'), '"say ""hi"", then"');
  assert.equal(csvCell("two\nlines"), '"two\nlines"');
  assert.equal(csvCell(0), "0");
  assert.equal(csvCell(undefined), "");
  const csv = seriesCsv([{ name: "x", labels: { a: "1", b: "2" }, data: { t: [T0], v: [1] } }]);
  assert.equal(csv.split("\r\n")[0], 'time,"a=1, b=2"');
});

test("every panel type with series exports them; tables export their summaries", () => {
  const kpi = panelCsv({ __typename: "KpiData", sparkline: { t: [T0], v: [42] } }, "Revenue");
  assert.equal(kpi, "time,Revenue\r\n2026-12-06T14:00:00.000Z,42\r\n");
  const heatmap = panelCsv({ __typename: "HeatmapData", rowLabels: ["DE", "US"], timestamps: [T0], values: [[1], [null]] });
  assert.equal(heatmap, "time,DE,US\r\n2026-12-06T14:00:00.000Z,1,\r\n");
  const table = panelCsv({ __typename: "TableData", rows: [{ name: "cpu", labels: { host: "a" }, summary: { count: 2, min: 1, max: 2, avg: 1.5, last: 2 } }] });
  assert.equal(table, "series,count,min,max,avg,last\r\na,2,1,2,1.5,2\r\n");
  assert.equal(panelCsv({ __typename: "AlertsData", alerts: [] }), null);
  assert.equal(panelCsv({ __typename: "ChartData", series: [] }), null);
  assert.equal(csvFileName("CPU usage ($host)"), "cpu-usage-host.csv");
});
