// End-to-end harness: the built Worker (build/index.js) in Miniflare, i.e. workerd with real
// local D1, SQLite-backed Durable Objects and Queues. Each `start()` is an isolated instance
// with fresh in-memory storage.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:http";
import { Miniflare } from "miniflare";
import { createKeyStatements, migrationStatements, newKey } from "../../scripts/lib/keys.mjs";
import { agentD1, agentWorker } from "./d1-agent.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
export const BASE = "http://edgesoc.test";

/** Options: `bindings` (vars), `persist` (a directory for D1/DO state), `listen` (serve on
 *  127.0.0.1), `maxRetries` (queue redeliveries), `runtimeStdio` (Miniflare's
 *  handleRuntimeStdio, to redirect workerd's output), `withoutQueue` (no DETECT_QUEUE binding: a
 *  real missing binding, not an injected fault), `email` (a send_email binding `EMAIL`),
 *  `detectBatchTimeout` (seconds the event queue waits to fill a batch; wrangler.toml's is 1),
 *  `outbound` (Miniflare's outboundService: a function answering every outbound fetch),
 *  `shards` (more D1 bindings for organisations' data, e.g. ["DB_1"]: each migrated, and listed
 *  in D1_SHARDS; crates/core/src/shards.rs). EDGESOC_INSPECTOR=<port> in the environment
 *  opens workerd's inspector there (bench/profile.mjs). */
export async function start({ bindings = {}, persist, listen = false, maxRetries = 5, runtimeStdio, withoutQueue = false, email = false, detectBatchTimeout = 1, outbound, shards = [] } = {}) {
  const options = {
    rootPath: ROOT,
    scriptPath: join(ROOT, "build/index.js"),
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    compatibilityDate: "2026-04-20",
    d1Databases: { DB: "edgesoc-test", ...Object.fromEntries(shards.map((s) => [s, `edgesoc-test-${s}`])) },
    // The static assets (public/: the dashboard and the OpenAPI document) as the ASSETS binding.
    // The Worker runs first for every request, as it does for every API path in production.
    assets: { directory: join(ROOT, "public"), binding: "ASSETS", routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } },
    // In memory by default; benchmarks pass a directory so large datasets live on disk.
    ...(persist ? { d1Persist: persist, durableObjectsPersist: persist } : {}),
    durableObjects: { LIMITER: { className: "OrgLimiter", useSQLite: true } },
    ...(withoutQueue ? {} : {
      queueProducers: { DETECT_QUEUE: "edgesoc-detect", DELIVERY_QUEUE: "edgesoc-deliver" },
      queueConsumers: {
        "edgesoc-detect": { maxBatchSize: 10, maxBatchTimeout: detectBatchTimeout, maxRetries },
        "edgesoc-deliver": { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 10 },
      },
    }),
    // Tests deliver alerts to receivers on 127.0.0.1 (a test of production mode overrides it).
    // `email`: a send_email binding EMAIL, as wrangler.toml's commented example configures it.
    ...(email ? { email: { send_email: [{ name: "EMAIL" }] } } : {}),
    bindings: {
      BOOTSTRAP_PLAN: "pro", DELIVERY_ALLOW_HTTP_LOOPBACK: "true", PUBLIC_URL: "http://edgesoc.test",
      ...(shards.length ? { D1_SHARDS: shards.join(",") } : {}), ...bindings,
    },
    // Benchmarks drive the Worker over loopback HTTP; tests use dispatchFetch.
    ...(listen ? { host: "127.0.0.1", port: 0 } : {}),
    ...(runtimeStdio ? { handleRuntimeStdio: runtimeStdio } : {}),
    ...(outbound ? { outboundService: outbound } : {}),
    ...(process.env.EDGESOC_INSPECTOR ? { inspectorPort: Number(process.env.EDGESOC_INSPECTOR) } : {}),
  };
  const mf = new Miniflare(withAgent(options));
  // Every database gets every migration (a shard's global tables stay empty).
  const dir = join(ROOT, "migrations");
  for (const binding of ["DB", ...shards]) {
    const db = await mf.getD1Database(binding);
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
      for (const stmt of migrationStatements(readFileSync(join(dir, file), "utf8"))) {
        await db.prepare(stmt).run();
      }
    }
  }
  const app = new Instance(mf, retryingReads(await mf.getD1Database("DB")), withAgent(options));
  if (listen) app.url = (await mf.ready).toString().replace(/\/$/, "");
  return app;
}

