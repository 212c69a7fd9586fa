// End-to-end harness: the built Worker (build/index.js) in Miniflare, i.e. workerd with real
// local D1, SQLite-backed Durable Objects and Queues. Each `start()` is an isolated instance
// with fresh in-memory storage.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:http";
import { Miniflare } from "miniflare";
import { createKeyStatements, migrationStatements, newKey, orgIdFor } from "../../scripts/lib/keys.mjs";
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
 *  opens workerd's inspector there (bench/profile.mjs).
 *  Without `shards`, an instance has two databases, DB and DB_1, and `createKey` places new
 *  organisations on them in turn (DB_1 first), so every test also runs with organisations on a
 *  shard; `shards: []` (or EDGESOC_E2E_SHARDS=off in the environment) keeps one database. */
export async function start({ bindings = {}, persist, listen = false, maxRetries = 5, runtimeStdio, withoutQueue = false, email = false, detectBatchTimeout = 1, outbound, shards } = {}) {
  const alternate = shards === undefined && process.env.EDGESOC_E2E_SHARDS !== "off";
  shards ??= alternate ? ["DB_1"] : [];
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
  const app = new Instance(mf, withAgent(options), ["DB", ...shards], alternate ? ["DB_1", "DB"] : null);
  await app.open();
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

/** The tables only the primary holds (src/d1/mod.rs `Primary`); every other table is an
 *  organisation's, on the database its `orgs.shard` names. */
const GLOBAL_TABLES = new Set(["orgs", "api_keys", "sessions", "members", "ip_city", "ip_location", "ip_asn",
  "ip_import", "network_lists", "network_list_chunks", "held_commits", "audit_outbox"]);

/** The tables and views of the D1 database `db`, lower case (every database has them all). */
async function tableNames(db) {
  const { results } = await db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").all();
  return new Set(results.map((r) => r.name.toLowerCase()));
}

const LITERAL = /'((?:[^']|'')*)'/g;
const withoutLiterals = (sql) => sql.replace(LITERAL, "''");
const shown = (sql) => JSON.stringify(sql.replace(/\s+/g, " ").trim().slice(0, 140));

/** `app.db` when an instance has several databases, so a test's SQL reaches the rows where the
 *  Worker keeps them: a statement on global tables runs on DB; one on organisations' tables on
 *  the shard of the registered organisation whose id it binds or quotes. One that names no
 *  organisation runs on every database, and the answers are merged only when that is
 *  unambiguous (see `merged`); otherwise it throws, asking for the organisation's id. */
class RoutedDb {
  constructor(bindings, tables) {
    this.bindings = bindings;
    this.tables = tables;
  }

  prepare(sql) {
    return new RoutedStatement(this, sql, []);
  }

  /** D1's batch, atomic on one database: every statement must route to the same one. */
  async batch(statements) {
    const names = new Set();
    for (const s of statements) {
      const name = await this.route(s.sql, s.params);
      if (!name) throw new Error(`app.db.batch: ${shown(s.sql)} names no organisation: bind its id, so the batch runs on one database`);
      names.add(name);
    }
    if (names.size > 1) throw new Error(`app.db.batch: the statements go to ${[...names].join(" and ")}; a batch is atomic on one database only`);
    const db = this.bindings[[...names][0] ?? "DB"];
    return db.batch(statements.map((s) => db.prepare(s.sql).bind(...s.params)));
  }

  /** The database `sql` bound to `params` runs on, or null for every database. */
  async route(sql, params) {
    const words = withoutLiterals(sql).match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
    const tables = new Set(words.map((w) => w.toLowerCase()).filter((w) => this.tables.has(w)));
    const scoped = [...tables].filter((t) => !GLOBAL_TABLES.has(t));
    if (scoped.length === 0) return "DB";
    if (scoped.length < tables.size) {
      throw new Error(`app.db: ${shown(sql)} mixes global tables (on DB) with organisations' (${scoped.join(", ")}): query them apart`);
    }
    const { results } = await this.bindings.DB.prepare("SELECT id, coalesce(shard, 'DB') AS shard FROM orgs").all();
    const shardOf = new Map(results.map((r) => [r.id, r.shard]));
    const literals = [...sql.matchAll(LITERAL)].map((m) => m[1].replaceAll("''", "'"));
    const homes = new Set([...params, ...literals].filter((v) => shardOf.has(v)).map((v) => shardOf.get(v)));
    if (homes.size > 1) throw new Error(`app.db: ${shown(sql)} names organisations on ${[...homes].join(" and ")}: query each apart`);
    const [home = null] = homes;
    if (home && !this.bindings[home]) throw new Error(`app.db: ${shown(sql)} names an organisation on ${home}, not a database of this instance`);
    return home;
  }
}

