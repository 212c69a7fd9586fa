// GET /ui/mock-data latency through the Worker in workerd, with 100k and 1M dashboard log items
// in the last 24 h, and the query plan of each of its statements. The items are inserted
// straight into D1 in time order, 2,000 per round, raw lines into `logs` and LiteSOC events'
// items into `events` (each event's row holds its item, migrations/0019_events_stored_once.sql),
// numbered in one sequence as the Worker numbers them, and the rollups then recomputed from
// them (scripts/lib/rollups.mjs: the same buckets ingestion keeps). Writes
// bench/results/dashboard.json.
// Usage: node bench/dashboard.mjs [--sizes 100000,1000000] [--requests 100]
//
// The distribution (one organisation, deterministic PRNG):
// * times uniform over the last 24 h;
// * 8 (service, namespace) pairs with weights 25/30/8/5/15/7/7/3, two of them LiteSOC events
//   (namespace `litesoc`, with an event id and name: stored as events);
// * source IPs: 25 % none ("unknown"), 20 % from 60 internal 10.x addresses, 50 % from 5,000
//   client addresses with Zipf(1.1) popularity, 5 % from 200 attacker addresses (Zipf(1));
// * attackers send failed logins, scans and 401/403 requests; everyone else 62 % network
//   events, 25 % logins, 5 % failed logins, 3 % scans, 5 % IAM changes, and 2 % 4xx/5xx;
// * a country on 5/6 of the external addresses' items;
// plus 1,000 alerts in the window (triggered by stored items) and 20 ip_blocked events.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { instance, timeIt } from "./lib.mjs";
import { orgIdFor } from "../scripts/lib/keys.mjs";
import { rebuildRollups } from "../scripts/lib/rollups.mjs";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "100000,1000000" }, requests: { type: "string", default: "100" } } });
const sizes = values.sizes.split(",").map(Number);
const requests = Number(values.requests);
const root = new URL("..", import.meta.url).pathname;
const H = 3_600_000;
const ORG = "Bench";

// ------------------------------------------------------------------------------------------
// Seeding

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function chooser(rnd, items, weights) {
  const cum = [];
  let total = 0;
  for (const w of weights) cum.push((total += w));
  return () => {
    const x = rnd() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo];
  };
}

const SERVICES = [["auth-service", "prod"], ["api-gateway", "prod"], ["billing", "prod"], ["auth-service", "staging"],
  ["web", "prod"], ["worker", "prod"], ["auth", "litesoc"], ["security", "litesoc"]];
const EVENTS = { auth: ["auth.login_success", "auth.logout", "auth.login_failed"], security: ["security.rate_limit_exceeded", "security.suspicious_activity"] };

function generator(seed) {
  const rnd = prng(seed);
  const service = chooser(rnd, SERVICES, [25, 30, 8, 5, 15, 7, 7, 3]);
  const internal = Array.from({ length: 60 }, (_, i) => `10.0.${i >> 6}.${i & 63}`);
  const client = chooser(rnd, Array.from({ length: 5000 }, (_, i) => `198.51.${i >> 8}.${i & 255}`), Array.from({ length: 5000 }, (_, i) => 1 / (i + 1) ** 1.1));
  const attacker = chooser(rnd, Array.from({ length: 200 }, (_, i) => `203.0.${i >> 8}.${i & 255}`), Array.from({ length: 200 }, (_, i) => 1 / (i + 1)));
  const type = chooser(rnd, ["network_event", "login_success", "login_failure", "network_scan", "iam_change"], [62, 25, 5, 3, 5]);
  const level = chooser(rnd, ["debug", "info", "warning", "error", "critical"], [5, 70, 15, 8, 2]);
  const geo = ["US", "DE", "CN", "RU", "BR"];
  return (ts, org) => {
    const [svc, ns] = service();
    const r = rnd();
    const ip = r < 0.25 ? null : r < 0.45 ? internal[Math.floor(rnd() * internal.length)] : r < 0.95 ? client() : attacker();
    const hostileSource = ip !== null && ip.startsWith("203.");
    let t;
    let status;
    if (hostileSource) {
      t = ["login_failure", "network_scan", "network_event"][Math.floor(rnd() * 3)];
      status = [401, 403, 200][Math.floor(rnd() * 3)];
    } else {
      t = type();
      status = rnd() < 0.98 ? 200 : [401, 403, 429, 500][Math.floor(rnd() * 4)];
    }
    const event = ns === "litesoc" ? EVENTS[svc][Math.floor(rnd() * EVENTS[svc].length)] : null;
    return {
      org_id: org, ts, hour: Math.floor(ts / H) * H, type: t, action: t === "iam_change" ? "permission_changed" : null,
      level: t === "login_failure" || t === "network_scan" ? "warning" : level(), service: svc, namespace: ns,
      source_ip: ip, user: `user-${Math.floor(rnd() * 500)}`, hostname: event ? null : `${svc}-${Math.floor(rnd() * 4)}`,
      geo: ip && !ip.startsWith("10.") && rnd() < 5 / 6 ? geo[Math.floor(rnd() * geo.length)] : null,
      vpn: null, status_code: event ? null : status, resource: t === "iam_change" ? "role/deploy" : null,
      message: event ?? `${t} ${ip ?? ""} ${status}`, event_id: event ? randomUUID() : null, event_name: event,
    };
  };
}

