import assert from "node:assert/strict";
import { test } from "node:test";
import { detectUnit, formatValue, resolveUnit, risingIsBad } from "../src/units.js";

test("units of the demo metrics come from their names", () => {
  assert.equal(detectUnit("error_rate"), "percent");
  assert.equal(detectUnit("conversion_rate"), "percent");
  assert.equal(detectUnit("request_latency_ms"), "ms");
  assert.equal(detectUnit("revenue"), "currency");
  assert.equal(detectUnit("response_bytes"), "bytes");
  assert.equal(detectUnit("song_plays"), "none");
  assert.equal(detectUnit("active_users"), "none");
  assert.equal(detectUnit(null), "none");
});

test("a chosen unit wins over the detected one", () => {
  assert.equal(resolveUnit("auto", "error_rate"), "percent");
  assert.equal(resolveUnit("none", "error_rate"), "none");
  assert.equal(resolveUnit("furlongs", "revenue"), "currency");
});

test("formatValue per unit", () => {
  assert.equal(formatValue(0.0123, "percent"), "1.23%");
  assert.equal(formatValue(0.5, "percent"), "50.0%");
  assert.equal(formatValue(250, "ms"), "250.0 ms");
  assert.equal(formatValue(1500, "ms"), "1.50 s");
  assert.equal(formatValue(1536, "bytes"), "1.50 KiB");
  assert.equal(formatValue(512, "bytes"), "512 B");
  assert.equal(formatValue(1234.5, "currency"), "$1,234.50");
  assert.equal(formatValue(12345, "none"), "12,345");
  assert.equal(formatValue(null, "percent"), "–");
});

test("rising errors and latency are bad news", () => {
  assert.equal(risingIsBad("error_rate"), true);
  assert.equal(risingIsBad("request_latency_ms"), true);
  assert.equal(risingIsBad("revenue"), false);
  assert.equal(risingIsBad("active_users"), false);
});
