import assert from "node:assert/strict";
import { test } from "node:test";
import { formatChange, formatNumber, interpolate, labelText } from "../src/format.js";

test("formatNumber scales and rounds", () => {
  assert.equal(formatNumber(null), "–");
  assert.equal(formatNumber(Number.NaN), "–");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(0.012345), "0.0123");
  assert.equal(formatNumber(1.5), "1.50");
  assert.equal(formatNumber(123.45), "123.5");
  assert.equal(formatNumber(12345), "12,345");
  assert.equal(formatNumber(2_500_000), "2.50M");
  assert.equal(formatNumber(-3e9), "-3.00B");
});

test("formatChange signs the percentage", () => {
  assert.equal(formatChange(0.1234), "▲ +12.3%");
  assert.equal(formatChange(-0.05), "▼ -5.0%");
  assert.equal(formatChange(null), "");
});

test("labelText names a series by its labels", () => {
  assert.equal(labelText({ name: "cpu", labels: {} }), "cpu");
  assert.equal(labelText({ name: "cpu", labels: { host: "a" } }), "a");
  assert.equal(labelText({ name: "cpu", labels: { host: "a", dc: "x" } }), "host=a, dc=x");
});

test("interpolate puts variable values in titles", () => {
  const vars = [{ name: "country", value: "DE" }, { name: "host", value: "" }];
  assert.equal(interpolate("Plays in $country", vars), "Plays in DE");
  assert.equal(interpolate("CPU ${host}", vars), "CPU All");
  assert.equal(interpolate("$unknown stays", vars), "$unknown stays");
});
