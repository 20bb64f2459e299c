// The dashboard UI: sign in with an API key, list dashboards, show one with live updates.
import { Api, Unauthorized } from "./api.js";
import { gatewayConfig, graphqlUrls } from "./config.js";
import { element } from "./format.js";
import "./style.css";
import { VIEWER } from "./queries.js";
import { DashboardView, parseRoute } from "./views/dashboard.js";
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
  try {
    if (hash.startsWith("#/d/")) {
      current = new DashboardView(app, api, parseRoute(hash));
      await current.load();
    } else {
      await renderList(app, api);
    }
  } catch (error) {
    if (error instanceof Unauthorized) {
      sessionStorage.removeItem(KEY);
      showLogin("The API key is no longer valid.");
      return;
    }
    app.replaceChildren(element("p", "error", String(error)));
  }
}

signOut.addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  api?.dispose();
  api = null;
  route();
});
window.addEventListener("hashchange", route);
route();
