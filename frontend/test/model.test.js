import assert from "node:assert/strict";
import { test } from "node:test";
import {
  draftFromJson, emptyQuery, fromGraphQL, newWidgetId, normalizeQuery, querySummary, toInput, widgetFromJson,
} from "../src/editor/model.js";

const READ_SHAPE = {
  id: "d1", version: 3, name: "Ops", layout: "GRID", timeRange: "6h",
  variables: [{ name: "host", label: "Host", default: "", options: ["a", "b"] }],
  widgets: [
    {
      id: "w1", type: "CHART", title: "CPU", style: "AREA", position: { x: 0, y: 0, w: 6, h: 4 },
      query: { kind: "METRIC", name: "cpu_usage", formula: "", labels: { host: "$host" }, aggregation: "MAX", step: "5m", groupBy: ["host"], last: null, source: "STORE" },
    },
    {
      id: "w2", type: "KPI", title: "", style: "LINE", position: { x: 6, y: 0, w: 3, h: 2 },
      query: { kind: "EVENTS", name: "song_play", formula: "", labels: {}, aggregation: null, step: null, groupBy: ["country"], last: "24h", source: "STORE" },
    },
    { id: "w3", type: "ALERTS", title: "Alerts", style: "LINE", position: { x: 9, y: 0, w: 3, h: 4 }, query: null },
  ],
};

test("the read shape becomes DashboardInput", () => {
  const input = toInput(fromGraphQL(READ_SHAPE));
  assert.equal(input.timeRange, "6h");
  assert.deepEqual(input.variables, [{ name: "host", label: "Host", default: "", options: ["a", "b"] }]);
  assert.deepEqual(input.widgets[0].query, {
    name: "cpu_usage", labels: { host: "$host" }, aggregation: "MAX", step: "5m", groupBy: ["host"], source: "STORE",
  });
  assert.deepEqual(input.widgets[1].events, { type: "song_play", groupBy: "country", last: "24h" });
  assert.equal(input.widgets[2].query, undefined);
});

test("an exported dashboard imports back to the same input", () => {
  const input = toInput(fromGraphQL(READ_SHAPE));
  assert.deepEqual(toInput(draftFromJson(JSON.parse(JSON.stringify(input)))), input);
});

test("draftFromJson refuses what is no dashboard", () => {
  assert.throws(() => draftFromJson({ name: "x" }), /not a dashboard/);
  assert.throws(() => draftFromJson({ name: " ", widgets: [] }), /needs a name/);
  assert.throws(() => widgetFromJson({ type: "PIE" }), /type must be one of/);
  assert.throws(() => widgetFromJson({ type: "CHART", data: "system_health" }), /named data sources/);
});

test("normalizeQuery checks kinds, aggregations and groupBy", () => {
  assert.equal(normalizeQuery(null), null);
  assert.throws(() => normalizeQuery({ kind: "SQL" }), /query kind/);
  assert.throws(() => normalizeQuery({ kind: "METRIC", aggregation: "MEDIAN" }), /aggregation/);
  assert.throws(() => normalizeQuery({ kind: "METRIC", groupBy: "host" }), /groupBy/);
  assert.deepEqual(normalizeQuery({ kind: "METRIC", name: "x", labels: { n: 1 } }).labels, { n: "1" });
  assert.equal(emptyQuery("EVENTS").aggregation, null);
});

test("querySummary and newWidgetId", () => {
  assert.equal(querySummary(READ_SHAPE.widgets[0].query), 'cpu_usage{host="$host"} · MAX · step 5m · by host');
  assert.equal(querySummary(null), "no query");
  assert.equal(newWidgetId(new Set(["w1", "w2"])), "w3");
});

test("unit and thresholds go from the read shape to DashboardInput and back from JSON", () => {
  const shape = structuredClone(READ_SHAPE);
  shape.variables = [{ name: "host", label: "Host", default: "", options: ["a", "b"], optionsMetric: "cpu_usage", optionsLabel: "host" }];
  Object.assign(shape.widgets[0], { unit: "PERCENT", thresholds: [{ value: 0.9, color: "red" }, { value: 0, color: "green" }] });
  const draft = fromGraphQL(shape);
  assert.equal(draft.widgets[0].unit, "percent");
  assert.equal(draft.widgets[1].unit, null);
  const input = toInput(draft);
  assert.equal(input.widgets[0].unit, "PERCENT");
  assert.deepEqual(input.widgets[0].thresholds, [{ value: 0.9, color: "red" }, { value: 0, color: "green" }]);
  assert.equal(input.widgets[1].unit, null);
  assert.deepEqual(input.widgets[1].thresholds, []);
  // a variable fed by a metric stays so, without the values it offered
  assert.deepEqual(input.variables, [{ name: "host", label: "Host", default: "", optionsMetric: "cpu_usage", optionsLabel: "host" }]);
  assert.deepEqual(toInput(draftFromJson(JSON.parse(JSON.stringify(input)))), input);
  // the REST shape's lower-case unit is taken too; what the gateway would refuse is refused
  assert.equal(widgetFromJson({ type: "KPI", metric: "x", unit: "ms" }).unit, "ms");
  assert.throws(() => widgetFromJson({ type: "KPI", metric: "x", unit: "furlongs" }), /unit must be one of/);
  assert.throws(() => widgetFromJson({ type: "KPI", metric: "x", thresholds: [{ value: 1, color: "mauve" }] }), /colour/);
  assert.throws(() => widgetFromJson({ type: "KPI", metric: "x", thresholds: [{ value: "high", color: "red" }] }), /number/);
});
