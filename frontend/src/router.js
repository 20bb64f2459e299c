// Which view a location hash names. Views: list, dashboard, editor, explore, alerts,
// reports, kpis.
//   #/                         the dashboard list
//   #/new                      a new, unsaved dashboard in the editor
//   #/d/<id>?range=..&var.x=.. one dashboard (range, from/to, refresh: see time.js)
//   #/d/<id>/edit              its editor
//   #/explore?metric=..        one metric, ad hoc (see explore/state.js)
//   #/alerts[/<page>[/<id>[/<action>]]]  alerting (rules, silences, contact points)
//   #/reports[/<id>|new[/edit]]           reports: list, one (generate), form
//   #/kpis[/<id>|new[/edit]]              KPIs: list with readings, form
export function parseHash(hash) {
  const [path, search = ""] = (hash || "#/").replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(search);
  if (parts[0] === "new") return { view: "editor", id: null, params };
  if (parts[0] === "d" && parts[1]) {
    return { view: parts[2] === "edit" ? "editor" : "dashboard", id: parts[1], params };
  }
  if (parts[0] === "explore") return { view: "explore", params };
  if (parts[0] === "alerts") {
    return { view: "alerts", page: parts[1] ?? "rules", id: parts[2] ?? null, action: parts[3] ?? null, params };
  }
  if (parts[0] === "reports" || parts[0] === "kpis") {
    return { view: parts[0], id: parts[1] ?? null, action: parts[2] ?? null, params };
  }
  return { view: "list", params };
}

export const dashboardHash = (id) => `#/d/${encodeURIComponent(id)}`;
export const editorHash = (id) => `${dashboardHash(id)}/edit`;
