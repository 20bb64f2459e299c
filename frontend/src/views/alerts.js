// Alerting: rules (list, create and edit with a preview, one rule's series, timeline
// and history), silences and contact points. One alertEvents subscription keeps the
// page shown up to date and feeds the list of live events.
import { ALERT_EVENTS, RULE } from "../alerting/queries.js";
import { renderChannels } from "../alerting/channels.js";
import { labelsText, seriesLabels, stateBadge, tabs } from "../alerting/common.js";
import { renderRule } from "../alerting/rule-detail.js";
import { renderRuleForm } from "../alerting/rule-form.js";
import { renderRules } from "../alerting/rule-list.js";
import { run } from "../graphql.js";
import { renderSilenceForm, renderSilences } from "../alerting/silences.js";
import { formatDateTime, h } from "../ui/dom.js";

const FEED_SIZE = 20;

export class AlertsView {
  constructor(app, api, route) {
    this.app = app;
    this.api = api;
    this.route = route;
    this.page = null;
    this.unsubscribe = null;
    this.wasOffline = false;
  }

  async load() {
    const { page, id, action, params } = this.route;
    this.status = h("span", { class: "live-status", id: "alerts-live" }, "connecting");
    this.content = h("div", { class: "alerts-page", id: "alerts-page" });
    this.feed = h("ol", { class: "alert-feed", id: "alert-feed" });
    const live = ["rules"].includes(page) && action !== "edit" && id !== "new";
    this.app.replaceChildren(h("section", { class: "alerting" },
      h("div", { class: "dashboard-header" }, tabs(page), this.status),
      this.content,
      live ? h("section", { class: "feed-box" }, h("h2", {}, "Live events"), this.feed) : null));
    this.setStatus(this.api.state);
    // subscribed before the page reads, so no change falls between the two
    this.subscribe();
    this.page = await this.render(page, id, action, params);
  }

  render(page, id, action, params) {
    if (page === "silences") {
      return id === "new" ? renderSilenceForm(this.content, this.api, params) : renderSilences(this.content, this.api);
    }
    if (page === "channels") return renderChannels(this.content, this.api);
    if (id === "new") return renderRuleForm(this.content, this.api).then(() => null);
    if (id && action === "edit") return this.editRule(id);
    if (id) return renderRule(this.content, this.api, id);
    return renderRules(this.content, this.api);
  }

  async editRule(id) {
    const rule = (await run(this.api, RULE, { id, limit: 1 })).alert;
    await renderRuleForm(this.content, this.api, rule);
    return null;
  }

  subscribe() {
    this.unsubscribe = this.api.subscribe(ALERT_EVENTS, {}, {
      next: (message) => {
        const event = message.data?.alertEvents;
        if (!event) return;
        this.page?.onEvent?.(event);
        this.addToFeed(event);
      },
      error: (error) => {
        console.error("alert events stopped", error);
        this.setStatus("offline");
      },
    });
  }

  addToFeed(event) {
    const item = h("li", { dataset: { alert: event.alertName, state: event.state } },
      h("span", { class: "hint" }, formatDateTime(event.at)), " ",
      h("a", { href: `#/alerts/rules/${encodeURIComponent(event.alertId)}` }, event.alertName), " ",
      h("span", { class: "hint" }, labelsText(seriesLabels(event.labels))), " ",
      event.previousState ? stateBadge(event.previousState) : null, " → ", stateBadge(event.state));
    this.feed.prepend(item);
    while (this.feed.children.length > FEED_SIZE) this.feed.lastChild.remove();
  }

  setStatus(state) {
    this.status.textContent = state;
    this.status.dataset.state = state;
    // back after a break: what changed meanwhile is read again
    if (state === "live" && this.wasOffline) this.page?.onEvent?.({});
    this.wasOffline = state !== "live";
  }

  destroy() {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
