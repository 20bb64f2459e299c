// Builds the dashboard UI (index.html) and the offline GraphiQL (graphiql.html)
// into the directory the gateway serves: analytics_gateway/web/dist, under /static/.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const gateway = process.env.GATEWAY_URL || "http://127.0.0.1:8000";

export default defineConfig({
  base: "/static/",
  build: {
    outDir: here("../analytics_gateway/web/dist"),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: { index: here("index.html"), graphiql: here("graphiql.html") },
      // GraphiQL's dependencies mark modules "use client" for React Server
      // Components; meaningless in this client-only bundle, so not worth a warning
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  // `npm run dev` serves the UI with hot reload against a running gateway
  server: {
    proxy: {
      "/graphql": { target: gateway, ws: true },
      "/analytics": { target: gateway },
    },
  },
});
