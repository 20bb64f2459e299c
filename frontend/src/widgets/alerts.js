// The alerts panel: the tenant's rules with their state, most urgent first.
import { element, formatNumber } from "../format.js";

export function createAlerts(body) {
  const table = element("table", "summary-table alerts-table");
  const head = element("tr");
  head.append(...["alert", "severity", "state", "value"].map((c) => element("th", "", c)));
  const rows = element("tbody");
  const empty = element("p", "empty", "No alert rules yet (createAlert in GraphiQL).");
  table.append(element("thead"), rows);
  table.tHead.append(head);
  body.append(table, empty);
  return {
    update(data) {
      const alerts = data.alerts ?? [];
      body.dataset.points = String(alerts.length);
      empty.hidden = alerts.length > 0;
      table.hidden = alerts.length === 0;
      rows.replaceChildren(
        ...alerts.map((alert) => {
          const row = element("tr");
          const state = element("span", `state state-${alert.state.toLowerCase()}`, alert.state);
          const firing = alert.instances.find((i) => i.state === "FIRING") ?? alert.instances[0];
          const stateCell = element("td");
          stateCell.append(state);
          row.append(
            element("td", "", alert.name),
            element("td", `severity-${alert.severity.toLowerCase()}`, alert.severity),
            stateCell,
            element("td", "num", firing ? formatNumber(firing.value) : "–"),
          );
          return row;
        }),
      );
    },
    destroy() {},
  };
}
