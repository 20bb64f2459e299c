// A panel with nothing to show (no metric given, too little data, a feature not
// running): a clearly labelled empty state with the gateway's reason. Never made-up data.
import { element } from "../format.js";

export function createPanel(body) {
  const badge = element("span", "badge", "Nothing to show");
  const message = element("p", "panel-message");
  body.append(badge, message);
  return {
    update(data) {
      body.dataset.points = "0";
      badge.textContent = data.available ? "Nothing to show" : "Not available";
      message.textContent = data.message;
    },
    destroy() {},
  };
}
