// What the query builder offers: metric names, event types, a metric's label names and
// a label's values, each read once per editor and kept.
import { run } from "../graphql.js";
import { EVENT_TYPES, LABEL_NAMES, LABEL_VALUES, METRIC_NAMES } from "./queries.js";

export class Catalog {
  constructor(api) {
    this.api = api;
    this.cache = new Map();
  }

  once(key, read) {
    if (!this.cache.has(key)) {
      const promise = read().catch((error) => {
        this.cache.delete(key); // a failed read is tried again next time
        throw error;
      });
      this.cache.set(key, promise);
    }
    return this.cache.get(key);
  }

  metricNames() {
    return this.once("names", async () => (await run(this.api, METRIC_NAMES)).metricNames ?? []);
  }

  eventTypes() {
    return this.once("events", async () => (await run(this.api, EVENT_TYPES)).eventTypes ?? []);
  }

  labelNames(metric) {
    if (!metric || metric.includes("$")) return Promise.resolve([]);
    return this.once(`labels:${metric}`, async () => (await run(this.api, LABEL_NAMES, { metric })).labelNames ?? []);
  }

  labelValues(metric, label) {
    if (!metric || !label || metric.includes("$")) return Promise.resolve([]);
    return this.once(`values:${metric}:${label}`, async () => {
      return (await run(this.api, LABEL_VALUES, { metric, label })).labelValues ?? [];
    });
  }
}
