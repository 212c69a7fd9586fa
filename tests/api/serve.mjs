#!/usr/bin/env node
// Serves the built Worker (build/index.js) over real HTTP for black-box clients: schemathesis
// and the official SDKs. Miniflare/workerd with real local D1, SQLite Durable Objects and
// Queues, listening on 127.0.0.1 at a random free port, with fresh in-memory storage.
//
//   node tests/api/serve.mjs
//
// Applies the migrations, creates one organisation per plan and prints ONE JSON line on stdout:
//   {"url":"http://127.0.0.1:PORT","key":"<pro>","free_key":"<free>","custom_key":"<custom, no limits>",
//    "limited_key":"<enterprise, 5 requests/min, 3 events/month>"}
// Everything else (workerd output included) goes to stderr. Runs until SIGTERM/SIGINT, or until
// stdin closes when stdin is a pipe (so a parent that dies takes the server with it).
import { fstatSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { createKeyStatements, migrationStatements, newKey } from "../../scripts/lib/keys.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;

const mf = new Miniflare({
  rootPath: ROOT,
  scriptPath: join(ROOT, "build/index.js"),
  modules: true,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
  compatibilityDate: "2026-04-20",
  host: "127.0.0.1",
  port: 0,
  d1Databases: { DB: "edgesoc-api-test" },
  durableObjects: { LIMITER: { className: "OrgLimiter", useSQLite: true } },
  queueProducers: { DETECT_QUEUE: "edgesoc-detect" },
  queueConsumers: { "edgesoc-detect": { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 5 } },
  bindings: { BOOTSTRAP_PLAN: "pro" },
  handleRuntimeStdio(stdout, stderr) {
    stdout.pipe(process.stderr);
    stderr.pipe(process.stderr);
  },
});

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

try {
  const url = await mf.ready;
  const db = await mf.getD1Database("DB");
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const stmt of migrationStatements(readFileSync(join(dir, file), "utf8"))) {
      await db.prepare(stmt).run();
    }
  }
  const keys = {};
  for (const [name, org, plan, limits] of [
    ["key", "API Pro", "pro", {}],
    ["free_key", "API Free", "free", {}],
    ["custom_key", "API Custom", "custom", {}],
    ["limited_key", "API Limited", "enterprise", { rateLimit: 5, quota: 3 }],
  ]) {
    keys[name] = newKey();
    for (const stmt of createKeyStatements({ org, plan, key: keys[name], ...limits })) {
      await db.prepare(stmt).run();
    }
  }
  const base = url.origin; // http://127.0.0.1:PORT, no trailing slash (the Node SDK keeps one)
  process.stdout.write(JSON.stringify({ url: base, ...keys }) + "\n");
  process.stderr.write(`[serve] edgesoc listening on ${base}\n`);
} catch (e) {
  process.stderr.write(`[serve] failed to start: ${e?.stack || e}\n`);
  await stop(1);
}

let stdinIsPipe = false;
try {
  const st = fstatSync(0);
  stdinIsPipe = st.isFIFO() || st.isSocket();
} catch {
  // no stdin at all
}
if (stdinIsPipe) {
  process.stdin.on("end", () => stop(0));
  process.stdin.on("close", () => stop(0));
  process.stdin.resume();
}
