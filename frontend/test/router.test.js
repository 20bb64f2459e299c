import assert from "node:assert/strict";
import { test } from "node:test";
import { dashboardHash, editorHash, parseHash } from "../src/router.js";

test("parseHash names the view", () => {
  assert.equal(parseHash("").view, "list");
  assert.equal(parseHash("#/").view, "list");
  assert.deepEqual({ ...parseHash("#/new"), params: null }, { view: "editor", id: null, params: null });
  const dashboard = parseHash("#/d/a%20b?range=6h");
  assert.equal(dashboard.view, "dashboard");
  assert.equal(dashboard.id, "a b");
  assert.equal(dashboard.params.get("range"), "6h");
  assert.equal(parseHash("#/d/x/edit").view, "editor");
  assert.equal(parseHash("#/explore?metric=cpu_usage").view, "explore");
  const alerts = parseHash("#/alerts/rules/r1/edit");
  assert.deepEqual([alerts.view, alerts.page, alerts.id, alerts.action], ["alerts", "rules", "r1", "edit"]);
  assert.equal(parseHash("#/alerts").page, "rules");
});

test("hashes round-trip through parseHash", () => {
  assert.equal(dashboardHash("a/b"), "#/d/a%2Fb");
  assert.equal(parseHash(editorHash("a/b")).id, "a/b");
});