/** The row id after every stored item's (raw lines and events share one sequence, as the Worker
 *  numbers them: crates/core/src/ingest/record.rs NEXT_ITEM_ID_BASE). */
const NEXT_ID = "(SELECT max(coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0)))";
const field = (f) => `json_extract(value,'$.${f}')`;

const INSERT_LINES = `INSERT INTO logs (id, org_id, ts, hour, type, action, level, service, namespace, source_ip, user, hostname, geo,
  vpn, status_code, resource, message)
  SELECT ${NEXT_ID} + key + 1, ${["org_id", "ts", "hour", "type", "action", "level", "service", "namespace", "source_ip", "user",
    "hostname", "geo", "vpn", "status_code", "resource", "message"].map(field).join(", ")} FROM json_each(?)`;

/** An event's item in its row: the event's own columns where the item's equal them (service =
 *  category, namespace litesoc, source_ip = user_ip, user = actor_id, geo = country_code,
 *  message = the name), the rest in its item columns. */
const INSERT_EVENTS = `INSERT INTO events (rowid, id, org_id, event_name, category, severity, instant_alert, actor_id, user_ip,
  country_code, metadata, created_at, item_type, item_action, item_level, item_resource)
  SELECT ${NEXT_ID} + key + 1, ${field("event_id")}, ${field("org_id")}, ${field("event_name")}, ${field("service")}, 'info', 0,
    ${field("user")}, ${field("source_ip")}, ${field("geo")}, '{}', ${field("ts")}, ${field("type")}, ${field("action")},
    nullif(${field("level")}, 'info'), ${field("resource")} FROM json_each(?)`;

/** Appends `n` items over the last 24 h (in time order) to what `state` already holds. */
async function seedLogs(app, state, n, onProgress) {
  const org = orgIdFor(ORG);
  const end = Date.now() - 1000;
  const span = 24 * H - 2 * 60_000;
  const chunk = 2000;
  for (let done = 0; done < n; done += chunk) {
    const rows = [];
    for (let i = done; i < Math.min(n, done + chunk); i++) {
      // Evenly spread with jitter, oldest first; each seeding round interleaves with the last.
      const ts = end - span + Math.floor(((i + state.rnd()) / n) * span);
      rows.push(state.gen(ts, org));
    }
    await app.db.batch([
      app.db.prepare(INSERT_LINES).bind(JSON.stringify(rows.filter((r) => r.event_id === null))),
      app.db.prepare(INSERT_EVENTS).bind(JSON.stringify(rows.filter((r) => r.event_id !== null))),
    ]);
    if ((done + chunk) % 100_000 === 0 || done + chunk >= n) onProgress(Math.min(n, done + chunk));
  }
  await rebuildRollups(app.db, org);
}

