// Preferences kept in this browser: the time zone of every chart and heatmap, and
// each panel's chosen unit (the gateway's dashboard definition has no unit field).
import { TIME_ZONES } from "./time.js";

const ZONE_KEY = "analytics-gateway.time-zone";
const UNITS_KEY = "analytics-gateway.units";

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

// "auto" unless chosen for this panel
export function panelUnit(dashboardId, widgetId) {
  return read(UNITS_KEY, {})[`${dashboardId}/${widgetId}`] ?? "auto";
}

export function setPanelUnit(dashboardId, widgetId, unit) {
  const units = read(UNITS_KEY, {});
  if (unit === "auto") delete units[`${dashboardId}/${widgetId}`];
  else units[`${dashboardId}/${widgetId}`] = unit;
  localStorage.setItem(UNITS_KEY, JSON.stringify(units));
}
