import assert from "node:assert/strict";
import { test } from "node:test";
import { FormProblem, generateVariables, namesOf, panelRows, pdfPath, reportInput, utcMinute } from "../src/reports/model.js";
import { parseHash } from "../src/router.js";

const form = (overrides = {}) => ({
  name: " Weekly ", kpis: ["k1", "k1"], period: "DAY", schedule: "  ", recipients: [],
  panels: [{ metric: " song_plays ", aggregation: "SUM", groupBy: "country, , plan", title: "" }, { metric: "  ", aggregation: "AVG" }],
  ...overrides,
});

test("reportInput trims, drops blank panels and splits groupBy", () => {
  assert.deepEqual(reportInput(form()), {
    name: "Weekly", kpis: ["k1"], period: "DAY", schedule: null, recipients: [],
    panels: [{ metric: "song_plays", aggregation: "SUM", groupBy: ["country", "plan"] }],
  });
  const titled = reportInput(form({ panels: [{ metric: "cpu", aggregation: "", groupBy: "", title: " CPU ", labels: { host: "a" } }] }));
  assert.deepEqual(titled.panels, [{ metric: "cpu", aggregation: "SUM", groupBy: null, title: "CPU", labels: { host: "a" } }]);
  assert.equal(reportInput(form({ period: "YEAR" })).period, "WEEK");
});

test("reportInput refuses what the server would, naming the field", () => {
  const problem = (values) => {
    try {
      reportInput(values);
    } catch (error) {
      assert.ok(error instanceof FormProblem);
      return error.field;
    }
    assert.fail("no problem found");
  };
  assert.equal(problem(form({ name: "  " })), "name");
  assert.equal(problem(form({ kpis: [], panels: [] })), "panels");
  assert.equal(problem(form({ panels: [{ metric: "a", groupBy: "w, x, y, z" }] })), "panels");
  assert.equal(problem(form({ panels: Array.from({ length: 9 }, (_, i) => ({ metric: `m${i}` })) })), "panels");
  assert.equal(problem(form({ recipients: ["c1"], schedule: "" })), "schedule");
  assert.deepEqual(reportInput(form({ recipients: ["c1", "c1"], schedule: "every day 07:30 UTC" })).recipients, ["c1"]);
});

test("panelRows gives a saved report's panels back as form rows", () => {
  const report = { panels: [
    { metric: "plays", aggregation: "SUM", groupBy: ["country"], title: "plays", labels: {} },
    { metric: "cpu", aggregation: "AVG", groupBy: null, title: "CPU", labels: { host: "a" } },
  ] };
  const rows = panelRows(report);
  assert.deepEqual(rows, [
    { metric: "plays", aggregation: "SUM", groupBy: "country", title: "", labels: null },
    { metric: "cpu", aggregation: "AVG", groupBy: "", title: "CPU", labels: { host: "a" } },
  ]);
  // and round-trip to the input they came from
  assert.deepEqual(reportInput({ name: "r", panels: rows }).panels, [
    { metric: "plays", aggregation: "SUM", groupBy: ["country"] },
    { metric: "cpu", aggregation: "AVG", groupBy: null, title: "CPU", labels: { host: "a" } },
  ]);
  assert.deepEqual(panelRows(null), []);
});

test("generateVariables: the last period, or from/to as UTC whole minutes", () => {
  assert.deepEqual(generateVariables("r1"), { id: "r1", period: "LAST" });
  assert.deepEqual(generateVariables("r1", { window: "range", from: "2026-12-01T08:30", to: "2026-12-02T08:30:45" }),
    { id: "r1", from: "2026-12-01T08:30:00.000Z", to: "2026-12-02T08:30:00.000Z" });
  assert.throws(() => generateVariables("r1", { window: "range", from: "2026-12-01T08:30", to: "" }), FormProblem);
  assert.throws(() => generateVariables("r1", { window: "range", from: "2026-12-02T00:00", to: "2026-12-01T00:00" }), /after the start/);
  assert.throws(() => generateVariables("r1", { window: "range", from: "2026-11-01T00:00", to: "2026-12-02T00:01" }), /31 days/);
  assert.ok(generateVariables("r1", { window: "range", from: "2026-11-01T00:00", to: "2026-12-02T00:00" }).to);
  assert.equal(utcMinute("not a time"), null);
});

test("pdfPath names the period generated and escapes the id", () => {
  const path = pdfPath("a/b", { from: "2026-12-01T00:00:00Z", to: "2026-12-02T00:00:00Z" });
  const url = new URL(path, "http://gateway");
  assert.equal(url.pathname, "/analytics/reports/a%2Fb/pdf");
  assert.equal(url.searchParams.get("from"), "2026-12-01T00:00:00Z");
  assert.equal(url.searchParams.get("to"), "2026-12-02T00:00:00Z");
  assert.ok(!path.includes("key") && !path.includes("Bearer"));
});

test("namesOf shows ids by name, unknown ones as themselves", () => {
  assert.deepEqual(namesOf(["c1", "gone"], [{ id: "c1", name: "ops mail" }]), ["ops mail", "gone"]);
  assert.deepEqual(namesOf(null, null), []);
});

test("parseHash names the reports and KPIs pages", () => {
  assert.deepEqual([parseHash("#/reports").view, parseHash("#/reports").id], ["reports", null]);
  const edit = parseHash("#/reports/r%201/edit");
  assert.deepEqual([edit.view, edit.id, edit.action], ["reports", "r 1", "edit"]);
  assert.equal(parseHash("#/reports/new").id, "new");
  const kpis = parseHash("#/kpis?range=7d");
  assert.deepEqual([kpis.view, kpis.id, kpis.params.get("range")], ["kpis", null, "7d"]);
  assert.equal(parseHash("#/kpis/k1/edit").action, "edit");
});