async function seedAlerts(app) {
  const org = orgIdFor(ORG);
  await app.db.prepare("DELETE FROM alerts WHERE org_id = ?").bind(org).run();
  const triggers = (await app.db.prepare(
    "SELECT id, ts, event_id, source_ip FROM items WHERE org_id = ? AND type = 'login_failure' AND ts >= ? ORDER BY ts DESC LIMIT 1000",
  ).bind(org, Date.now() - 23 * H).all()).results;
  const sev = ["low", "medium", "high", "critical"];
  const rows = triggers.map((t, i) => ({
    id: randomUUID(), severity: sev[i % 4], source_ip: t.source_ip, trigger: t.event_id ?? `${t.id}-${Math.floor(t.ts / 1000)}`,
    metadata: JSON.stringify({ confidence: 60 + (i % 40), evidence: { count: 5 + (i % 7), threshold: 5, window_minutes: 5, key: "ip" } }),
    created_at: t.ts,
  }));
  for (let i = 0; i < rows.length; i += 200) {
    await app.db.prepare(
      `INSERT INTO alerts (id, org_id, alert_type, severity, status, title, description, source_ip, actor_id, dedup_key,
         trigger_event_id, metadata, created_at, updated_at)
       SELECT json_extract(value,'$.id'), ?1, 'brute_force_attack', json_extract(value,'$.severity'), 'open', 'Brute force',
         'failed logins', json_extract(value,'$.source_ip'), NULL, 'ip:' || coalesce(json_extract(value,'$.source_ip'), '-'),
         json_extract(value,'$.trigger'), json_extract(value,'$.metadata'), json_extract(value,'$.created_at'),
         json_extract(value,'$.created_at') FROM json_each(?2)`,
    ).bind(org, JSON.stringify(rows.slice(i, i + 200))).run();
  }
  for (let i = 0; i < 20; i++) {
    await app.db.prepare(
      `INSERT OR IGNORE INTO events (id, org_id, event_name, category, severity, instant_alert, user_ip, metadata, created_at)
       VALUES (?, ?, 'security.ip_blocked', 'security', 'high', 0, '10.0.0.1', ?, ?)`,
    ).bind(randomUUID(), org, JSON.stringify({ ip: `203.0.0.${i}` }), Date.now() - i * H).run();
  }
  return rows.length;
}

// ------------------------------------------------------------------------------------------
// The statements the Worker sends (crates/bench/src/bin/dashboard-sql.rs prints them).

function statements(spec) {
  const out = execFileSync("cargo", ["run", "-q", "-p", "edgesoc-bench", "--bin", "dashboard-sql", "--", JSON.stringify(spec)], {
    cwd: root, stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.toString("utf8"));
}

const NAMES = ["buckets", "flows", "sources", "attackers", "logs", "iam", "anomalies", "anomaly_counts"];

async function plans(app, spec) {
  const { statements: list } = statements(spec);
  const out = {};
  for (const [i, s] of list.entries()) {
    const rows = (await app.db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).bind(...s.params).all()).results;
    out[NAMES[i]] = rows.map((r) => r.detail);
  }
  return out;
}

/** Whether the threshold algorithm proved the top 10 (1) or the hourly fallback ran (0). */
async function proven(app, spec) {
  const { statements: list } = statements(spec);
  // Each statement answers one row whose `rows` column is the JSON array of its rows.
  const run = async (i) => {
    const rows = (await app.db.prepare(list[i].sql).bind(...list[i].params).all()).results;
    return rows.length === 1 && typeof rows[0].rows === "string" ? JSON.parse(rows[0].rows) : rows;
  };
  const sources = await run(2);
  const attackers = await run(3);
  return { sources: sources[0]?.proven ?? null, attackers: attackers.find((r) => r.ip === null)?.proven ?? null };
}

async function rollupRows(app) {
  const out = {};
  for (const t of ["logs", "events", "log_hourly", "log_source_hourly", "log_source_hours", "log_source_daily", "log_attack_hourly",
    "log_attack_hours", "log_attack_daily", "log_attackers", "log_attacker_ips"]) {
    out[t] = (await app.db.prepare(`SELECT count(*) AS n FROM ${t}`).first()).n;
  }
  return out;
}

// ------------------------------------------------------------------------------------------