/** Options that go to workerd as a whole rather than to one worker. */
const SHARED_OPTIONS = new Set(["d1Persist", "durableObjectsPersist", "host", "port", "handleRuntimeStdio", "inspectorPort"]);

/** `options` (one worker's, with the shared ones) as the Worker beside the D1 agent
 *  (./d1-agent.mjs), which holds the same databases. */
function withAgent(options) {
  const shared = Object.entries(options).filter(([k]) => SHARED_OPTIONS.has(k));
  const worker = Object.entries(options).filter(([k]) => !SHARED_OPTIONS.has(k));
  return {
    ...Object.fromEntries(shared),
    // The Worker keeps the unnamed slot: Durable Object storage persisted by name stays where it was.
    workers: [Object.fromEntries(worker), agentWorker(options.d1Databases)],
  };
}

/** The D1 binding `db` with its reads made safe to repeat: Miniflare's synchronous proxy for
 *  D1 occasionally trips its own message-id assertion under load (an AssertionError inside
 *  SynchronousFetcher). A statement whose SQL reads (`SELECT`, `WITH`) retries `first`, `all`
 *  and `raw` up to five times with back-off; writes and batches run once, as given. */
function retryingReads(db) {
  const original = new WeakMap();
  const retry = async (run) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (e) {
        if (attempt >= 4 || !String(e?.stack).includes("SynchronousFetcher")) throw e;
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  };
  const forward = (target, key) => {
    const value = Reflect.get(target, key, target);
    return typeof value === "function" ? value.bind(target) : value;
  };
  const statement = (stmt, reads) => {
    const wrapped = new Proxy(stmt, {
      get(target, key) {
        if (key === "bind") return (...args) => statement(target.bind(...args), reads);
        if (reads && (key === "first" || key === "all" || key === "raw")) {
          return (...args) => retry(() => target[key](...args));
        }
        return forward(target, key);
      },
    });
    original.set(wrapped, stmt);
    return wrapped;
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === "prepare") return (sql) => statement(target.prepare(sql), /^\s*(SELECT|WITH)\b/i.test(sql));
      if (key === "batch") return (stmts, ...rest) => target.batch(stmts.map((s) => original.get(s) ?? s), ...rest);
      return forward(target, key);
    },
  });
}

/** Every row of every table of the D1 database `db`, as `{ table, column, text }` per column
 *  value (numbers and blobs as text too); D1's own `_cf_*` tables, which no code of ours
 *  writes, aside. For checks that a value is stored nowhere. */
export async function everyValue(db) {
  const sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'";
  const tables = (await db.prepare(sql).all()).results.map((r) => r.name);
  const out = [];
  for (const table of tables) {
    for (const row of (await db.prepare(`SELECT * FROM "${table}"`).all()).results) {
      for (const [column, v] of Object.entries(row)) {
        if (v === null) continue;
        const text = v instanceof ArrayBuffer ? Buffer.from(v).toString("latin1") : String(v);
        out.push({ table, column, text });
      }
    }
  }
  return out;
}

class Instance {
  constructor(mf, db, options) {
    this.mf = mf;
    this.db = db;
    this.options = options;
  }

  /** Restarts workerd with the same options: every isolate and Durable Object starts afresh
   *  from what was stored (start with `persist` to keep D1 and Durable Object storage). */
  async restart() {
    await this.mf.setOptions(this.options);
    this.db = retryingReads(await this.mf.getD1Database("DB"));
  }

  /** The D1 binding `name` through the agent (./d1-agent.mjs): for code that sends many
   *  statements while the Worker is under load. */
  d1(name) {
    return agentD1(this.mf, name);
  }

  /** The D1 binding `name` (a shard given to `start`), reads retried as `db`'s. */
  async shard(name) {
    return retryingReads(await this.mf.getD1Database(name));
  }

  /** Creates an organisation with a fresh key (every scope unless `scopes` lists some; on
   *  `shard` if new) and returns the key. */
  async createKey({ org = "Acme", plan = "pro", rateLimit, quota, retentionDays, scopes, name, shard } = {}) {
    const key = newKey();
    for (const stmt of createKeyStatements({ org, plan, key, rateLimit, quota, retentionDays, scopes, name, shard })) {
      await this.db.prepare(stmt).run();
    }
    return key;
  }

