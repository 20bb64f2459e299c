// The forecast panel: the history, the forecast past its end, and the 95% interval.
import { element } from "../format.js";
import { createChart } from "./chart.js";

export function createForecast(body, widget) {
  const chartBox = element("div", "forecast-chart");
  const caption = element("p", "hint");
  body.append(chartBox, caption);
  const chart = createChart(chartBox, widget);
  return {
    update(data) {
      const line = (name, points) => ({ name, labels: { line: name }, data: points });
      chart.update({
        series: [
          line("history", data.history.data),
          line("forecast", data.forecast.data),
          line("lower 95%", data.lower),
          line("upper 95%", data.upper),
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
