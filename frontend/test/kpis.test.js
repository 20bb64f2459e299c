import assert from "node:assert/strict";
import { test } from "node:test";
import { BLANK_KPI, changeIsGood, kpiForm, kpiInput, unitName } from "../src/kpis/model.js";

test("kpiInput maps the form to KpiInput: blank target and unit are none", () => {
  assert.deepEqual(kpiInput({ ...BLANK_KPI, name: " Plays ", formula: " song_plays ", description: " total " }), {
    name: "Plays", formula: "song_plays", aggregation: "SUM", unit: null, target: null,
    direction: "HIGHER", comparison: "PREVIOUS_PERIOD", description: "total",
  });
  const full = kpiInput({ name: "Latency", formula: "request_latency_ms", aggregation: "P95", unit: "MS", target: " 250.5 ",
    direction: "LOWER", comparison: "PREVIOUS_WEEK", description: "", labels: { endpoint: "/play" } });
  assert.deepEqual(full, { name: "Latency", formula: "request_latency_ms", aggregation: "P95", unit: "MS", target: 250.5,
    direction: "LOWER", comparison: "PREVIOUS_WEEK", description: "", labels: { endpoint: "/play" } });
  assert.equal(kpiInput({ ...BLANK_KPI, name: "z", formula: "a", target: "0" }).target, 0);
});

test("kpiInput refuses a missing name or formula and a target that is not a number", () => {
  assert.throws(() => kpiInput({ ...BLANK_KPI, formula: "a" }), /name/);
  assert.throws(() => kpiInput({ ...BLANK_KPI, name: "a" }), /formula/);
  assert.throws(() => kpiInput({ ...BLANK_KPI, name: "a", formula: "x".repeat(501) }), /500/);
  assert.throws(() => kpiInput({ ...BLANK_KPI, name: "a", formula: "b", target: "ten" }), /not a number/);
});

test("kpiForm and kpiInput round-trip a saved KPI", () => {
  const saved = { id: "k", version: 3, name: "Conv", formula: "signups / visits", aggregation: "SUM", unit: "PERCENT",
    target: 0.1, direction: "HIGHER", comparison: "PREVIOUS_PERIOD", description: "d", labels: {} };
  const values = kpiForm(saved);
  assert.equal(values.target, "0.1");
  assert.equal(values.labels, null);
  const { name, formula, aggregation, unit, target, direction, comparison, description } = saved;
  assert.deepEqual(kpiInput(values), { name, formula, aggregation, unit, target, direction, comparison, description });
  assert.deepEqual(kpiForm(null), BLANK_KPI);
  assert.equal(kpiForm({ ...saved, target: null, unit: null }).target, "");
});

test("changeIsGood follows the direction that is better", () => {
  assert.equal(changeIsGood(0.2, "HIGHER"), true);
  assert.equal(changeIsGood(0.2, "LOWER"), false);
  assert.equal(changeIsGood(-0.1, "LOWER"), true);
  assert.equal(changeIsGood(0, "HIGHER"), null);
  assert.equal(changeIsGood(null, "HIGHER"), null);
  assert.equal(unitName("CURRENCY"), "currency");
  assert.equal(unitName(null), "none");
});
