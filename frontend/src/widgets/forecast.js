// The forecast panel: the history, the forecast past its end, and the 95% interval
// as a shaded band.
import { element } from "../format.js";
import { createChart } from "./chart.js";

export function createForecast(body, widget, view = {}) {
  const chartBox = element("div", "forecast-chart");
  const caption = element("p", "hint");
  body.append(chartBox, caption);
  const chart = createChart(chartBox, widget, view);
  return {
    update(data) {
      const line = (name, points) => ({ name, labels: { line: name }, data: points });
      chart.update({
        series: [
          line("history", data.history.data),
          line("forecast", data.forecast.data),
          { ...line("lower 95%", data.lower), band: "lower" },
          { ...line("upper 95%", data.upper), band: "upper" },
        ],
      });
      body.dataset.points = String(data.forecast.data.t.length);
      caption.textContent = `model: ${data.model}`;
    },
    destroy() {
      chart.destroy();
    },
  };
}
