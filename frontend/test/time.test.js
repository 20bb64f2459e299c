import assert from "node:assert/strict";
import { test } from "node:test";
import {
  autoStep, clock, dateTime, durationMs, fromInputValue, parseRoute, plan, rangeProblem, refreshMs, routeOf,
  toInputValue,
} from "../src/time.js";

test("parseRoute reads relative and absolute ranges, refresh and variables", () => {
  const relative = parseRoute("#/d/demo?range=6h&var.country=DE");
  assert.deepEqual(relative, { id: "demo", range: "6h", from: null, to: null, refresh: "live", vars: { country: "DE" }, view: null });
  const absolute = parseRoute("#/d/demo?from=1000&to=5000&refresh=off&range=1h");
  assert.deepEqual([absolute.from, absolute.to, absolute.range, absolute.refresh], [1000, 5000, null, "off"]);
  // a window ending before it starts, or half given, is ignored
  assert.equal(parseRoute("#/d/demo?from=5000&to=1000").from, null);
  assert.equal(parseRoute("#/d/demo?from=5000").from, null);
  assert.equal(parseRoute("#/d/demo?refresh=2s").refresh, "live");
});

test("routeOf round-trips", () => {
  const route = { range: null, from: 1000, to: 5000, refresh: "30s" };
  const hash = routeOf("my board", route, { country: "DE", host: "" });
  assert.equal(hash, "#/d/my%20board?from=1000&to=5000&refresh=30s&var.country=DE");
  assert.deepEqual(parseRoute(hash), { id: "my board", ...route, vars: { country: "DE" }, view: null });
  assert.equal(routeOf("x", { range: "6h" }), "#/d/x?range=6h");
});

test("an absolute range is sent to the gateway as from/to", () => {
  const now = Date.UTC(2026, 11, 6, 10, 0, 0);
  const absolute = plan({ range: null, from: now - 3_600_000, to: now - 1_800_000, refresh: "live" });
  assert.deepEqual(absolute, {
    timeRange: null, from: "2026-12-06T09:00:00.000Z", to: "2026-12-06T09:30:00.000Z",
    window: { from: now - 3_600_000, to: now - 1_800_000 }, live: false,
  });
  assert.deepEqual(plan({ range: "6h", from: null, to: null, refresh: "off" }),
    { timeRange: "6h", from: null, to: null, window: null, live: false });
});

test("a panel shown full screen is kept in the address", () => {
  const hash = routeOf("x", { range: "6h", view: "w3" }, { country: "DE" });
  assert.equal(hash, "#/d/x?range=6h&var.country=DE&view=w3");
  assert.equal(parseRoute(hash).view, "w3");
  assert.equal(parseRoute("#/d/x?range=6h").view, null);
});

test("durations and refresh intervals", () => {
  assert.equal(durationMs("5m"), 300_000);
  assert.equal(durationMs("1.5h"), 5_400_000);
  assert.equal(durationMs("soon"), null);
  assert.equal(refreshMs("30s"), 30_000);
  assert.equal(refreshMs("live"), null);
  assert.equal(refreshMs("off"), null);
});

test("clock and inputs in UTC", () => {
  const t = Date.UTC(2026, 11, 6, 9, 5, 7);
  assert.equal(clock(t, "utc"), "09:05");
  assert.equal(clock(t, "utc", true), "09:05:07");
  assert.equal(dateTime(t, "utc"), "2026-12-06 09:05");
  assert.equal(toInputValue(t, "utc"), "2026-12-06T09:05");
  assert.equal(fromInputValue("2026-12-06T09:05", "utc"), Date.UTC(2026, 11, 6, 9, 5));
  assert.equal(fromInputValue("yesterday", "utc"), null);
});

test("browser time round-trips through the input value", () => {
  const t = Date.UTC(2026, 5, 1, 12, 30);
  assert.equal(fromInputValue(toInputValue(t, "browser"), "browser"), t);
});

test("autoStep keeps to at most 120 buckets, as the gateway does", () => {
  assert.equal(autoStep("15m"), "10s");
  assert.equal(autoStep("1h"), "30s");
  assert.equal(autoStep("6h"), "5m");
  assert.equal(autoStep("24h"), "15m");
  assert.equal(autoStep("7d"), "6h");
  assert.equal(autoStep("nonsense"), "30s");
});

test("rangeProblem: in order, and within the 366 days the gateway reads", () => {
  const now = Date.UTC(2026, 11, 6);
  assert.equal(rangeProblem(now - 1000, now, now), null);
  assert.equal(rangeProblem(now, now - 1000, now), "From must be before To.");
  assert.equal(rangeProblem(null, now, now), "From must be before To.");
  assert.equal(rangeProblem(now - 400 * 86_400_000, now, now), "The range can start at most 366 days ago.");
});
