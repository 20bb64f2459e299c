// GraphiQL built from npm packages and served by the gateway: no CDN, works offline.
// Queries and mutations go over HTTP; subscriptions over graphql-transport-ws, with
// the headers of the Headers editor as the connection_init payload (that is how the
// gateway authenticates WebSockets).
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { getOperationAST, parse } from "graphql";
import { createClient } from "graphql-ws";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { gatewayConfig, graphqlUrls } from "./config.js";
import { EXAMPLE } from "./graphiql-queries.js";

const config = gatewayConfig();
const urls = graphqlUrls(config);
// demo mode only: the demo tenant's key, so queries work at once. It is also the
// fetcher's default, under whatever the Headers editor holds: GraphiQL fetches the
// schema on load without the editor's headers, and the gateway answers
// introspection only to a key.
const demoHeaders = config.demoKey ? { Authorization: `Bearer ${config.demoKey}` } : {};
const http = createGraphiQLFetcher({ url: urls.http, headers: demoHeaders });


function isSubscription(params) {
  try {
    const operation = getOperationAST(parse(params.query), params.operationName || undefined);
    return operation?.operation === "subscription";
  } catch {
    return false;
  }
}

function subscribe(params, headers) {
  const client = createClient({ url: urls.ws, connectionParams: headers, lazy: true });
  const results = client.iterate({
    query: params.query,
    variables: params.variables ?? undefined,
    operationName: params.operationName ?? undefined,
  });
  return {
    [Symbol.asyncIterator]() {
      return {
        next: () => results.next(),
        async return() {
          await results.return?.();
          await client.dispose();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

function fetcher(params, options) {
  if (isSubscription(params)) return subscribe(params, { ...demoHeaders, ...options?.headers });
  return http(params, options);
}

const props = { fetcher, defaultQuery: EXAMPLE, isHeadersEditorEnabled: true };
if (config.demoKey) {
  props.headers = JSON.stringify(demoHeaders, null, 2);
  props.shouldPersistHeaders = false;
  props.defaultEditorToolsVisibility = "headers";
}

createRoot(document.getElementById("graphiql")).render(createElement(GraphiQL, props));
