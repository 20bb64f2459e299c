// Data for the editor's panels, read as the dashboard view reads it (variables at
// their defaults). Only panels whose query is as saved can be drawn: a changed or
// new one has no data until the dashboard is saved.
import { DASHBOARD } from "../queries.js";

// what decides a panel's data
export function dataKey(widget) {
  return JSON.stringify([widget.type, widget.style, widget.query]);
}

// Map widget id -> { key, data } of the saved dashboard
export async function readPanelData(api, draft) {
  const body = await api.query(DASHBOARD, { id: draft.id, range: null, vars: null });
  const saved = new Map();
  for (const widget of body.data?.dashboard?.widgets ?? []) {
    if (widget.data) saved.set(widget.id, widget.data);
  }
  return new Map(draft.widgets.filter((w) => saved.has(w.id)).map((w) => [w.id, { key: dataKey(w), data: saved.get(w.id) }]));
}
