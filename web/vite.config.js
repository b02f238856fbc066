// Builds the dashboard into the Python package (koprogo_graph/api/static/dashboard), so that
// users run it with no Node.js: `npm ci && npm run build` here (see README).
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [svelte()],
  base: "/static/dashboard/",
  build: {
    outDir: "../koprogo_graph/api/static/dashboard",
    emptyOutDir: true,
    // Stable names: a rebuild from the same sources gives the same files (reviewable diffs).
    rollupOptions: {
      output: {
        entryFileNames: "assets/dashboard.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
