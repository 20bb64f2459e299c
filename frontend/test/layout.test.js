import assert from "node:assert/strict";
import { test } from "node:test";
import { bottomRow, clampRect, freeSlot, overlaps, place } from "../src/editor/layout.js";

test("clampRect keeps a panel on the 12-column grid", () => {
  assert.deepEqual(clampRect({ x: 11, y: -2, w: 4, h: 0 }), { x: 8, y: 0, w: 4, h: 1 });
  assert.deepEqual(clampRect({ x: 0, y: 0, w: 20, h: 99 }), { x: 0, y: 0, w: 12, h: 24 });
});

test("overlaps is strict at the edges", () => {
  assert.equal(overlaps({ x: 0, y: 0, w: 6, h: 4 }, { x: 6, y: 0, w: 6, h: 4 }), false);
  assert.equal(overlaps({ x: 0, y: 0, w: 6, h: 4 }, { x: 5, y: 3, w: 2, h: 2 }), true);
});

test("place pushes covered panels down below the moved one", () => {
  const positions = new Map([
    ["a", { x: 0, y: 0, w: 6, h: 4 }],
    ["b", { x: 6, y: 0, w: 6, h: 4 }],
  ]);
  const next = place(positions, "a", { x: 6, y: 0, w: 6, h: 2 });
  assert.deepEqual(next.get("a"), { x: 6, y: 0, w: 6, h: 2 });
  assert.deepEqual(next.get("b"), { x: 6, y: 2, w: 6, h: 4 });
});

test("freeSlot finds the first gap, else the bottom", () => {
  const positions = new Map([["a", { x: 0, y: 0, w: 6, h: 4 }]]);
  assert.deepEqual(freeSlot(positions, 6, 4), { x: 6, y: 0, w: 6, h: 4 });
  positions.set("b", { x: 6, y: 0, w: 6, h: 4 });
  assert.deepEqual(freeSlot(positions, 12, 2), { x: 0, y: 4, w: 12, h: 2 });
  assert.equal(bottomRow(positions), 4);
});
