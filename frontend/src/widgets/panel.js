// Alerts, anomalies and forecasts panels: an empty, clearly labelled state until the
// gateway offers the feature. They never show made-up data.
import { element } from "../format.js";

export function createPanel(body) {
  const badge = element("span", "badge", "Not available yet");
  const message = element("p", "panel-message");
  body.append(badge, message);
  return {
    update(data) {
      body.dataset.points = "0";
      badge.textContent = data.available ? "Available" : "Not available yet";
      message.textContent = data.message;
    },
    destroy() {},
  };
}
