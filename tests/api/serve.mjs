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
import { fstatSync } from "node:fs";
import { fetch, Response } from "miniflare";
import { start } from "../e2e/harness.mjs";

// stdout carries the one JSON line; workerd's own output goes to stderr.
// Outbound requests (alert deliveries) reach only this machine. Clients such as schemathesis
// create destinations with made-up public host names; a DNS lookup that cannot succeed here
// stalls all of workerd for the resolver's 5 s timeout, so every other host gets a 502 at once.
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
async function outbound(request) {
  if (!LOCAL_HOSTS.has(new URL(request.url).hostname)) {
    return new Response("edgesoc test server: no outbound network", { status: 502 });
  }
  const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.arrayBuffer();
  return fetch(request.url, { method: request.method, headers: request.headers, body, redirect: "manual" });
}

const starting = start({
  listen: true,
  shards: [],
  outbound,
  runtimeStdio(stdout, stderr) {
    stdout.pipe(process.stderr);
    stderr.pipe(process.stderr);
  },
});

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  try {
    await (await starting.catch(() => null))?.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

try {
  const app = await starting;
  const keys = {};
  for (const [name, org, plan, limits] of [
    ["key", "API Pro", "pro", {}],
    ["free_key", "API Free", "free", {}],
    ["custom_key", "API Custom", "custom", {}],
    ["limited_key", "API Limited", "enterprise", { rateLimit: 5, quota: 3 }],
  ]) {
    keys[name] = await app.createKey({ org, plan, ...limits });
  }
  const base = app.url; // http://127.0.0.1:PORT, no trailing slash (the Node SDK keeps one)
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
