import assert from "node:assert/strict";
import { test } from "node:test";
import { fileName, parseJson } from "../src/editor/json-io.js";

test("fileName makes a safe slug", () => {
  assert.equal(fileName("Music platform: overview!"), "music-platform-overview.json");
  assert.equal(fileName("???"), "dashboard.json");
});

test("parseJson says what is wrong", () => {
  assert.deepEqual(parseJson('{"a": 1}'), { a: 1 });
  assert.throws(() => parseJson("{nope"), /That is not JSON/);
});