  /** A request through the Worker; returns {status, headers, body (parsed JSON or text)}. */
  async request(path, { method = "GET", key, headers = {}, body, cf } = {}) {
    const h = { ...headers };
    if (key !== undefined) h["X-API-Key"] = key;
    const init = { method, headers: h };
    if (body !== undefined) init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (cf) init.cf = cf;
    const res = await this.mf.dispatchFetch(BASE + path, init);
    const text = await res.text();
    let parsed = text;
    if ((res.headers.get("content-type") || "").startsWith("application/json")) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** POST /collect as a caller at `ip` whose edge location is `cf` (what Cloudflare's edge
   *  would attach; tests are the only way to choose it). */
  collectFrom(key, body, ip, cf) {
    return this.request("/collect", { method: "POST", key, body, headers: { "CF-Connecting-IP": ip }, cf });
  }

  collect(key, body, opts = {}) {
    return this.request("/collect", { method: "POST", key, body, ...opts });
  }

  async count(sql, ...params) {
    const row = await this.db.prepare(sql).bind(...params).first();
    return Object.values(row)[0];
  }

  /** Polls until `fn` returns a truthy value or the deadline passes. */
  async eventually(fn, { timeoutMs = 8000, intervalMs = 100 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      last = await fn();
      if (last) return last;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    return last;
  }

  /** Waits until the stored event count stops changing (the queue has drained). */
  async settle({ quietMs = 1500, timeoutMs = 15000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last = await this.count("SELECT count(*) FROM events");
    let since = Date.now();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await this.count("SELECT count(*) FROM events");
      if (now !== last) [last, since] = [now, Date.now()];
      else if (Date.now() - since >= quietMs) return last;
    }
    throw new Error("queue did not settle");
  }

  /** The queue message `/collect` sent for a stored event, as a fresh delivery: the event as
   *  accepted (before enrichment), packed as production packs it (crates/core/src/ingest/message.rs). */
  async acceptedMessage(eventId, { plan = "pro", cf = null } = {}) {
    const row = await this.db.prepare("SELECT * FROM events WHERE id = ?").bind(eventId).first();
    if (!row) throw new Error(`no stored event ${eventId}`);
    const event = {
      id: row.id, org_id: row.org_id, event_name: row.event_name, category: row.category, severity: row.severity,
      instant_alert: Boolean(row.instant_alert), actor_id: row.actor_id, actor_email: row.actor_email,
      user_ip: row.user_ip, server_ip: row.server_ip, country_code: null, city: null, latitude: null, longitude: null,
      is_vpn: null, is_tor: null, is_proxy: null, is_datacenter: null, threat_score: null, forensics: null,
      metadata: JSON.parse(row.metadata), created_at: row.created_at,
    };
    const body = JSON.stringify({ v: 2, plan, cf, events: [event] });
    return { id: `redelivery-${Math.random().toString(36).slice(2)}`, timestamp: new Date(), attempts: 2, body };
  }

  async queue(messages) {
    const worker = await this.mf.getWorker();
    return worker.queue("edgesoc-detect", messages);
  }

  /** Runs the cron handler as if triggered at `time` (a Date or ms) by `cron` (default: the
   *  daily retention purge; "41 * * * *" is the network-list refresh). */
  async scheduled(time = Date.now(), cron = "17 3 * * *") {
    const worker = await this.mf.getWorker();
    return worker.scheduled({ cron, scheduledTime: new Date(time) });
  }

  dispose() {
    return this.mf.dispose();
  }
}

/** A receiver on 127.0.0.1 (the network rule for tests: loopback only) that records every
 *  request (`at`, `path`, `headers`, `body` as text) and answers from `script`: `{status,
 *  headers, body}` or `{hang: true}` (never answers) in turn, then 200. */
export async function receiver() {
  const requests = [];
  const script = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      requests.push({ at: Date.now(), path: req.url, headers: req.headers, body });
      const next = script.shift() ?? { status: 200 };
      if (next.hang) return;
      res.writeHead(next.status, next.headers ?? {});
      res.end(next.body ?? "ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url, requests, script,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
