// The dashboard UI: sign in with an API key, list dashboards, show one with live updates,
// edit dashboards, explore one metric.
import { Api, Unauthorized } from "./api.js";
import { gatewayConfig, graphqlUrls } from "./config.js";
import { element } from "./format.js";
import "./style.css";
import "./styles/ui.css";
import "./styles/editor.css";
import "./styles/alerting.css";
import { VIEWER } from "./queries.js";
import { parseHash } from "./router.js";
import { AlertsView } from "./views/alerts.js";
import { parseRoute } from "./time.js";
import { DashboardView } from "./views/dashboard.js";
import { EditorView } from "./views/editor.js";
import { ExploreView } from "./views/explore.js";
import { renderList } from "./views/list.js";
import { renderLogin } from "./views/login.js";

const KEY = "analytics-gateway.api-key";
const config = gatewayConfig();
const urls = graphqlUrls(config);
const app = document.getElementById("app");
const signOut = document.getElementById("sign-out");

let api = null;
let current = null;

function statusChanged(state) {
  current?.setStatus?.(state);
}

function connect(key) {
  api?.dispose();
  api = new Api(urls, key, statusChanged);
}

async function signIn(key, message) {
  const candidate = new Api(urls, key);
  try {
    const body = await candidate.query(VIEWER);
    if (!body.data?.viewer) throw new Unauthorized(body.errors?.[0]?.message ?? "refused");
  } catch (error) {
    message.textContent = error instanceof Unauthorized ? "That API key was refused." : String(error);
    return;
  }
  sessionStorage.setItem(KEY, key);
  connect(key);
  route();
}

function showLogin(error) {
  signOut.hidden = true;
  renderLogin(app, { demoKey: config.demoKey, onKey: signIn, error });
}

async function route() {
  current?.destroy?.();
  current = null;
  const key = sessionStorage.getItem(KEY);
  if (!key) {
    showLogin();
    return;
  }
  if (api === null) connect(key);
  signOut.hidden = false;
  const hash = window.location.hash || "#/";
  const where = parseHash(hash);
  // each route renders into its own element: a view still loading when the next
  // route starts then fills an element no longer shown, not the page
  const root = element("div", "view");
  app.replaceChildren(root);
  try {
    if (where.view === "dashboard") {
      current = new DashboardView(root, api, parseRoute(hash));
      await current.load();
    } else if (where.view === "editor") {
      current = new EditorView(root, api, where);
      await current.load();
    } else if (where.view === "explore") {
      current = new ExploreView(root, api, where);
      await current.load();
    } else if (where.view === "alerts") {
      current = new AlertsView(root, api, where);
      await current.load();
    } else {
      await renderList(root, api);
    }
  } catch (error) {
    if (error instanceof Unauthorized) {
      sessionStorage.removeItem(KEY);
      showLogin("The API key is no longer valid.");
      return;
    }
    root.replaceChildren(element("p", "error", String(error)));
  }
}

signOut.addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  api?.dispose();
  api = null;
  route();
});
// A view with unsaved work (the editor) may keep the user: the address goes back.
window.addEventListener("hashchange", async (event) => {
  if (current?.confirmLeave && !(await current.confirmLeave())) {
    history.replaceState(null, "", event.oldURL);
    return;
  }
  route();
});
route();
