// The gateway fills the JSON in <script id="gateway-config"> when it serves a page:
// { demo, demoKey, graphqlPath }. Under `npm run dev` it is left unfilled.
export function gatewayConfig() {
  const defaults = { demo: false, demoKey: null, graphqlPath: "/graphql" };
  const element = document.getElementById("gateway-config");
  try {
    const parsed = JSON.parse(element?.textContent ?? "null");
    return parsed && typeof parsed === "object" ? { ...defaults, ...parsed } : defaults;
  } catch {
    return defaults;
  }
}

export function graphqlUrls(config) {
  const http = new URL(config.graphqlPath, window.location.href);
  const ws = new URL(http.href);
  ws.protocol = http.protocol === "https:" ? "wss:" : "ws:";
  return { http: http.href, ws: ws.href };
}
