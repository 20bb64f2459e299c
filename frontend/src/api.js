// GraphQL over HTTP with the API key, and one graphql-transport-ws connection for live data.
// The credential is a key, or a function giving the current one (an identity provider's
// access token, renewed while the UI runs).
import { createClient } from "graphql-ws";

export class Unauthorized extends Error {}

export class Api {
  constructor(urls, key, onStatus = () => {}) {
    this.urls = urls;
    this.key = key;
    this.onStatus = onStatus;
    this.ws = null;
    this.state = "connecting"; // of the live connection: connecting, live, offline
  }

  async query(query, variables = {}) {
    const response = await fetch(this.urls.http, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${this.credential()}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    if (response.status === 401) throw new Unauthorized("the API key was refused");
    const body = await response.json();
    if (!response.ok && !body.data) {
      throw new Error(body.errors?.[0]?.message ?? `HTTP ${response.status}`);
    }
    return body;
  }

  client() {
    if (this.ws === null) {
      this.ws = createClient({
        url: this.urls.ws,
        // read at every (re)connection, so a renewed token is the one sent
        connectionParams: () => ({ Authorization: `Bearer ${this.credential()}` }),
        lazy: true,
        retryAttempts: Infinity,
        shouldRetry: () => true,
        on: {
          connecting: () => this.changed("connecting"),
          connected: () => this.changed("live"),
          closed: () => this.changed("offline"),
        },
      });
    }
    return this.ws;
  }

  credential() {
    return typeof this.key === "function" ? this.key() : this.key;
  }

  // The credential was renewed: the live connection, authenticated with the old one
  // (and closed by the gateway when it expires), reconnects with the new one and
  // resubscribes.
  reauthenticate() {
    this.ws?.terminate();
  }

  changed(state) {
    this.state = state;
    this.onStatus(state);
  }

  // Returns a function that ends the subscription.
  subscribe(query, variables, sink) {
    return this.client().subscribe({ query, variables }, {
      next: sink.next,
      error: sink.error ?? ((error) => console.error("subscription failed", error)),
      complete: sink.complete ?? (() => {}),
    });
  }

  async dispose() {
    if (this.ws !== null) {
      const ws = this.ws;
      this.ws = null;
      await ws.dispose();
    }
  }
}
