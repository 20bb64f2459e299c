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
