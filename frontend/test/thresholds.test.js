import assert from "node:assert/strict";
import { test } from "node:test";
import { colorHex, thresholdColor, thresholdsProblem } from "../src/thresholds.js";

const STEPS = [{ value: 0.05, color: "red" }, { value: 0, color: "green" }, { value: 0.01, color: "orange" }];

test("a value takes the colour of the highest threshold it reaches, in any order given", () => {
  assert.equal(thresholdColor(0, STEPS), "green");
  assert.equal(thresholdColor(0.009, STEPS), "green");
  assert.equal(thresholdColor(0.01, STEPS), "orange");
  assert.equal(thresholdColor(0.2, STEPS), "red");
});

test("no colour below every threshold, without thresholds or without a value", () => {
  assert.equal(thresholdColor(-1, STEPS), null);
  assert.equal(thresholdColor(5, []), null);
  assert.equal(thresholdColor(5, undefined), null);
  assert.equal(thresholdColor(null, STEPS), null);
  assert.equal(thresholdColor(Number.NaN, STEPS), null);
});

test("colours are the gateway's palette", () => {
  assert.equal(colorHex("red"), "#e36d6d");
  assert.equal(colorHex("purple"), null);
  assert.equal(thresholdsProblem(STEPS), null);
  assert.match(thresholdsProblem([{ value: 1, color: "purple" }]), /colour/);
  assert.match(thresholdsProblem([{ value: 1, color: "red" }, { value: 1, color: "blue" }]), /same value/);
  assert.match(thresholdsProblem([{ value: Number.NaN, color: "red" }]), /number/);
});