const AGGREGATE = /\b(count|sum|total|min|max|avg|group_concat|json_group_array|json_group_object)\s*\(/i;
const ORDERED = /\b(ORDER\s+BY|GROUP\s+BY|LIMIT|OFFSET|DISTINCT)\b/i;

/** The rows of a statement that ran on every database, from `answers` ({name, rows} each, DB
 *  first): those of the one database that answered something (an aggregate's 0, NULL, '' or
 *  '[]' is no answer), else DB's; with several, the rows concatenated when `many` and neither
 *  order nor aggregation makes the union ambiguous. Otherwise it throws. */
function merged(sql, answers, many) {
  const text = withoutLiterals(sql);
  const aggregate = AGGREGATE.test(text);
  const said = answers.filter(({ rows }) => rows.length > 0 &&
    (!aggregate || rows.some((r) => Object.values(r).some((v) => v !== 0 && v !== null && v !== "" && v !== "[]"))));
  if (said.length <= 1) return (said[0] ?? answers[0]).rows;
  if (many && !aggregate && !ORDERED.test(text)) return said.flatMap((a) => a.rows);
  throw new Error(`app.db: ${shown(sql)} names no registered organisation, and ${said.map((a) => a.name).join(" and ")} each answer: ` +
    "bind the organisation's id, read one database with app.shard(name), or count over all with app.total");
}

/** A statement of `RoutedDb`, with D1's API (bind, first, all, raw, run). */
class RoutedStatement {
  constructor(view, sql, params) {
    this.view = view;
    this.sql = sql;
    this.params = params;
  }

  bind(...params) {
    return new RoutedStatement(this.view, this.sql, params);
  }

  /** D1's `method` on the statement's database; on every one (DB first) when it names no
   *  organisation, answers given to `merge` as {name, answer}. */
  async on(method, args, merge) {
    const name = await this.view.route(this.sql, this.params);
    const run = (db) => db.prepare(this.sql).bind(...this.params)[method](...args);
    if (name) return run(this.view.bindings[name]);
    const answers = [];
    for (const [db, binding] of Object.entries(this.view.bindings)) answers.push({ name: db, answer: await run(binding) });
    return merge(answers);
  }

  async first(column) {
    const row = await this.on("first", [], (answers) =>
      merged(this.sql, answers.map(({ name, answer }) => ({ name, rows: answer ? [answer] : [] })), false)[0] ?? null);
    return column === undefined ? row : (row?.[column] ?? null);
  }

  all() {
    return this.on("all", [], (answers) =>
      ({ ...answers[0].answer, results: merged(this.sql, answers.map(({ name, answer }) => ({ name, rows: answer.results })), true) }));
  }

  raw(options) {
    const header = options?.columnNames ? 1 : 0;
    return this.on("raw", [options], (answers) =>
      [...answers[0].answer.slice(0, header), ...merged(this.sql, answers.map(({ name, answer }) => ({ name, rows: answer.slice(header) })), true)]);
  }

  /** A write naming no organisation applies to every database (an UPDATE or DELETE of every
   *  organisation's rows), but an INSERT must say whose rows it adds. */
  async run() {
    if (/^\s*(INSERT|REPLACE)\b/i.test(this.sql) && !(await this.view.route(this.sql, this.params))) {
      throw new Error(`app.db: ${shown(this.sql)} inserts rows of no registered organisation: bind its id`);
    }
    return this.on("run", [], (answers) => ({
      ...answers[0].answer,
      results: answers.flatMap((a) => a.answer.results ?? []),
      meta: { ...answers[0].answer.meta, changes: answers.reduce((n, a) => n + (a.answer.meta?.changes ?? 0), 0) },
    }));
  }
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
  /** `databases`: the D1 bindings, DB first; `placement`: the shards new organisations go on in
   *  turn (null: DB unless `createKey` names one). */
  constructor(mf, options, databases, placement) {
    this.mf = mf;
    this.options = options;
    this.databases = databases;
    this.placement = placement;
    this.placed = 0;
  }

  /** Opens the bindings: `db` is DB itself when it is the only database, else a `RoutedDb`. */
  async open() {
    this.bindings = {};
    for (const name of this.databases) this.bindings[name] = retryingReads(await this.mf.getD1Database(name));
    this.db = this.databases.length === 1 ? this.bindings.DB : new RoutedDb(this.bindings, await tableNames(this.bindings.DB));
  }

  /** Restarts workerd with the same options: every isolate and Durable Object starts afresh
   *  from what was stored (start with `persist` to keep D1 and Durable Object storage). */
  async restart() {
    await this.mf.setOptions(this.options);
    await this.open();
  }

  /** The D1 binding `name` through the agent (./d1-agent.mjs): for code that sends many
   *  statements while the Worker is under load. */
  d1(name) {
    return agentD1(this.mf, name);
  }

  /** The D1 binding `name` alone ("DB": the primary; or a shard given to `start`), reads
   *  retried as `db`'s. */
  async shard(name) {
    return retryingReads(await this.mf.getD1Database(name));
  }

  /** Creates an organisation with a fresh key (every scope unless `scopes` lists some) and
   *  returns the key. A new organisation goes on `shard`, else on the instance's next shard in
   *  turn (see `start`); an existing one stays where it is. */
  async createKey({ org = "Acme", plan = "pro", rateLimit, quota, retentionDays, scopes, name, shard } = {}) {
    const primary = this.bindings.DB;
    if (shard === undefined && this.placement) {
      const known = await primary.prepare("SELECT 1 FROM orgs WHERE id = ?").bind(orgIdFor(org)).first();
      if (!known) shard = this.placement[this.placed++ % this.placement.length];
    }
    const key = newKey();
    for (const stmt of createKeyStatements({ org, plan, key, rateLimit, quota, retentionDays, scopes, name, shard })) {
      await primary.prepare(stmt).run();
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

  /** The first column of the one row `sql` answers (through `db`: routed when sharded). */
  async count(sql, ...params) {
    const row = await this.db.prepare(sql).bind(...params).first();
    return Object.values(row)[0];
  }

  /** A count summed over every database: what all organisations hold together, wherever each
   *  lives (`count` would refuse such a statement when several databases answer). */
  async total(sql, ...params) {
    let n = 0;
    for (const db of Object.values(this.bindings)) n += Object.values(await db.prepare(sql).bind(...params).first())[0];
    return n;
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
    let last = await this.total("SELECT count(*) FROM events");
    let since = Date.now();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await this.total("SELECT count(*) FROM events");
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
