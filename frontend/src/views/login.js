// Sign in with an API key; it is kept in this browser tab's session only. When the
// gateway names an identity provider, "Sign in with <provider>" too (see auth/oidc.js).
import { element } from "../format.js";

export function renderLogin(app, { demoKey, onKey, error, provider = null }) {
  const form = element("form", "login");
  form.id = "login";
  const title = element("h1", "", "Sign in");
  const help = element(
    "p",
    "hint",
    "Paste an API key (analytics-gateway keys create --tenant <name>). It stays in this tab's session.",
  );
  const input = element("input");
  input.id = "api-key";
  input.name = "api-key";
  input.type = "password";
  input.placeholder = "agk_…";
  input.autocomplete = "off";
  input.required = true;
  if (demoKey) {
    input.value = demoKey;
    help.textContent = "Demo mode: the demo tenant's key is filled in.";
  }
  const button = element("button", "primary", "Sign in");
  button.type = "submit";
  const message = element("p", "error", error ?? "");
  message.id = "login-error";
  form.append(title, help, input, button, message);
  if (provider) {
    const external = element("button", "primary", `Sign in with ${provider.name}`);
    external.type = "button";
    external.id = "oidc-sign-in";
    external.addEventListener("click", () => {
      external.disabled = true;
      provider.onSignIn().catch((failure) => {
        external.disabled = false;
        message.textContent = String(failure.message ?? failure);
      });
    });
    form.append(element("p", "hint", "or"), external);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onKey(input.value.trim(), message);
  });
  app.replaceChildren(form);
  input.focus();
}
