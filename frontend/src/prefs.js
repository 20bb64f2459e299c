// Preferences kept in this browser: the time zone of every chart and heatmap. (A
// panel's unit and thresholds are saved with its dashboard.)
import { TIME_ZONES } from "./time.js";

const ZONE_KEY = "analytics-gateway.time-zone";

function read(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "null") ?? fallback;
  } catch {
    return fallback;
  }
}

export function timeZone() {
  const zone = read(ZONE_KEY, "browser");
  return TIME_ZONES.includes(zone) ? zone : "browser";
}

export function setTimeZone(zone) {
  localStorage.setItem(ZONE_KEY, JSON.stringify(zone));
}
