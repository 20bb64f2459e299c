import assert from "node:assert/strict";
import { test } from "node:test";
import { exploreHash, metricQuery, panelQuery, parseExplore } from "../src/explore/state.js";
import { normalizeQuery, widgetInput } from "../src/editor/model.js";

const parse = (hash) => parseExplore(new URLSearchParams(hash.split("?")[1] ?? ""));

test("the address round-trips", () => {
  const state = { metric: "cpu_usage", labels: { host: "web-1" }, aggregation: "MAX", step: "5m", groupBy: "host", range: "6h", from: null, to: null };
  const hash = exploreHash(state);
  assert.equal(hash, "#/explore?metric=cpu_usage&label.host=web-1&agg=MAX&step=5m&by=host&range=6h");
  assert.deepEqual(parse(hash), state);
  assert.deepEqual(parse("#/explore"), { metric: "", labels: {}, aggregation: "AVG", step: "", groupBy: "", range: "1h", from: null, to: null });
  assert.equal(parse("#/explore?agg=MEDIAN").aggregation, "AVG");
  assert.equal(parse("#/explore?from=10&to=5").from, null);
});

test("metricQuery: relative with the auto step, or absolute", () => {
  const state = parse("#/explore?metric=error_rate");
  assert.deepEqual(metricQuery(state), { name: "error_rate", labels: null, aggregation: "AVG", step: "30s", groupBy: null, last: "1h" });
  const absolute = parse(`#/explore?metric=x&label.a=b&by=a&from=${Date.UTC(2026, 0, 1)}&to=${Date.UTC(2026, 0, 2)}`);
  const query = metricQuery(absolute);
  assert.equal(query.from, "2026-01-01T00:00:00.000Z");
  assert.equal(query.to, "2026-01-02T00:00:00.000Z");
  assert.equal(query.last, undefined);
  assert.equal(query.step, "15m");
  assert.deepEqual([query.labels, query.groupBy], [{ a: "b" }, ["a"]]);
});

test("panelQuery is a valid editor query and a WidgetInput", () => {
  const state = parse("#/explore?metric=cpu_usage&label.host=web-1&agg=P95&by=host");
  const query = panelQuery(state);
  assert.deepEqual(normalizeQuery(query), query);
  const input = widgetInput({ id: "w9", type: "CHART", title: "t", style: "LINE", position: { x: 0, y: 0, w: 6, h: 4 }, query });
  assert.deepEqual(input.query, { name: "cpu_usage", labels: { host: "web-1" }, aggregation: "P95", groupBy: ["host"], source: "STORE" });
});
