import { createAlerts } from "./alerts.js";
import { createAnomalies } from "./anomalies.js";
import { createChart } from "./chart.js";
import { createForecast } from "./forecast.js";
import { createHeatmap } from "./heatmap.js";
import { createKpi } from "./kpi.js";
import { createPanel } from "./panel.js";
import { createTable } from "./table.js";

const BY_DATA = {
  ChartData: createChart,
  KpiData: createKpi,
  HeatmapData: createHeatmap,
  TableData: createTable,
  AlertsData: createAlerts,
  AnomaliesData: createAnomalies,
  ForecastData: createForecast,
  PanelData: createPanel,
};

// The renderer for a widget's data; it keeps its state (charts) between updates.
// `view`: how to show it (time zone, unit, time window, zoom), see chart.js.
export function rendererFor(typename, body, widget, view = {}) {
  const create = BY_DATA[typename];
  if (!create) throw new Error(`no renderer for ${typename}`);
  return create(body, widget, view);
}
