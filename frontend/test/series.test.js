import assert from "node:assert/strict";
import { test } from "node:test";
import { aligned, clipped } from "../src/widgets/series.js";

const a = { name: "a", data: { t: [1000, 2000, 3000], v: [1, 2, 3] } };
const b = { name: "b", data: { t: [2000, 4000], v: [20, 40] } };

test("aligned puts series on the union of their timestamps, in seconds", () => {
  assert.deepEqual(aligned([a, b]), [[1, 2, 3, 4], [1, 2, 3, null], [null, 20, null, 40]]);
});

test("clipped keeps the points within the window", () => {
  assert.deepEqual(clipped([a, b], null), [a, b]);
  const [ca, cb] = clipped([a, b], { from: 2000, to: 3000 });
  assert.deepEqual(ca.data, { t: [2000, 3000], v: [2, 3] });
  assert.deepEqual(cb.data, { t: [2000], v: [20] });
});
