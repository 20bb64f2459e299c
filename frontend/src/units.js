// Units of a panel's values, pure: detected from the metric's name unless chosen,
// and used on axes, legends, KPI values and tables.
//   percent   a ratio (0.05 reads "5.00%")
//   ms        a duration in milliseconds (1500 reads "1.50 s")
//   bytes     1536 reads "1.50 KiB"
//   currency  1234.5 reads "$1,234.50"
//   none      formatNumber
import { formatNumber } from "./format.js";

export const UNITS = ["auto", "none", "percent", "ms", "bytes", "currency"];

export function detectUnit(name) {
  const metric = String(name ?? "").toLowerCase();
  if (/(^|_)(error_rate|conversion_rate|ratio|percent|pct|utilization)($|_)/.test(metric)) return "percent";
  if (/(_ms|_millis|_milliseconds)$|latency|duration/.test(metric)) return "ms";
  if (/bytes?($|_)|_size$/.test(metric)) return "bytes";
  if (/revenue|price|cost|amount|sales/.test(metric)) return "currency";
  return "none";
}

// A rising value is bad news for these (errors, latency): their change reads red.
export function risingIsBad(name) {
  return /error|fail|latency|duration|_ms$|timeout|reject|drop/.test(String(name ?? "").toLowerCase());
}

export function resolveUnit(chosen, name) {
  return chosen && chosen !== "auto" && UNITS.includes(chosen) ? chosen : detectUnit(name);
}

const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatValue(value, unit = "none") {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  switch (unit) {
    case "percent": {
      const percent = value * 100;
      return `${Math.abs(percent) >= 10 ? percent.toFixed(1) : percent.toFixed(2)}%`;
    }
    case "ms":
      if (Math.abs(value) >= 60_000) return `${(value / 60_000).toFixed(1)} min`;
      if (Math.abs(value) >= 1000) return `${(value / 1000).toFixed(2)} s`;
      return `${formatNumber(value)} ms`;
    case "bytes": {
      let scaled = value;
      let i = 0;
      while (Math.abs(scaled) >= 1024 && i < BYTE_UNITS.length - 1) {
        scaled /= 1024;
        i += 1;
      }
      return `${i === 0 ? scaled.toFixed(0) : scaled.toFixed(2)} ${BYTE_UNITS[i]}`;
    }
    case "currency":
      if (Math.abs(value) >= 1e6) return `$${formatNumber(value)}`;
      return money.format(value);
    default:
      return formatNumber(value);
  }
}
