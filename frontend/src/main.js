// The dashboard UI: sign in with an API key (or the identity provider the gateway names),
// list dashboards, show one with live updates, edit dashboards, explore one metric.
import { Api, Unauthorized } from "./api.js";
import { showIdentity } from "./auth/badge.js";
import { OidcSession } from "./auth/oidc.js";
import { gatewayConfig, graphqlUrls } from "./config.js";
import { element } from "./format.js";
import "./style.css";
import "./styles/ui.css";
import "./styles/editor.css";
import "./styles/alerting.css";
import "./styles/reports.css";
import { VIEWER } from "./queries.js";
import { parseHash } from "./router.js";
import { AlertsView } from "./views/alerts.js";
import { KpisView } from "./views/kpis.js";
import { ReportsView } from "./views/reports.js";
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
const oidc = config.oidc?.issuer && config.oidc?.clientId ? new OidcSession(config.oidc) : null;

let api = null;
let current = null;

function statusChanged(state) {
  current?.setStatus?.(state);
}

// This tab's credential: its API key, else its identity provider's access token.
function credential() {
  return sessionStorage.getItem(KEY) ?? oidc?.accessToken() ?? null;
}

function connect() {
  api?.dispose();
  api = new Api(urls, credential, statusChanged);
}

// Renew the provider's token ahead of expiry; without a refresh token, sign in again.
function keepFresh() {
  oidc?.keepFresh({
    onRenewed: () => api?.reauthenticate(),
    onExpired: () => {
      oidc.clear();
      api?.dispose();
      api = null;
      oidc.signIn(window.location.hash).catch(() => route());
    },
  });
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
  oidc?.clear();
  sessionStorage.setItem(KEY, key);
  connect();
  route();
}

function showLogin(error) {
  signOut.hidden = true;
  showIdentity(null);
  const provider = oidc && { name: oidc.providerName, onSignIn: () => oidc.signIn(window.location.hash) };
  renderLogin(app, { demoKey: config.demoKey, onKey: signIn, error, provider });
}

async function route() {
  current?.destroy?.();
  current = null;
  if (!credential()) {
    showLogin();
    return;
  }
  if (api === null) connect();
  signOut.hidden = false;
  showIdentity(sessionStorage.getItem(KEY) ? null : oidc?.identity());
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
    } else if (where.view === "reports") {
      current = new ReportsView(root, api, where);
      await current.load();
    } else if (where.view === "kpis") {
      current = new KpisView(root, api, where);
      await current.load();
    } else {
      await renderList(root, api);
    }
  } catch (error) {
    if (error instanceof Unauthorized) {
      const key = sessionStorage.getItem(KEY);
      sessionStorage.removeItem(KEY);
      oidc?.clear();
      api?.dispose();
      api = null;
      showLogin(key ? "The API key is no longer valid." : "Your sign-in is no longer valid.");
      return;
    }
    root.replaceChildren(element("p", "error", String(error)));
  }
}

signOut.addEventListener("click", async () => {
  const viaProvider = !sessionStorage.getItem(KEY) && oidc?.current();
  sessionStorage.removeItem(KEY);
  api?.dispose();
  api = null;
  // with the provider's end_session endpoint, the page leaves for it and comes back
  if (viaProvider && (await oidc.signOut())) return;
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

// The provider sending the user back (?code=..&state=..): finish signing in, then drop
// the answer from the address. Otherwise renew a stored token if it needs it.
async function start() {
  if (oidc?.isCallback()) {
    try {
      const hash = await oidc.completeSignIn();
      history.replaceState(null, "", `${window.location.pathname}${hash}`);
    } catch (error) {
      history.replaceState(null, "", window.location.pathname);
      showLogin(`Sign-in failed: ${error.message}`);
      return;
    }
  } else {
    await oidc?.resume();
  }
  keepFresh();
  route();
}
start();
