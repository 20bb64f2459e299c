// Contact points: the channels rules notify (webhook, Slack, email), created here
// and tried with testChannel, whose outcome is shown (never the receiver's reply).
import { run } from "../graphql.js";
import { confirmDialog } from "../ui/dialog.js";
import { field, h, select } from "../ui/dom.js";
import { CHANNELS, CREATE_CHANNEL, DELETE_CHANNEL, TEST_CHANNEL } from "./queries.js";

function target(channel) {
  return channel.kind === "EMAIL" ? `${channel.recipients.join(", ")} via ${channel.smtpHost}:${channel.smtpPort}` : channel.url;
}

function channelForm(api, onCreated) {
  const input = (id, props = {}) => h("input", { id, autocomplete: "off", ...props });
  const name = input("channel-name", { required: true, placeholder: "e.g. ops-webhook" });
  const kind = select([["WEBHOOK", "webhook"], ["SLACK", "Slack"], ["EMAIL", "email"]], "WEBHOOK", { id: "channel-kind" });
  const url = input("channel-url", { placeholder: "https://…" });
  const secret = input("channel-secret", { type: "password", placeholder: "signing key (optional)" });
  const timeout = input("channel-timeout", { value: "5s" });
  const retries = input("channel-retries", { type: "number", min: 0, max: 10, value: "2" });
  const smtpHost = input("channel-smtp-host");
  const smtpPort = input("channel-smtp-port", { type: "number", value: "25" });
  const startTls = h("input", { type: "checkbox", id: "channel-starttls" });
  const username = input("channel-username");
  const password = input("channel-password", { type: "password" });
  const sender = input("channel-sender", { placeholder: "alerts@example.com" });
  const recipients = input("channel-recipients", { placeholder: "a@example.com, b@example.com" });
  const web = h("div", { class: "row" }, field("URL", url), field("Secret", secret));
  const mail = h("div", { class: "row" }, field("SMTP host", smtpHost), field("Port", smtpPort),
    h("label", { class: "check" }, startTls, " STARTTLS"), field("Username", username), field("Password", password),
    field("From", sender), field("To", recipients));
  const show = () => {
    mail.hidden = kind.value !== "EMAIL";
    web.hidden = kind.value === "EMAIL";
    secret.closest(".field").hidden = kind.value !== "WEBHOOK";
  };
  kind.addEventListener("change", show);
  const message = h("p", { class: "error", id: "channel-error", role: "alert" });
  const form = h("form", { class: "channel-form", id: "channel-form" },
    h("h2", {}, "New contact point"),
    h("div", { class: "row" }, field("Name", name), field("Kind", kind), field("Timeout", timeout), field("Retries", retries)),
    web, mail, message,
    h("div", { class: "modal-actions" }, h("button", { type: "submit", class: "primary", id: "create-channel" }, "Create contact point")));
  show();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const email = kind.value === "EMAIL";
    const channel = {
      name: name.value.trim(), kind: kind.value, timeout: timeout.value.trim() || "5s", maxRetries: Number(retries.value || 0),
      url: email ? "" : url.value.trim(), secret: kind.value === "WEBHOOK" ? secret.value : "",
      smtpHost: email ? smtpHost.value.trim() : "", smtpPort: Number(smtpPort.value || 25), startTls: email && startTls.checked,
      username: email ? username.value : "", password: email ? password.value : "",
      sender: email ? sender.value.trim() : "",
      recipients: email ? recipients.value.split(",").map((r) => r.trim()).filter(Boolean) : [],
    };
    try {
      await run(api, CREATE_CHANNEL, { input: channel });
      form.reset();
      show();
      onCreated();
    } catch (error) {
      message.textContent = error.message;
    }
  });
  return form;
}

export async function renderChannels(root, api) {
  const body = h("tbody");
  const message = h("p", { class: "error", role: "alert" });
  const creator = channelForm(api, () => refresh());

  async function test(channel, cell, button) {
    button.disabled = true;
    cell.replaceChildren(h("span", { class: "hint" }, "sending…"));
    try {
      const result = (await run(api, TEST_CHANNEL, { id: channel.id })).testChannel;
      cell.dataset.outcome = result.outcome;
      cell.replaceChildren(
        h("span", { class: `outcome ${result.ok ? "outcome-ok" : "outcome-failed"}` }, result.ok ? "delivered" : result.outcome.toLowerCase().replace("_", " ")),
        ...(result.error ? [h("small", { class: "hint" }, ` ${result.error}`)] : []));
    } catch (error) {
      cell.dataset.outcome = "ERROR";
      cell.replaceChildren(h("span", { class: "error" }, error.message));
    } finally {
      button.disabled = false;
    }
  }

  async function refresh() {
    let channels;
    try {
      channels = (await run(api, CHANNELS)).channels ?? [];
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    body.replaceChildren(...channels.map((channel) => {
      const outcome = h("td", { class: "test-result" });
      const testButton = h("button", { type: "button", class: "small", "aria-label": `Test ${channel.name}` }, "Test");
      testButton.addEventListener("click", () => test(channel, outcome, testButton));
      const remove = h("button", {
        type: "button", class: "small danger", "aria-label": `Delete ${channel.name}`,
        onClick: async () => {
          if (!(await confirmDialog("Delete contact point", `Delete "${channel.name}"? Rules that use it must stop first.`, "Delete", "danger"))) return;
          try {
            await run(api, DELETE_CHANNEL, { id: channel.id });
          } catch (error) {
            message.textContent = error.message;
          }
          refresh();
        },
      }, "Delete");
      return h("tr", { dataset: { channel: channel.name } },
        h("td", {}, channel.name), h("td", {}, channel.kind.toLowerCase()),
        h("td", { class: "mono" }, target(channel)),
        h("td", {}, channel.kind === "WEBHOOK" ? (channel.hasSecret ? "signed" : "unsigned") : ""),
        h("td", {}, testButton, " ", remove), outcome);
    }));
    if (channels.length === 0) body.append(h("tr", {}, h("td", { colSpan: 6, class: "hint" }, "No contact points yet.")));
  }

  root.replaceChildren(
    h("h1", {}, "Contact points"),
    message,
    h("table", { class: "summary-table", id: "channels" },
      h("thead", {}, h("tr", {}, ...["name", "kind", "target", "", "", "last test"].map((c) => h("th", {}, c)))), body),
    creator);
  await refresh();
  return { onEvent: () => {} };
}
