// POST /collect throughput and latency through workerd (Miniflare over loopback HTTP), next to
// an empty Worker served by the same runtime in the same run. Writes bench/results/http.json.
// Targets run interleaved, round after round, and each row reports its median round: on a
// shared, noisy machine a slow spell then hits every target alike instead of one row.
// Usage: node bench/http.mjs [--seconds 10] [--connections 16] [--many 64] [--rounds 3] [--only a,b]
// (--many: the connections of the `_many` rows, which show how group commit scales with load.)
// (--only runs just the named targets, for a quick comparison; scripts/bench runs them all.)
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { start } from "../tests/e2e/harness.mjs";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, connections: { type: "string", default: "16" }, many: { type: "string", default: "64" }, rounds: { type: "string", default: "3" }, only: { type: "string" } } });
const duration = Number(values.seconds);
const connections = Number(values.connections);
const many = Number(values.many);
const rounds = Number(values.rounds);

const single = JSON.stringify({ event: "auth.login_failed", actor: { id: "user_123", email: "u@example.com" }, user_ip: "203.0.113.50", metadata: { method: "password", _sdk: "litesoc-node" } });
const batch = JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ event: i % 2 ? "auth.login_success" : "data.export", actor: `user_${i % 20}`, user_ip: `198.51.100.${i}` })) });

