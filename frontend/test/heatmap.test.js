import assert from "node:assert/strict";
import { test } from "node:test";
import { colour, tickColumns, windowColumns } from "../src/widgets/heatmap.js";

test("the colour scale runs from dark blue to yellow", () => {
  assert.equal(colour(0), "rgb(22,38,74)");
  assert.equal(colour(0.5), "rgb(32,150,140)");
  assert.equal(colour(1), "rgb(246,214,70)");
});

test("one time axis: ticks spread over the columns, first and last among them", () => {
  assert.deepEqual(tickColumns(0), []);
  assert.deepEqual(tickColumns(3), [0, 1, 2]);
  assert.deepEqual(tickColumns(25), [0, 6, 12, 18, 24]);
});

test("an absolute window keeps the buckets it overlaps", () => {
  const hour = 3_600_000;
  const stamps = [0, hour, 2 * hour, 3 * hour];
  assert.deepEqual(windowColumns(stamps, null).map(([, c]) => c), [0, 1, 2, 3]);
  // 01:20 to 01:40 lies within the 01:00 bucket
  assert.deepEqual(windowColumns(stamps, { from: hour + 1_200_000, to: hour + 2_400_000 }), [[hour, 1]]);
  assert.deepEqual(windowColumns(stamps, { from: hour + 1, to: 2 * hour }).map(([, c]) => c), [1, 2]);
  // a lone bucket that starts before the window is kept, one after it is not
  assert.deepEqual(windowColumns([hour], { from: hour + 1_200_000, to: hour + 2_400_000 }), [[hour, 0]]);
  assert.deepEqual(windowColumns([3 * hour], { from: hour, to: 2 * hour }), []);
});
