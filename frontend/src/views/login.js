// Sign in with an API key; it is kept in this browser tab's session only.
import { element } from "../format.js";

export function renderLogin(app, { demoKey, onKey, error }) {
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
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onKey(input.value.trim(), message);
  });
  app.replaceChildren(form);
  input.focus();
}