const QUERIES = [
  ["hours=24", "?hours=24", requests],
  ["hours=168", "?hours=168", 30],
  ["hours=1", "?hours=1", 30],
  ["service=api-gateway", "?hours=24&service=api-gateway", 30],
  ["namespace=staging", "?hours=24&namespace=staging", 30],
  // Pivots read the window's items rather than the rollups (docs/dashboard.md §1): the busiest
  // attacker address (Zipf rank 1) and one of the 500 users.
  ["source_ip=203.0.0.0", "?hours=24&source_ip=203.0.0.0", 30],
  ["user=user-7", "?hours=24&user=user-7", 30],
];

async function measure(app, key) {
  const out = {};
  for (const [name, query, n] of QUERIES) {
    for (let i = 0; i < 5; i++) await app.request(`/ui/mock-data${query}`, { key }); // warm up
    let body;
    out[name] = await timeIt(n, async () => {
      const res = await app.request(`/ui/mock-data${query}`, { key });
      if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.body)}`);
      body = res.body;
    });
    out[name].totalEvents = body.stats.totalEvents;
    out[name].logs = body.logs.length;
  }
  return out;
}

const round = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 100) / 100 : v]));

// The hourly cron below refreshes no network list (nothing leaves the machine).
const app = await instance({ NETWORK_LIST_SOURCES: "{}" });
const results = { distribution: "see the header of bench/dashboard.mjs", sizes: [], plans: {} };
try {
  const key = await app.createKey({ org: ORG, plan: "custom", retentionDays: 30 });
  await app.createKey({ org: "Neighbour", plan: "pro" });
  const state = { gen: generator(42), rnd: prng(7) };
  let seeded = 0;
  for (const size of sizes) {
    const t0 = Date.now();
    await seedLogs(app, state, size - seeded, (n) => process.stderr.write(`\rseeding ${seeded + n}/${size}`));
    seeded = size;
    const seedSeconds = (Date.now() - t0) / 1000;
    process.stderr.write(` (${seedSeconds.toFixed(0)} s)\n`);
    const alerts = await seedAlerts(app);
    // The hourly cron folds the closed hours into log_source_hours, as writers and the cron do
    // in service (crates/core/src/logs/rollups.rs `fold`).
    if ((await app.scheduled(Date.now(), "41 * * * *")).outcome !== "ok") throw new Error("hourly cron");
    const row = { size, seed_seconds: Math.round(seedSeconds), alerts, rows: await rollupRows(app) };
    const spec = { org: orgIdFor(ORG), now: Date.now(), cutoff: Date.now() - 30 * 86_400_000, hours: 24 };
    // Production D1 may never have run ANALYZE: measure without statistics first (when the
    // database lets us drop the ones an earlier size left), then with them.
    row.stats_dropped = await app.db.prepare("DELETE FROM sqlite_stat1").run().then(() => true, () => false);
    row.without_stats = { "hours=24": round(await timeIt(requests, async () => {
      const res = await app.request("/ui/mock-data?hours=24", { key });
      if (res.status !== 200) throw new Error(`${res.status}`);
    })) };
    await app.db.prepare("ANALYZE").run();
    const m = await measure(app, key);
    row.analyzed = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v)]));
    row.proven = {
      "hours=24": await proven(app, spec),
      "hours=168": await proven(app, { ...spec, hours: 168 }),
      "hours=1": await proven(app, { ...spec, hours: 1 }),
      "service=api-gateway": await proven(app, { ...spec, service: "api-gateway" }),
    };
    results.sizes.push(row);
    console.error(JSON.stringify(row));
    results.plans = {
      "hours=24": await plans(app, spec),
      "hours=24&service=api-gateway&namespace=prod": await plans(app, { ...spec, service: "api-gateway", namespace: "prod" }),
    };
  }
} finally {
  await app.dispose();
}
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/dashboard.json", import.meta.url), JSON.stringify(results, null, 2));
console.log(JSON.stringify(results.sizes.map((s) => ({ size: s.size, p50: s.analyzed["hours=24"].p50, p95: s.analyzed["hours=24"].p95 }))));
