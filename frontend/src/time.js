// Time ranges, refresh and time zone of a dashboard's address, pure (no DOM):
//   #/d/<id>?range=6h                         relative, ending now (the gateway's timeRange)
//   #/d/<id>?from=<epoch ms>&to=<epoch ms>    absolute
//   &refresh=live|off|10s|30s|1m|5m           live updates, paused, or re-read every n
//   &var.<name>=<value>                       variable values
//   &view=<widget id>                         that panel full screen
// An absolute range is sent to the gateway as it is (the dashboard query's from/to).
export const RANGES = ["15m", "1h", "6h", "24h", "7d"];
export const REFRESH = ["live", "off", "10s", "30s", "1m", "5m"];
export const TIME_ZONES = ["browser", "utc"];

// the longest range the gateway reads for a dashboard (dashboards/planner.py)
export const MAX_RANGE_MS = 366 * 86_400_000;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function durationMs(text) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text ?? "");
  return match ? Number(match[1]) * UNIT_MS[match[2]] : null;
}

// Why an absolute range cannot be shown, or null.
export function rangeProblem(from, to, now) {
  if (from === null || to === null || !(from < to)) return "From must be before To.";
  if (now - from > MAX_RANGE_MS) return "The range can start at most 366 days ago.";
  return null;
}

function epoch(text) {
  if (text === null || text === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

export function parseRoute(hash) {
  const [path, search = ""] = (hash || "").replace(/^#/, "").split("?");
  const params = new URLSearchParams(search);
  const vars = {};
  for (const [key, value] of params) {
    if (key.startsWith("var.")) vars[key.slice(4)] = value;
  }
  let from = epoch(params.get("from"));
  let to = epoch(params.get("to"));
  if (from === null || to === null || !(from < to)) from = to = null;
  const refresh = REFRESH.includes(params.get("refresh")) ? params.get("refresh") : "live";
  return {
    id: decodeURIComponent(path.split("/")[2] ?? ""),
    range: from === null ? params.get("range") : null,
    from, to, refresh, vars,
    view: params.get("view") || null,
  };
}

export function routeOf(id, { range = null, from = null, to = null, refresh = "live", view = null } = {}, vars = {}) {
  const params = new URLSearchParams();
  if (from !== null && to !== null) {
    params.set("from", String(Math.round(from)));
    params.set("to", String(Math.round(to)));
  } else if (range) {
    params.set("range", range);
  }
  if (refresh && refresh !== "live") params.set("refresh", refresh);
  for (const [name, value] of Object.entries(vars)) if (value) params.set(`var.${name}`, value);
  if (view) params.set("view", view);
  const search = params.toString();
  return `#/d/${encodeURIComponent(id)}${search ? `?${search}` : ""}`;
}

// What the gateway is asked for (a relative `timeRange`, or `from`/`to` as ISO-8601),
// and the window charts are held to: { timeRange, from, to, window: {from, to} | null, live }
export function plan(route) {
  if (route.from !== null) {
    return {
      timeRange: null, from: isoOf(route.from), to: isoOf(route.to),
      window: { from: route.from, to: route.to }, live: false,
    };
  }
  return { timeRange: route.range, from: null, to: null, window: null, live: route.refresh === "live" };
}

const isoOf = (epochMs) => new Date(epochMs).toISOString();

// the gateway's own choice when a widget gives no step (dashboards/planner.py)
const STEPS_S = [10, 30, 60, 300, 900, 3600, 21600, 86400];

// The step the gateway would choose for a range ("1h" -> "30s"): at most 120 buckets.
export function autoStep(range) {
  const span = (durationMs(range) ?? 3_600_000) / 1000;
  const step = STEPS_S.find((s) => span / s <= 120) ?? 86400;
  return step % 86400 === 0 ? `${step / 86400}d` : step % 3600 === 0 ? `${step / 3600}h` : step % 60 === 0 ? `${step / 60}m` : `${step}s`;
}

export function refreshMs(refresh) {
  return refresh === "live" || refresh === "off" ? null : durationMs(refresh);
}

const pad = (n) => String(n).padStart(2, "0");

// Wall-clock parts of an instant in UTC or in the browser's zone.
function parts(epochMs, zone) {
  const d = new Date(epochMs);
  return zone === "utc"
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
}

// "14:05" (with seconds when asked)
export function clock(epochMs, zone, seconds = false) {
  const [, , , hh, mm, ss] = parts(epochMs, zone);
  return `${pad(hh)}:${pad(mm)}${seconds ? `:${pad(ss)}` : ""}`;
}

// "2026-12-06 14:05"
export function dateTime(epochMs, zone) {
  const [y, mo, d, hh, mm] = parts(epochMs, zone);
  return `${y}-${pad(mo)}-${pad(d)} ${pad(hh)}:${pad(mm)}`;
}

// The value of an <input type="datetime-local"> for an instant, and back.
export function toInputValue(epochMs, zone) {
  return dateTime(epochMs, zone).replace(" ", "T");
}

export function fromInputValue(text, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text ?? "");
  if (!match) return null;
  const [y, mo, d, hh, mm, ss = "0"] = match.slice(1);
  const args = [Number(y), Number(mo) - 1, Number(d), Number(hh), Number(mm), Number(ss)];
  return zone === "utc" ? Date.UTC(...args) : new Date(...args).getTime();
}

export const zoneLabel = (zone) => (zone === "utc" ? "UTC" : "local");
