// Builds the dashboard (this folder) into ../public, the Worker's static assets directory.
// Run from the repo root: npx vite build --config dashboard/vite.config.mjs (scripts/build-dashboard).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  publicDir: "static", // copied verbatim: _headers (security headers for Workers static assets)
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../public", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    chunkSizeWarningLimit: 800,
  },
});