// workerd processes (each Miniflare instance runs its own) and their CPU time, from /proc, so
// each target's CPU per request is measured in its own process: a steadier figure than
// throughput on a shared machine.
const workerdPids = () => new Set(readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((p) => {
  try { return readFileSync(`/proc/${p}/comm`, "utf8").startsWith("workerd"); } catch { return false; }
}));
const cpuMs = (pids) => [...pids].reduce((sum, p) => {
  try {
    const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
    return sum + (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
  } catch { return sum; }
}, 0);
/** Starts an instance with `make` and returns it with the workerd processes it added. */
async function launch(make) {
  const before = workerdPids();
  const instance = await make();
  await (instance.ready ?? instance.mf.ready);
  return { instance, pids: new Set([...workerdPids()].filter((p) => !before.has(p))) };
}

function load(url, body, headers, pids, clients = connections) {
  const cpu0 = cpuMs(pids);
  return new Promise((resolve, reject) => {
    autocannon({ url, method: "POST", body, headers: { "content-type": "application/json", ...headers }, duration, connections: clients }, (err, r) => {
      if (err) return reject(err);
      const ok = r["2xx"], bad = r.non2xx + r.errors + r.timeouts;
      const cpu_us_per_request = ok + bad ? Math.round((1000 * (cpuMs(pids) - cpu0)) / (ok + bad)) : null;
      // Failures are reported, not hidden: throughput counts accepted (2xx) requests only.
      const statuses = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
      resolve({ requests_per_s: ok / duration, p50_ms: r.latency.p50, p99_ms: r.latency.p99, requests: ok, failed: bad, statuses, cpu_us_per_request });
    });
  });
}

// The baseline: the smallest possible Worker in the same runtime, answering like /collect.
const empty = await launch(() => new Miniflare({
  modules: true, host: "127.0.0.1", port: 0, compatibilityDate: "2026-04-20",
  script: `export default { async fetch(req) { await req.text(); return new Response('{"status":"queued"}', { status: 202, headers: { "content-type": "application/json" } }); } }`,
}));
// The Rust floor: the smallest workers-rs Worker (bench/empty-worker, built by scripts/bench),
// which answers like the empty Worker through the same wasm-bindgen glue as edgesoc.
const rustDir = new URL("./empty-worker/", import.meta.url).pathname;
const rustEmpty = await launch(() => new Miniflare({
  modules: true, host: "127.0.0.1", port: 0, compatibilityDate: "2026-04-20",
  rootPath: rustDir, scriptPath: `${rustDir}build/index.js`,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
}));
// The binding floor: the least any durable /collect can do in this runtime — one Durable Object
// call (the rate limit) and one queue send per request, in plain JS, with a consumer that acks.
// It shows how much of the gap to the empty Worker is the runtime's bindings, not edgesoc.
const floor = await launch(() => new Miniflare({
  modules: true, host: "127.0.0.1", port: 0, compatibilityDate: "2026-04-20",
  durableObjects: { L: { className: "L", useSQLite: true } },
  queueProducers: { Q: "floor" }, queueConsumers: { floor: { maxBatchSize: 10, maxBatchTimeout: 1 } },
  script: `export class L {
      constructor(state) { this.sql = state.storage.sql; this.sql.exec("CREATE TABLE IF NOT EXISTS c (n INTEGER)"); }
      async fetch() { this.sql.exec("INSERT INTO c VALUES (1)"); return new Response("ok"); } }
    export default {
      async fetch(req, env) {
        const body = await req.text();
        await (await env.L.get(env.L.idFromName("org")).fetch("https://l/")).text();
        await env.Q.send(body, { contentType: "text" });
        return new Response('{"status":"queued"}', { status: 202, headers: { "content-type": "application/json" } });
      },
      async queue(batch) { batch.ackAll(); } }`,
}));
// The queue floor: only the durable part — one queue send per request, no rate limit at all.
const queueOnly = await launch(() => new Miniflare({
  modules: true, host: "127.0.0.1", port: 0, compatibilityDate: "2026-04-20",
  queueProducers: { Q: "qfloor" }, queueConsumers: { qfloor: { maxBatchSize: 10, maxBatchTimeout: 1 } },
  script: `export default {
      async fetch(req, env) {
        await env.Q.send(await req.text(), { contentType: "text" });
        return new Response('{"status":"queued"}', { status: 202, headers: { "content-type": "application/json" } });
      },
      async queue(batch) { batch.ackAll(); } }`,
}));
// The shared floors: the same durable work, but the requests in flight together share it the way
// edgesoc's group commit does (src/limits/group.rs): a leader runs rounds under waitUntil, each round
// one sendBatch (and, for the binding floor, one Durable Object call) for every request that
// joined it, and a waiter polls its own 2 ms timer until its round has settled. No other work:
// they are what any Worker that answers 202 only after a durable send can reach in this runtime.
const sharedScript = (withLimiter) => `export class L {
    constructor(state) { this.sql = state.storage.sql; this.sql.exec("CREATE TABLE IF NOT EXISTS c (n INTEGER)"); }
    async fetch(req) { const n = Number(await req.text()); for (let i = 0; i < n; i++) this.sql.exec("INSERT INTO c VALUES (1)"); return new Response("ok"); } }
  let queued = [], leading = false;
  async function lead(env) {
    while (queued.length) {
      const round = queued; queued = [];
      try {
        ${withLimiter ? 'await (await env.L.get(env.L.idFromName("org")).fetch("https://l/", { method: "POST", body: String(round.length) })).text();' : ""}
        await env.Q.sendBatch(round.map((w) => ({ body: w.body, contentType: "text" })));
        for (const w of round) w.done = true;
      } catch (e) { for (const w of round) w.failed = e; }
    }
    leading = false;
  }
  const tick = () => new Promise((r) => setTimeout(r, 2));
  export default {
    async fetch(req, env, ctx) {
      const w = { body: await req.text(), done: false, failed: null };
      queued.push(w);
      if (!leading) { leading = true; ctx.waitUntil(lead(env)); }
      while (!w.done && !w.failed) await tick();
      if (w.failed) return new Response('{"error":"x"}', { status: 500 });
      return new Response('{"status":"queued"}', { status: 202, headers: { "content-type": "application/json" } });
    },
    async queue(batch) { batch.ackAll(); } }`;
const sharedQueue = await launch(() => new Miniflare({
  modules: true, host: "127.0.0.1", port: 0, compatibilityDate: "2026-04-20",
  queueProducers: { Q: "sqfloor" }, queueConsumers: { sqfloor: { maxBatchSize: 100, maxBatchTimeout: 1 } },
  script: sharedScript(false),
}));
const sharedBinding = await launch(() => new Miniflare({
  modules: true, host: "127.0.0.1", port: 0, compatibilityDate: "2026-04-20",
  durableObjects: { L: { className: "L", useSQLite: true } },
  queueProducers: { Q: "sbfloor" }, queueConsumers: { sbfloor: { maxBatchSize: 100, maxBatchTimeout: 1 } },
  script: sharedScript(true),
}));
// edgesoc with in-memory storage, like the floors, and its real queue consumer running beside it.
const app = await launch(() => start({ listen: true, shards: [] }));
const results = {};
try {
  const url = (m) => m.instance.url ?? m.instance.ready.then((u) => u.toString());
  // A custom plan without rate limit or quota: the benchmark measures work, not 429s.
  const key = await app.instance.createKey({ org: "Load", plan: "custom" });
  // Each edgesoc row starts with the previous row's events consumed (the local consumer is one
  // isolate; in production consumers scale out), so a backlog does not carry into the next row.
  const settled = async (run) => { await app.instance.settle({ timeoutMs: 180000 }); return run(); };
  const targets = {
    empty_worker: async () => load(await url(empty), single, {}, empty.pids),
    empty_rust_worker: async () => load(await url(rustEmpty), single, {}, rustEmpty.pids),
    queue_floor: async () => load(await url(queueOnly), single, {}, queueOnly.pids),
    binding_floor: async () => load(await url(floor), single, {}, floor.pids),
    shared_queue_floor: async () => load(await url(sharedQueue), single, {}, sharedQueue.pids),
    shared_binding_floor: async () => load(await url(sharedBinding), single, {}, sharedBinding.pids),
    collect_single: () => settled(() => load(`${app.instance.url}/collect`, single, { "X-API-Key": key }, app.pids)),
    collect_batch_100: () => settled(() => load(`${app.instance.url}/collect`, batch, { "X-API-Key": key }, app.pids)),
    // The same, with more clients in flight: larger rounds for group commit to share.
    empty_worker_many: async () => load(await url(empty), single, {}, empty.pids, many),
    shared_binding_floor_many: async () => load(await url(sharedBinding), single, {}, sharedBinding.pids, many),
    collect_single_many: () => settled(() => load(`${app.instance.url}/collect`, single, { "X-API-Key": key }, app.pids, many)),
  };
  if (values.only) {
    const only = new Set(values.only.split(","));
    for (const name of Object.keys(targets)) if (!only.has(name)) delete targets[name];
  }
  const runs = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(targets)) runs[name].push(await run());
  }
  for (const [name, list] of Object.entries(runs)) {
    const sorted = [...list].sort((a, b) => a.requests_per_s - b.requests_per_s);
    results[name] = { ...sorted[Math.floor((sorted.length - 1) / 2)], rounds_requests_per_s: list.map((r) => r.requests_per_s) };
  }
  const ratio = (a, b) => (results[a] && results[b] ? results[a].requests_per_s / results[b].requests_per_s : undefined);
  if (results.collect_batch_100) results.collect_batch_100.events_per_s = results.collect_batch_100.requests_per_s * 100;
  results.single_vs_empty = ratio("collect_single", "empty_worker");
  results.rust_floor_vs_empty = ratio("empty_rust_worker", "empty_worker");
  results.queue_floor_vs_empty = ratio("queue_floor", "empty_worker");
  results.floor_vs_empty = ratio("binding_floor", "empty_worker");
  results.shared_queue_floor_vs_empty = ratio("shared_queue_floor", "empty_worker");
  results.shared_floor_vs_empty = ratio("shared_binding_floor", "empty_worker");
  results.single_vs_floor = ratio("collect_single", "binding_floor");
  results.single_vs_shared_floor = ratio("collect_single", "shared_binding_floor");
  results.many_single_vs_empty = ratio("collect_single_many", "empty_worker_many");
  results.many_shared_floor_vs_empty = ratio("shared_binding_floor_many", "empty_worker_many");
  results.settings = { duration_s: duration, connections, many, rounds };
} finally {
  await app.instance.dispose();
  await empty.instance.dispose();
  await rustEmpty.instance.dispose();
  await floor.instance.dispose();
  await queueOnly.instance.dispose();
  await sharedQueue.instance.dispose();
  await sharedBinding.instance.dispose();
}
console.log(JSON.stringify(results));
// A partial run (--only) is for a quick look: it does not replace the full results.
if (!values.only) {
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(new URL("./results/http.json", import.meta.url), JSON.stringify(results, null, 2));
}
