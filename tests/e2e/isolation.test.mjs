// Tenant isolation as a matrix (issue 4, "Isolation"): no endpoint ever reads or changes another
// organisation's data. Three organisations are seeded identically through the real APIs (events
// through POST /collect and the queue consumer, alerts from a brute-force burst and an instant
// event, raw lines through the Loki push): "alpha" and "bravo" on Pro, "foxtrot" on Free. Then:
//
//   1. by id:   PAIRS × BY_ID × ID_FORMS. Another organisation's id, in every form the router
//               accepts or rejects, answers exactly what an unknown id answers (404, or the 403 plan
//               gate for Free on alert routes), and changes nothing. Controls: the owner gets 200
//               for the forms that resolve, so those 404s come from isolation, not from the path.
//   2. lists:   VIEWERS × LISTS. Every list holds exactly the viewer's own rows, with exact totals
//               and dashboard numbers, and no id, actor, IP, label or line of another organisation.
//   3. writes:  DETECTION and WRITES. alpha writes while reusing bravo's actors, IPs, labels and
//               org id; alpha sees its writes (and its detections and threat scores count only its
//               own history), and bravo's API views and every bravo row in D1 stay unchanged.
//   4. destinations: DESTINATIONS × DESTINATION_FORMS, lists, creates and the plan gate.
//   5. suppressions and detection settings: TUNING × TUNING_FORMS like destinations, and one
//      organisation's suppressions and settings never change what is detected for another.
//
// Adding a route means adding a row: the first test fails while openapi.json or `Route` in
// crates/core/src/api/route.rs has an operation that no row covers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { orgIdFor } from "../../scripts/lib/keys.mjs";
import { BASE, start } from "./harness.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const SHARED_IP = "192.0.2.200"; // failed logins from it in every organisation (cross-tenant detection)
const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;

// Every text marker of an organisation starts with its tag ("bravo_actor", "bravo_svc", …), and
// its IPs are not substrings of each other's, so a leak is found by a plain substring scan.
const ORGS = {
  alpha: { name: "IsoAlpha", plan: "pro", ip: "203.0.113.10", ip2: "203.0.113.11" },
  bravo: { name: "IsoBravo", plan: "pro", ip: "198.51.100.20", ip2: "198.51.100.21" },
  foxtrot: { name: "IsoFoxtrot", plan: "free", ip: "192.0.2.30", ip2: "192.0.2.31" },
};
for (const [tag, o] of Object.entries(ORGS)) Object.assign(o, { tag, orgId: orgIdFor(o.name) });
const { alpha: A, bravo: B, foxtrot: F } = ORGS;

// What the identical seed (below) must look like on each organisation's own dashboard.
const SEEDED = { events: 9, lines: 3, alerts: 2 };
const SEEDED_STATS = { totalEvents: 12, totalAnomalies: 2, criticalThreats: 1, failedLogins: 7, iamChanges: 2, attackSources: 2, eventsPerHour: 0.5 };
const ZERO_STATS = { totalEvents: 0, totalAnomalies: 0, criticalThreats: 0, failedLogins: 0, iamChanges: 0, attackSources: 0, eventsPerHour: 0 };

let app;

// ------------------------------------------------------------------------------------------
// Helpers

/** A request; HEAD is read as text (the harness would parse the empty JSON body). */
async function call(method, path, key, { headers = {}, body } = {}) {
  if (method !== "HEAD") return app.request(path, { method, key, headers, body });
  const res = await app.mf.dispatchFetch(BASE + path, { method, headers: { ...headers, "X-API-Key": key } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

// With EDGESOC_ISOLATION_SHARD (tests/e2e/isolation-sharded.test.mjs), bravo's data lives on
// that second D1 database (crates/core/src/shards.rs) and every read below looks in both, each
// read alone. Without it the matrix runs on one database, the configuration most deployments have.
const SHARD = process.env.EDGESOC_ISOLATION_SHARD;
let dbs; // DB, then the shard
const rows = async (sql, ...params) =>
  (await Promise.all(dbs.map((db) => db.prepare(sql).bind(...params).all()))).flatMap((r) => r.results);
/** A count over every database. */
const count = async (sql, ...params) => (await rows(sql, ...params)).reduce((n, r) => n + Object.values(r)[0], 0);

/** Every string in a JSON value, keys included. */
const strings = (v) => (typeof v === "string" ? [v]
  : v && typeof v === "object" ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]) : []);

/** The markers of `org` found in a response's body or headers (none, unless data leaked). */
function leaks(res, org) {
  const exact = new Set([org.orgId, ...org.eventIds, ...org.alertIds, ...org.lineIds]);
  const text = [`${org.tag}_`, `${org.tag}@`, org.name, org.ip, org.ip2];
  const all = [...strings(res.body), ...(res.headers ? [...res.headers.values()] : [])];
  return all.filter((s) => exact.has(s) || text.some((t) => s.includes(t)));
}

function assertNoLeak(res, viewer, what) {
  for (const other of Object.values(ORGS).filter((o) => o !== viewer)) {
    assert.deepEqual(leaks(res, other), [], `${what}: ${viewer.tag} sees ${other.tag}'s data`);
  }
}

const sameSet = (actual, expected, msg) => assert.deepEqual([...actual].sort(), [...expected].sort(), msg);

/** One statement reading, as JSON, every row of organisation ?1 in every D1 table with an org_id
 *  column (the tables, rollups included, are found in the schema) and its orgs row. */
async function snapshotSql() {
  // Every database has the same schema: read it from the primary.
  const tables = (await app.db.prepare("SELECT m.name AS t, json_group_array(p.name) AS cols FROM (SELECT name FROM sqlite_master " +
    "WHERE type = 'table' AND sql LIKE '%org_id%' AND substr(name, 1, 4) != '_cf_') AS m, pragma_table_info(m.name) AS p GROUP BY m.name").all()).results;
  const names = tables.map((t) => t.t);
  for (const t of ["events", "alerts", "alert_triggers", "logs", "event_counts", "log_hourly", "api_keys"]) {
    assert.ok(names.includes(t), `${t} is snapshotted`);
  }
  const part = (t, cols, where) => `(SELECT json_group_array(json_array(${cols.join(", ")})) FROM ${t} WHERE ${where}) AS ${t}`;
  return `SELECT ${[part("orgs", ["id", "name", "plan", "created_at"], "id = ?1"),
    ...tables.map((t) => part(t.t, JSON.parse(t.cols), "org_id = ?1"))].join(", ")}`;
}

let SNAPSHOT_SQL;
/** Every stored row of `org`, per table, sorted (one D1 round trip). */
async function storedRows(org) {
  SNAPSHOT_SQL ??= await snapshotSql();
  const stored = {};
  for (const db of dbs) {
    const row = await db.prepare(SNAPSHOT_SQL).bind(org.orgId).first();
    for (const [t, j] of Object.entries(row)) (stored[t] ??= []).push(...JSON.parse(j).map((r) => JSON.stringify(r)));
  }
  return Object.fromEntries(Object.entries(stored).map(([t, r]) => [t, r.sort()]));
}

/** What `org` sees through the API, without the parts that move with the clock. */
async function apiView(org) {
  const events = (await call("GET", "/events?limit=200", org.key)).body;
  const dash = (await call("GET", "/ui/mock-data?log_limit=5000&anomaly_limit=200&iam_limit=200", org.key)).body;
  const health = (await call("GET", "/health", org.key)).body;
  const view = {
    events: { ids: events.data.map((e) => e.id), total: events.pagination.total },
    quotaUsed: health.quota.used,
    dashboard: {
      stats: dash.stats, logs: dash.logs, anomalies: dash.anomalies, iamChanges: dash.iamChanges,
      topAttackers: dash.topAttackers, threatDistribution: dash.threatDistribution, networkFlow: dash.networkFlow,
      timelineTotal: dash.securityEventsTimeline.reduce((n, b) => n + b.total, 0),
      heatmapTotal: dash.attackPatternHeatmap.data.flat().reduce((n, x) => n + x, 0),
    },
  };
  if (org.plan !== "free") view.alerts = (await call("GET", "/alerts?limit=500", org.key)).body.data;
  return view;
}

function pushLines(key, org, lines, { path = "/loki/api/v1/push", headers = {}, now = Date.now() } = {}) {
  return app.request(path, {
    method: "POST", key, headers: { "Content-Type": "application/json", ...headers },
    body: { streams: [{ stream: { service: `${org.tag}_svc`, namespace: `${org.tag}_ns` }, values: lines.map((l, i) => [ns(now - (lines.length - i) * 1000), l]) }] },
  });
}

// ------------------------------------------------------------------------------------------
// The identical seed: 9 events (a login, an IAM change, an instant alert, one failure from the
// shared IP, five failures from the organisation's IP: a brute-force alert) and 3 raw lines.

async function seed(o) {
  const meta = { service: `${o.tag}_svc`, namespace: `${o.tag}_ns`, resource: `${o.tag}_resource` };
  const ids = [];
  const collect = async (body) => {
    const res = await app.collect(o.key, body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.push(...res.body.event_ids);
  };
  await collect({ events: [
    { event: "auth.login_success", actor: { id: `${o.tag}_actor`, email: `${o.tag}@example.com` }, user_ip: o.ip, metadata: meta },
    { event: "admin.user_created", actor: `${o.tag}_actor`, user_ip: o.ip, metadata: meta },
    { event: "security.suspicious_activity", actor: `${o.tag}_actor`, user_ip: o.ip, metadata: meta },
    { event: "auth.login_failed", actor: `${o.tag}_actor`, user_ip: SHARED_IP, metadata: meta },
  ] });
  for (let i = 0; i < 5; i++) await collect({ event: "auth.login_failed", actor: `${o.tag}_victim${i}`, user_ip: o.ip, metadata: meta });
  const push = await pushLines(o.key, o, [
    JSON.stringify({ level: "info", msg: "iam policy attached", user: `${o.tag}_lokiuser`, resource: `${o.tag}_resource`, ip: o.ip2 }),
    `${o.tag}_marker sshd: Failed password for invalid user ${o.tag}_lokiuser from ${SHARED_IP} port 22 ssh2`,
    `${o.tag}_marker heartbeat from ${o.ip2} ok`,
  ]);
  assert.equal(push.status, 204, JSON.stringify(push.body));
  return ids;
}

/** Reads back what the seed stored for `o` (ids of events, alerts and raw-line items). */
async function record(o, collected) {
  o.events = await rows("SELECT * FROM events WHERE org_id = ? ORDER BY created_at DESC, id DESC", o.orgId);
  o.alerts = await rows("SELECT * FROM alerts WHERE org_id = ?", o.orgId);
  o.eventIds = o.events.map((e) => e.id);
  o.alertIds = o.alerts.map((a) => a.id);
  o.lines = (await rows("SELECT id, ts, source_ip FROM logs WHERE org_id = ? AND event_id IS NULL ORDER BY ts DESC, id DESC", o.orgId))
    .map((l) => ({ ...l, id: `${l.id}-${Math.floor(l.ts / 1000)}` }));
  o.lineIds = o.lines.map((l) => l.id);
  sameSet(o.eventIds, collected, `${o.tag}: every accepted event is stored once`);
  assert.equal(o.events.length, SEEDED.events);
  assert.equal(o.lineIds.length, SEEDED.lines);
  sameSet(o.alerts.map((a) => a.alert_type), ["brute_force_attack", "suspicious_activity"], `${o.tag}'s alerts`);
}

let stored0; // every organisation's D1 rows right after the seed
before(async () => {
  app = await start({ shards: SHARD ? [SHARD] : [] });
  dbs = SHARD ? [await app.shard("DB"), await app.shard(SHARD)] : [app.db];
  for (const o of Object.values(ORGS)) {
    o.key = await app.createKey({ org: o.name, plan: o.plan, shard: SHARD && o === B ? SHARD : undefined });
  }
  const collected = {};
  for (const o of Object.values(ORGS)) collected[o.tag] = await seed(o);
  await app.settle();
  await app.eventually(async () => (await count("SELECT count(*) FROM alerts")) === 3 * SEEDED.alerts);
  for (const o of Object.values(ORGS)) await record(o, collected[o.tag]);
  // The dashboard rollups count every stored item once a dashboard read has caught them up
  // (crates/core/src/logs/rollups.rs), on each database (an organisation's read catches up its
  // own); the snapshots are taken as they leave them.
  for (const o of SHARD ? [A, B] : [A]) assert.equal((await call("GET", "/ui/mock-data", o.key)).status, 200);
  stored0 = {};
  for (const o of Object.values(ORGS)) stored0[o.tag] = await storedRows(o);
});
after(() => app.dispose());

// ------------------------------------------------------------------------------------------
// 1. By id

/** Routes that take an id. `target` is the kind of id the route reads. */
const BY_ID = [
  { op: "GET /events/{id}", route: "GetEvent", method: "GET", base: "/events", target: "event" },
  { op: "HEAD /events/{id}", route: "GetEvent", method: "HEAD", base: "/events", target: "event" },
  { op: "GET /alerts/{id}", route: "GetAlert", method: "GET", base: "/alerts", target: "alert" },
  { op: "GET /logs/{id}", route: "GetLog", method: "GET", base: "/logs", target: "line" },
  { op: "PATCH /alerts/{id}", route: "UpdateAlert", method: "PATCH", base: "/alerts", target: "alert",
    body: { action: "resolve", resolution_type: "blocked_ip", internal_notes: "written by another organisation", resolved_by: "intruder" } },
];

/** Id forms, given the victim `v` ({id, other, line, org, key}) and the route's base path.
 *  `owner`: what the victim itself gets for the form (GET). `core`: also run for the Free
 *  organisation, whose limit is 100 requests a minute. */
const ID_FORMS = [
  { name: "the victim's id", core: true, owner: 200, path: (b, v) => `${b}/${v.id}` },
  { name: "upper case", core: true, owner: 200, path: (b, v) => `${b}/${v.id.toUpperCase()}` },
  { name: "mixed case", owner: 200, path: (b, v) => `${b}/${[...v.id].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join("")}` },
  { name: "a trailing slash", core: true, owner: 200, path: (b, v) => `${b}/${v.id}/` },
  { name: "repeated slashes", owner: 200, path: (b, v) => `/${b}//${v.id}//` },
  { name: "the /v1 prefix", owner: 200, path: (b, v) => `/v1${b}/${v.id}` },
  { name: "the /api/v1 prefix", core: true, owner: 200, path: (b, v) => `/api/v1${b}/${v.id}` },
  { name: "/api/v1, upper case and a trailing slash", owner: 200, path: (b, v) => `/api/v1${b}/${v.id.toUpperCase()}/` },
  { name: "a query naming the victim's organisation", owner: 200, path: (b, v) => `${b}/${v.id}?org_id=${v.org}&org=${v.org}` },
  { name: "the victim's key as Bearer and its org as X-Scope-OrgID", core: true, owner: 200, path: (b, v) => `${b}/${v.id}`,
    headers: (v) => ({ Authorization: `Bearer ${v.key}`, "X-Scope-OrgID": v.org }) },
  { name: "percent-encoded hyphens", owner: 404, path: (b, v) => `${b}/${v.id.replaceAll("-", "%2D")}` },
  { name: "a trailing space", owner: 404, path: (b, v) => `${b}/${v.id}%20` },
  { name: "a leading space", owner: 404, path: (b, v) => `${b}/%20${v.id}` },
  { name: "a trailing newline", owner: 404, path: (b, v) => `${b}/${v.id}%0A` },
  { name: "a trailing NUL", owner: 404, path: (b, v) => `${b}/${v.id}%00` },
  { name: "no hyphens", owner: 404, path: (b, v) => `${b}/${v.id.replaceAll("-", "")}` },
  { name: "braces", owner: 404, path: (b, v) => `${b}/%7B${v.id}%7D` },
  { name: "a urn:uuid: prefix", owner: 404, path: (b, v) => `${b}/urn:uuid:${v.id}` },
  { name: "an SQL suffix", owner: 404, path: (b, v) => `${b}/${encodeURIComponent(`${v.id}' OR '1'='1`)}` },
  { name: "the victim's id of the other kind", core: true, owner: 404, path: (b, v) => `${b}/${v.other}` },
  { name: "the victim's raw-line item id", owner: 404, path: (b, v) => `${b}/${v.line}` },
  { name: "an unknown UUID", core: true, owner: 404, path: (b) => `${b}/${randomUUID()}` },
  { name: "the nil UUID", owner: 404, path: (b) => `${b}/00000000-0000-0000-0000-000000000000` },
  { name: "a malformed id", core: true, owner: 404, path: (b) => `${b}/not-a-uuid` },
];

/** Who attacks whom. Free attackers run the core forms only (rate limit). */
const PAIRS = [[A, B], [B, A], [A, F], [F, B]];

const victimOf = (route, o) => {
  const [event, alert, line] = [o.eventIds[0], o.alertIds[0], o.lineIds[0]];
  const [id, other, lineForm] = {
    event: [event, alert, line],
    alert: [alert, event, line],
    // A line route's "raw-line item id" form gets the alert's id: an id of another kind too.
    line: [line, event, alert],
  }[route.target];
  return { id, other, line: lineForm, org: o.orgId, key: o.key };
};
const formsFor = (org) => (org.plan === "free" ? ID_FORMS.filter((f) => f.core) : ID_FORMS);

describe("another organisation's ids answer exactly like unknown ids, in every form and on every id route", () => {
  const baseline = new Map(); // attacker tag + op → the answer to an unknown UUID
  before(async () => {
    for (const [attacker] of PAIRS) {
      for (const r of BY_ID) {
        const k = `${attacker.tag} ${r.op}`;
        if (!baseline.has(k)) baseline.set(k, await call(r.method, `${r.base}/${randomUUID()}`, attacker.key, { body: r.body }));
      }
    }
  });

  test("the unknown-id answer is 404 NOT_FOUND, or the 403 plan gate for Free on alert routes", () => {
    for (const [k, res] of baseline) {
      const gated = k.startsWith("foxtrot") && k.includes("/alerts");
      assert.equal(res.status, gated ? 403 : 404, k);
      if (!k.includes("HEAD")) assert.equal(res.body.error.code, gated ? "PLAN_RESTRICTED" : "NOT_FOUND", k);
    }
  });

  for (const [attacker, victim] of PAIRS) {
    for (const r of BY_ID) {
      for (const form of formsFor(attacker)) {
        test(`${attacker.tag} → ${victim.tag}: ${r.op} with ${form.name}`, async () => {
          const v = victimOf(r, victim);
          const res = await call(r.method, form.path(r.base, v), attacker.key, { headers: form.headers?.(v) ?? {}, body: r.body });
          const expected = baseline.get(`${attacker.tag} ${r.op}`);
          assert.equal(res.status, expected.status, JSON.stringify(res.body));
          assert.deepEqual(res.body, expected.body);
          assert.equal(res.headers.get("x-litesoc-plan"), attacker.plan, "answered in the attacker's tenant");
          assertNoLeak(res, attacker, r.op);
        });
      }
    }
  }
});

describe("controls: the owner reads its own ids in every form that resolves", () => {
  for (const owner of [A, B, F]) {
    for (const r of BY_ID.filter((x) => x.method === "GET" && !(owner.plan === "free" && x.target === "alert"))) {
      for (const form of formsFor(owner)) {
        test(`${owner.tag}: ${r.op} with ${form.name} → ${form.owner}`, async () => {
          const v = victimOf(r, owner);
          const res = await call(r.method, form.path(r.base, v), owner.key, { headers: form.headers?.(v) ?? {} });
          assert.equal(res.status, form.owner, JSON.stringify(res.body));
          if (form.owner === 200) assert.equal(res.body.data.id, v.id);
          assertNoLeak(res, owner, r.op);
        });
      }
    }
  }
});

test("the by-id matrix changed no stored row of any organisation, and the owners see their alerts untouched", async () => {
  for (const o of Object.values(ORGS)) assert.deepEqual(await storedRows(o), stored0[o.tag], o.tag);
  for (const o of [A, B]) {
    for (const id of o.alertIds) {
      const a = (await call("GET", `/alerts/${id}`, o.key)).body.data;
      assert.deepEqual([a.status, a.resolution_type, a.resolved_by, a.metadata.internal_notes ?? null], ["open", null, null, null]);
    }
  }
  assert.equal(await count("SELECT count(*) FROM alerts WHERE status != 'open' OR metadata LIKE '%another organisation%'"), 0);
});

// ------------------------------------------------------------------------------------------
// 2. Lists. `expect(me, other)` gives the exact ids (events, alerts, dashboard log items) or
// values the viewer `me` must get; `other` is a neighbour whose values are used as filters.

const matching = (list, pred) => list.filter(pred).map((x) => x.id);
const allItems = (me) => [...me.eventIds, ...me.lineIds];
const DAY = 86_400_000;
const yesterday = () => new Date(Date.now() - DAY).toISOString().slice(0, 10);

const LISTS = [
  // GET /events: every filter, the prefixes, offset and cursor paging.
  { op: "GET /events", route: "ListEvents", core: true, path: () => "/events?limit=200", expect: (me) => me.eventIds },
  { op: "GET /events", route: "ListEvents", path: () => "/v1/events/?limit=200", expect: (me) => me.eventIds },
  { op: "GET /events", route: "ListEvents", path: () => "/api/v1//events?limit=200&org_id=" + B.orgId, expect: (me) => me.eventIds },
  { op: "GET /events", route: "ListEvents", core: true, path: (me) => `/events?actor_id=${me.tag}_actor`, expect: (me) => matching(me.events, (e) => e.actor_id === `${me.tag}_actor`) },
  { op: "GET /events", route: "ListEvents", core: true, path: (me, other) => `/events?actor_id=${other.tag}_actor`, expect: () => [] },
  { op: "GET /events", route: "ListEvents", path: (me, other) => `/events?actor_id=${other.tag}_victim0`, expect: () => [] },
  { op: "GET /events", route: "ListEvents", path: () => "/events?event_type=auth.login_failed", expect: (me) => matching(me.events, (e) => e.event_name === "auth.login_failed") },
  { op: "GET /events", route: "ListEvents", path: () => "/events?event_name=security.suspicious_activity", expect: (me) => matching(me.events, (e) => e.event_name === "security.suspicious_activity") },
  { op: "GET /events", route: "ListEvents", path: () => "/events?severity=critical,low", expect: (me) => matching(me.events, (e) => ["critical", "low"].includes(e.severity)) },
  { op: "GET /events", route: "ListEvents", path: () => "/events?from=2000-01-01&limit=200", expect: (me) => me.eventIds },
  { op: "GET /events", route: "ListEvents", path: () => `/events?start_date=${yesterday()}&end_date=2999-12-31`, expect: (me) => me.eventIds },
  { op: "GET /events", route: "ListEvents", path: () => "/events?to=2000-01-01", expect: () => [] },
  { op: "GET /events", route: "ListEvents", path: () => "/events?offset=4&limit=200", expect: (me) => me.eventIds.slice(4), total: SEEDED.events },
  { op: "GET /events", route: "ListEvents", path: () => "/events?limit=2", cursor: true, expect: (me) => me.eventIds },
  // GET /alerts: every filter (Free: the plan gate, whatever the query).
  { op: "GET /alerts", route: "ListAlerts", core: true, path: () => "/alerts", expect: (me) => me.alertIds },
  { op: "GET /alerts", route: "ListAlerts", path: () => "/api/v1/alerts/?from=2000-01-01&limit=500", expect: (me) => me.alertIds },
  { op: "GET /alerts", route: "ListAlerts", path: () => "/alerts?alert_type=brute_force", expect: (me) => matching(me.alerts, (a) => a.alert_type === "brute_force_attack") },
  { op: "GET /alerts", route: "ListAlerts", path: () => "/alerts?alert_type=suspicious_activity", expect: (me) => matching(me.alerts, (a) => a.alert_type === "suspicious_activity") },
  { op: "GET /alerts", route: "ListAlerts", path: () => "/alerts?status=active", expect: (me) => me.alertIds },
  { op: "GET /alerts", route: "ListAlerts", path: () => "/alerts?status=resolved,safe", expect: () => [] },
  { op: "GET /alerts", route: "ListAlerts", path: () => "/alerts?severity=critical,high", expect: (me) => me.alertIds },
  { op: "GET /alerts", route: "ListAlerts", path: (me) => `/alerts?actor_id=${me.tag}_actor`, expect: (me) => matching(me.alerts, (a) => a.actor_id === `${me.tag}_actor`) },
  { op: "GET /alerts", route: "ListAlerts", core: true, path: (me, other) => `/alerts?actor_id=${other.tag}_actor`, expect: () => [] },
  // GET /logs: the viewer's raw lines only, whatever the filter names.
  { op: "GET /logs", route: "ListLogs", core: true, lines: true, path: () => "/logs?limit=200", expect: (me) => me.lineIds },
  { op: "GET /logs", route: "ListLogs", lines: true, path: () => "/api/v1/logs/?org_id=" + B.orgId, expect: (me) => me.lineIds },
  { op: "GET /logs", route: "ListLogs", lines: true, path: () => "/logs?limit=1", cursor: true, expect: (me) => me.lineIds },
  { op: "GET /logs", route: "ListLogs", lines: true, path: (me) => `/logs?service=${me.tag}_svc&namespace=${me.tag}_ns`, expect: (me) => me.lineIds },
  { op: "GET /logs", route: "ListLogs", core: true, lines: true, path: (me, other) => `/logs?service=${other.tag}_svc`, expect: () => [] },
  { op: "GET /logs", route: "ListLogs", lines: true, path: (me, other) => `/logs?user=${other.tag}_lokiuser`, expect: () => [] },
  { op: "GET /logs", route: "ListLogs", lines: true, path: (me, other) => `/logs?q=${other.tag}_marker`, expect: () => [] },
  { op: "GET /logs", route: "ListLogs", lines: true, path: () => `/logs?source_ip=${SHARED_IP}&type=login_failure`,
    expect: (me) => matching(me.lines, (l) => l.source_ip === SHARED_IP) },
  // Exports: the viewer's rows only, part by part (Free: the plan gate on alerts).
  { op: "GET /events/export", route: "ExportEvents", core: true, exported: true, path: () => "/events/export", expect: (me) => me.eventIds },
  { op: "GET /events/export", route: "ExportEvents", exported: true, path: (me, other) => `/events/export?format=csv&actor_id=${other.tag}_actor`, expect: () => [] },
  { op: "GET /alerts/export", route: "ExportAlerts", exported: true, path: () => "/alerts/export?format=ndjson", expect: (me) => me.alertIds },
  { op: "GET /logs/export", route: "ExportLogs", core: true, exported: true, path: () => "/logs/export", expect: (me) => me.lineIds },
  { op: "GET /logs/export", route: "ExportLogs", exported: true, path: (me) => `/logs/export?format=csv&service=${me.tag}_svc`, expect: (me) => me.lineIds },
  // Loki's reads (Grafana): the viewer's streams, values and counts only.
  ...lokiRows(),
  // GET /ui/mock-data: exact items, anomalies and numbers; another organisation's labels give nothing.
  { op: "GET /ui/mock-data", route: "DashboardData", core: true, path: () => "/ui/mock-data", dashboard: true, expect: (me) => ({ logs: allItems(me), anomalies: me.alertIds, stats: SEEDED_STATS }) },
  { op: "GET /ui/mock-data", route: "DashboardData", path: () => "/api/v1/ui/mock-data?hours=168&log_limit=5000&anomaly_limit=200&iam_limit=200", dashboard: true,
    expect: (me) => ({ logs: allItems(me), anomalies: me.alertIds, stats: { ...SEEDED_STATS, eventsPerHour: Math.round((SEEDED_STATS.totalEvents / 168) * 10) / 10 } }) },
  { op: "GET /ui/mock-data", route: "DashboardData", path: (me) => `/v1/ui/mock-data?service=${me.tag}_svc&namespace=${me.tag}_ns`, dashboard: true, expect: (me) => ({ logs: allItems(me), anomalies: me.alertIds, stats: SEEDED_STATS }) },
  { op: "GET /ui/mock-data", route: "DashboardData", core: true, path: (me, other) => `/ui/mock-data?service=${other.tag}_svc`, dashboard: true, expect: () => ({ logs: [], anomalies: [], stats: ZERO_STATS }) },
  { op: "GET /ui/mock-data", route: "DashboardData", path: (me, other) => `/ui/mock-data?namespace=${other.tag}_ns&hours=168`, dashboard: true, expect: () => ({ logs: [], anomalies: [], stats: ZERO_STATS }) },
  // GET /health: the viewer's organisation and its own quota use; GET /openapi.json holds no tenant data.
  { op: "GET /health", route: "Health", core: true, path: () => "/health", health: true },
  { op: "GET /health", route: "Health", path: () => "/api/v1/health/", health: true },
  { op: "GET /openapi.json", route: null, core: true, path: () => "/openapi.json", spec: true },
];

/** Rows for Loki's reads; `loki(body, me, other)` checks the answer. */
function lokiRows() {
  const q = (path, params) => () => `${path}?${new URLSearchParams(params)}`;
  const since = () => `${(Date.now() - DAY) * 1e6}`;
  const lines = (body) => body.data.result.flatMap((s) => s.values.map((v) => v[1]));
  return [
    { op: "GET /loki/api/v1/query_range", route: "LokiQueryRange", core: true,
      path: (me) => q("/loki/api/v1/query_range", { query: `{service="${me.tag}_svc"}`, start: since(), limit: "1000" })(),
      loki: (body, me) => assert.equal(lines(body).length, SEEDED.lines) },
    { op: "GET /loki/api/v1/query_range", route: "LokiQueryRange",
      path: (me, other) => q("/loki/api/v1/query_range", { query: `{service=~".+"} |= "${other.tag}_marker"`, start: since() })(),
      loki: (body) => assert.deepEqual(body.data.result, []) },
    { op: "GET /loki/api/v1/query_range", route: "LokiQueryRange",
      path: () => q("/loki/api/v1/query_range", { query: 'sum by (service) (count_over_time({namespace=~".+"}[1d]))', start: since(), step: "3600" })(),
      loki: (body, me) => assert.deepEqual([...new Set(body.data.result.map((r) => r.metric.service))], [`${me.tag}_svc`]) },
    { op: "GET /loki/api/v1/query", route: "LokiQuery", core: true,
      path: (me) => q("/loki/api/v1/query", { query: `sum(count_over_time({service="${me.tag}_svc"}[1d]))` })(),
      loki: (body) => assert.equal(body.data.result[0].value[1], String(SEEDED.lines)) },
    { op: "GET /loki/api/v1/labels", route: "LokiLabels", path: () => "/loki/api/v1/labels",
      loki: (body) => assert.deepEqual(body.data, ["detected_level", "level", "namespace", "service", "severity", "type"]) },
    { op: "GET /loki/api/v1/label", route: "LokiLabels", path: () => "/loki/api/v1/label",
      loki: (body) => assert.ok(body.data.includes("service")) },
    { op: "GET /loki/api/v1/label/{name}/values", route: "LokiLabelValues", core: true,
      path: () => q("/loki/api/v1/label/service/values", { start: since() })(),
      loki: (body, me) => assert.deepEqual(body.data, [`${me.tag}_svc`]) },
    { op: "GET /loki/api/v1/label/{name}/values", route: "LokiLabelValues",
      path: (me, other) => q("/loki/api/v1/label/namespace/values", { start: since(), query: `{service="${other.tag}_svc"}` })(),
      loki: (body) => assert.deepEqual(body.data, []) },
    { op: "GET /loki/api/v1/series", route: "LokiSeries",
      path: () => q("/loki/api/v1/series", { "match[]": '{namespace=~".+"}', start: since() })(),
      loki: (body, me) => assert.ok(body.data.length > 0 && body.data.every((s) => s.service === `${me.tag}_svc`), JSON.stringify(body.data)) },
    { op: "GET /loki/api/v1/status/buildinfo", route: "LokiBuildinfo", path: () => "/loki/api/v1/status/buildinfo",
      loki: (body) => assert.equal(typeof body.version, "string") },
    { op: "GET /ready", route: "LokiReady", path: () => "/ready", loki: (body) => assert.equal(body, "ready\n") },
  ];
}

const VIEWERS = [[A, B], [B, A], [F, B]];

async function checkList(row, me, other) {
  const path = row.path(me, other);
  const res = await call("GET", path, me.key);
  assertNoLeak(res, me, path);
  if (row.spec) {
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, (await call("GET", path, other.key)).body, "the same document for every key");
    return;
  }
  if (row.op.startsWith("GET /alerts") && me.plan === "free") {
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "PLAN_RESTRICTED");
    return;
  }
  assert.equal(res.status, 200, JSON.stringify(res.body));
  if (row.loki) {
    row.loki(res.body, me, other);
    return;
  }
  if (row.exported) {
    // One part holds every seeded row: no next part, and every row is the viewer's own.
    assert.equal(res.headers.get("x-next-cursor"), null);
    const csv = path.includes("format=csv");
    const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
    const rows = csv
      ? text.trim().split("\r\n").slice(1).map((l) => ({ id: JSON.parse(l.split(",")[0].replaceAll('""', '\\"')), org_id: JSON.parse(l.split(",")[1]) }))
      : text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(Number(res.headers.get("x-export-rows")), rows.length);
    sameSet(rows.map((r) => r.id), row.expect(me, other), "exported ids");
    assert.ok(rows.every((r) => r.org_id === me.orgId), "org_id of every row");
    return;
  }
  if (row.health) {
    assert.deepEqual([res.body.organization.id, res.body.organization.name, res.body.plan], [me.orgId, me.name, me.plan]);
    assert.equal(res.body.quota.used, SEEDED.events, "only the viewer's accepted events count");
    return;
  }
  if (row.dashboard) {
    const want = row.expect(me, other);
    sameSet(res.body.logs.map((l) => l.id), want.logs, "log items");
    sameSet(res.body.anomalies.map((a) => a.id), want.anomalies, "anomalies");
    assert.deepEqual(res.body.stats, want.stats);
    const users = new Set(res.body.iamChanges.map((c) => c.changedBy));
    assert.deepEqual([...users].sort(), want.logs.length ? [`${me.tag}_actor`, `${me.tag}_lokiuser`] : []);
    sameSet(res.body.topAttackers.map((t) => t.sourceIp), want.logs.length ? [me.ip, SHARED_IP] : [], "top attackers");
    assert.equal(res.body.topAttackers.find((t) => t.sourceIp === SHARED_IP)?.attacks ?? 2, 2, "the shared IP counts only own failures");
    assert.equal(res.body.threatDistribution.reduce((n, d) => n + d.count, 0), want.anomalies.length);
    return;
  }
  const want = row.expect(me, other);
  let ids = res.body.data.map((x) => x.id);
  // Lines page by cursor only, without a total (docs/api.md §5.12).
  if (!row.lines) assert.equal(res.body.pagination.total, row.total ?? want.length, "total");
  if (row.cursor) {
    for (let cursor = res.body.pagination.next_cursor; cursor; ) {
      const page = await call("GET", `${path}&cursor=${cursor}`, me.key);
      assertNoLeak(page, me, path);
      ids.push(...page.body.data.map((x) => x.id));
      cursor = page.body.pagination.next_cursor;
    }
    assert.deepEqual(ids, want, "the cursor walk, in order");
  }
  sameSet(ids, want, "ids");
  assert.ok(res.body.data.every((x) => x.org_id === me.orgId), "org_id of every row");
}

describe("every list holds exactly the viewer's own rows, numbers and nothing of another organisation", () => {
  for (const [me, other] of VIEWERS) {
    for (const row of LISTS.filter((r) => me.plan !== "free" || r.core)) {
      test(`${me.tag}: ${row.path(me, other)}`, () => checkList(row, me, other));
    }
  }
});

// ------------------------------------------------------------------------------------------
// 3. Writes by alpha, reusing bravo's identities. `act` writes and returns evidence; `seen`
// checks that alpha sees its write. Around each row: bravo's API view and D1 rows are unchanged.

const collectAs = async (path, body, headers = {}) => {
  const res = await app.request(path, { method: "POST", key: A.key, body, headers });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.event_ids;
};
/** Waits until the consumer has stored every one of `ids`. */
const stored = async (ids) => assert.ok(await app.eventually(async () =>
  (await count("SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids))) === ids.length), "stored");
const seenEvents = async (ids) => {
  await stored(ids);
  for (const id of ids) {
    assert.equal((await call("GET", `/events/${id}`, A.key)).status, 200, "alpha reads its event");
    assert.equal((await call("GET", `/events/${id}`, B.key)).status, 404, "bravo does not");
  }
};
const lineCount = (o) => count("SELECT count(*) FROM logs WHERE org_id = ? AND event_id IS NULL", o.orgId);
const bravoLike = { event: "auth.login_success", actor: { id: `${B.tag}_actor`, email: `${B.tag}@example.com` }, user_ip: B.ip,
  metadata: { service: `${B.tag}_svc`, namespace: `${B.tag}_ns`, resource: `${B.tag}_resource`, org_id: B.orgId } };

/** Detection and the threat score read history: alpha's never includes bravo's. */
const DETECTION = [
  { op: "POST /collect", route: "Collect", name: "failed logins below the threshold, from an IP bravo failed from too: no alert anywhere",
    act: () => collectAs("/collect", { events: [1, 2].map((i) => ({ event: "auth.login_failed", actor: `${A.tag}_x${i}`, user_ip: SHARED_IP })) }),
    // alpha now has 4 failures from the IP and bravo 2: 6 together would cross the threshold of 5.
    seen: async (ids) => {
      await stored(ids);
      await app.settle();
      assert.equal(await count("SELECT count(*) FROM alerts WHERE source_ip = ?", SHARED_IP), 0);
    } },
  { op: "POST /loki/api/v1/push", route: "LokiPush", name: "alpha's fifth failure from that IP raises alpha's alert, counting alpha's failures only",
    act: () => pushLines(A.key, A, [`sshd: Failed password for invalid user root from ${SHARED_IP} port 22 ssh2`], { now: Date.now() + 1000 }),
    seen: async () => {
      const [alert, ...more] = await rows("SELECT * FROM alerts WHERE source_ip = ?", SHARED_IP);
      assert.equal(more.length, 0);
      assert.equal(alert.org_id, A.orgId);
      assert.equal(JSON.parse(alert.metadata).evidence.count, 5, "alpha's own five; bravo's two are not counted");
    } },
  { op: "POST /collect", route: "Collect", name: "a login from bravo's IP and actor scores like a login from an IP nobody has seen",
    act: () => collectAs("/collect", { events: [bravoLike, { event: "auth.login_success", actor: `${A.tag}_fresh`, user_ip: "203.0.113.77" }] }),
    // bravo has five failures and two open alerts on its IP and actor; alpha has none.
    seen: async (ids) => {
      await seenEvents(ids);
      const score = async (id) => (await rows("SELECT threat_score FROM events WHERE id = ?", id))[0].threat_score;
      const [scored, fresh] = [await score(ids[0]), await score(ids[1])];
      assert.equal(typeof fresh, "number");
      assert.equal(scored, fresh);
    } },
];

/** A webhook as alpha, whose records name bravo: stored for alpha only. */
const webhookAs = async (path, body, headers = {}) => {
  const res = await app.request(path, { method: "POST", body, headers });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.event_ids;
};
const auth0Like = (type) => ({ log_id: `${B.tag}_log`, data: { type, date: new Date().toISOString(), ip: B.ip,
  user_id: `auth0|${B.tag}_actor`, user_name: `${B.tag}@example.com`, client_name: `${B.tag}_app`, org_id: B.orgId } });
const agentsOf = async (o) => (await call("GET", "/agents", o.key)).body.data.map((a) => a.hostname);

const WRITES = [
  { op: "POST /webhooks/auth0", route: "Auth0Webhook", name: "Auth0 records naming bravo's user, IP and org, alpha's key in the query, bravo's org id in X-Scope-OrgID",
    act: () => webhookAs(`/webhooks/auth0?api_key=${A.key}`, [auth0Like("s"), auth0Like("f")], { "X-Scope-OrgID": B.orgId }), seen: seenEvents },
  { op: "POST /webhooks/auth0", route: "Auth0Webhook", name: "/v1/webhooks/auth0 with alpha's key as X-API-Key and bravo's in the query: the header wins",
    act: () => webhookAs(`/v1/webhooks/auth0?api_key=${B.key}`, auth0Like("slo"), { "X-API-Key": A.key }), seen: seenEvents },
  { op: "POST /webhooks/supabase", route: "SupabaseWebhook", name: "a Supabase sign-up of bravo's user, alpha's key as Bearer",
    act: () => webhookAs("/webhooks/supabase", { type: "INSERT", schema: "auth", table: "users",
      record: { id: `${B.tag}_actor`, email: `${B.tag}@example.com`, org_id: B.orgId }, old_record: null }, { Authorization: `Bearer ${A.key}` }),
    seen: seenEvents },
  { op: "POST /agent/heartbeat", route: "AgentHeartbeat", name: "alpha's agent reports bravo's hostname and address",
    act: async () => {
      const res = await call("POST", "/agent/heartbeat", A.key, { body: { hostname: `${B.tag}_host`, ip_address: B.ip, agent_version: "1.0.0", recent_logs: [`${B.tag}_marker`] } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { success: true, update: { available: false } });
    },
    seen: async () => {
      assert.ok((await agentsOf(A)).includes(`${B.tag}_host`), "alpha's agent");
      assert.ok(!(await agentsOf(B)).includes(`${B.tag}_host`), "not bravo's");
    } },
  { op: "GET /agents", route: "ListAgents", name: "alpha lists its own agents; bravo, with none, lists none of alpha's",
    act: async () => assert.equal((await call("POST", "/agent/heartbeat", A.key, { body: { hostname: `${A.tag}_own` } })).status, 200),
    seen: async () => {
      assert.ok((await agentsOf(A)).includes(`${A.tag}_own`));
      assert.deepEqual(await agentsOf(B), []);
    } },
  { op: "POST /collect", route: "Collect", name: "events with bravo's actor, e-mail, IP, labels and org id",
    act: () => collectAs("/collect", { org_id: B.orgId, events: [bravoLike, { ...bravoLike, event: "admin.user_deleted", org_id: B.orgId }] }), seen: seenEvents },
  { op: "POST /collect/batch", route: "Collect", name: "the /v1/collect/batch alias, with bravo's org id in X-Scope-OrgID",
    act: () => collectAs("/v1/collect/batch", { events: [bravoLike] }, { "X-Scope-OrgID": B.orgId }), seen: seenEvents },
  { op: "POST /collect", route: "Collect", name: "/api/v1/collect with bravo's key as Bearer next to alpha's X-API-Key",
    act: () => collectAs("/api/v1/collect", { ...bravoLike, event: "data.sensitive_access" }, { Authorization: `Bearer ${B.key}` }),
    seen: async (ids) => {
      await seenEvents(ids);
      assert.equal(await count("SELECT count(*) FROM alerts WHERE trigger_event_id = ? AND org_id = ?", ids[0], A.orgId), 1, "alpha's instant alert");
    } },
  { op: "POST /loki/api/v1/push", route: "LokiPush", name: "Loki lines with bravo's labels, user and IP, and X-Scope-OrgID: bravo",
    act: async () => {
      const before = await lineCount(A);
      const res = await pushLines(A.key, B, [JSON.stringify({ msg: "iam role granted", user: `${B.tag}_lokiuser`, ip: B.ip2 }), `${B.tag}_marker from ${B.ip}`],
        { headers: { "X-Scope-OrgID": B.orgId } });
      assert.equal(res.status, 204);
      return before;
    },
    seen: async (before) => assert.equal(await lineCount(A), before + 2) },
  { op: "POST /loki/api/v1/push", route: "LokiPush", name: "/api/v1/loki/api/v1/push with HTTP Basic bravo:<alpha's key>",
    act: async () => {
      const before = await lineCount(A);
      const basic = Buffer.from(`${B.orgId}:${A.key}`).toString("base64");
      const res = await app.request("/api/v1/loki/api/v1/push", {
        method: "POST", headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/json" },
        body: { streams: [{ stream: { service: `${B.tag}_svc` }, values: [[ns(Date.now()), `${B.tag}_marker basic`]] }] },
      });
      assert.equal(res.status, 204);
      return before;
    },
    seen: async (before) => assert.equal(await lineCount(A), before + 1) },
  { op: "POST /logs", route: "OtlpLogs", name: "OTLP records with bravo's service, user and IP, and X-Scope-OrgID: bravo",
    act: async () => {
      const before = await lineCount(A);
      const attr = (key, v) => ({ key, value: { stringValue: v } });
      const res = await app.request("/v1/logs", {
        method: "POST", headers: { Authorization: `Bearer ${A.key}`, "Content-Type": "application/json", "X-Scope-OrgID": B.orgId },
        body: { resourceLogs: [{ resource: { attributes: [attr("service.name", `${B.tag}_svc`), attr("org_id", B.orgId)] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: String(ns(Date.now())), body: { stringValue: `${B.tag}_marker otlp` },
            attributes: [attr("enduser.id", `${B.tag}_lokiuser`), attr("client.address", B.ip)] }] }] }] },
      });
      assert.equal(res.status, 200);
      return before;
    },
    seen: async (before) => assert.equal(await lineCount(A), before + 1) },
  { op: "PATCH /alerts/{id}", route: "UpdateAlert", name: "alpha resolves its own alert with notes",
    act: async () => {
      const res = await call("PATCH", `/alerts/${A.alertIds[0]}`, A.key, { body: { action: "resolve", internal_notes: `${B.tag}_notes`, resolved_by: `${B.tag}_analyst` } });
      assert.equal(res.status, 200);
    },
    seen: async () => assert.equal((await call("GET", `/alerts/${A.alertIds[0]}`, A.key)).body.data.status, "resolved") },
  { op: "PATCH /alerts/{id}", route: "UpdateAlert", name: "alpha tries every status on bravo's alerts through every prefix",
    act: async () => {
      for (const id of B.alertIds) {
        for (const path of [`/alerts/${id}`, `/v1/alerts/${id.toUpperCase()}`, `/api/v1/alerts/${id}/`]) {
          for (const body of [{ status: "resolved" }, { status: "safe", internal_notes: "x" }, { action: "mark_safe" }, { status: "open" }]) {
            assert.equal((await call("PATCH", path, A.key, { body })).status, 404);
          }
        }
      }
    },
    seen: async () => {} },
];

/** One test per row: alpha writes, alpha sees it, bravo's views and rows are unchanged. */
function writeTests(table) {
  for (const row of table) {
    test(`${row.op}: ${row.name}`, async () => {
      const [view0, rows0] = [await apiView(B), await storedRows(B)];
      const evidence = await row.act();
      await app.settle();
      await row.seen(evidence);
      assert.deepEqual(await storedRows(B), rows0, "bravo's stored rows");
      assert.deepEqual(await apiView(B), view0, "bravo's API view");
    });
  }
}

describe("detection and threat scores never count another organisation's history", () => writeTests(DETECTION));

describe("alpha's writes reach alpha only, and leave bravo's views and stored rows unchanged", () => {
  writeTests(WRITES);

  test("after all of alpha's writes, bravo and foxtrot hold exactly their seeded rows", async () => {
    for (const o of [B, F]) assert.deepEqual(await storedRows(o), stored0[o.tag], o.tag);
    const b = await apiView(B);
    assert.deepEqual(b.dashboard.stats, SEEDED_STATS);
    assert.equal(b.quotaUsed, SEEDED.events);
    sameSet(b.events.ids, B.eventIds);
    assert.deepEqual(b.alerts.map((a) => [a.status, a.metadata.occurrences]), B.alerts.map(() => ["open", 1]));
    assertNoLeak({ body: b }, B, "bravo's view");
  });
});

// ------------------------------------------------------------------------------------------
// ------------------------------------------------------------------------------------------
// 4. Destinations. Another organisation's destination answers exactly like an unknown one on
// every destination route and in every form, lists hold only the viewer's own, a create that
// names the other organisation lands in the caller's, and the victim's row never changes.

const DESTINATIONS = [
  { op: "GET /destinations", route: "ListDestinations", list: true },
  { op: "POST /destinations", route: "CreateDestination", create: true },
  { op: "GET /destinations/{id}", route: "GetDestination", method: "GET", suffix: "" },
  { op: "PATCH /destinations/{id}", route: "UpdateDestination", method: "PATCH", suffix: "", body: { name: "taken over", enabled: false } },
  { op: "DELETE /destinations/{id}", route: "DeleteDestination", method: "DELETE", suffix: "" },
  { op: "POST /destinations/{id}/test", route: "TestDestination", method: "POST", suffix: "/test" },
  { op: "POST /destinations/{id}/rotate-secret", route: "RotateDestinationSecret", method: "POST", suffix: "/rotate-secret" },
  { op: "GET /destinations/{id}/deliveries", route: "ListDeliveries", method: "GET", suffix: "/deliveries" },
];
const DESTINATION_FORMS = [
  { name: "the victim's id", path: (id) => `/destinations/${id}` },
  { name: "upper case", path: (id) => `/destinations/${id.toUpperCase()}` },
  { name: "the /api/v1 prefix and a trailing slash", path: (id) => `/api/v1/destinations/${id}/` },
  { name: "the victim's key as Bearer and its org as X-Scope-OrgID", path: (id) => `/destinations/${id}`,
    headers: (v) => ({ Authorization: `Bearer ${v.key}`, "X-Scope-OrgID": v.orgId }) },
];

describe("destinations: another organisation's answer like unknown ones, and nothing changes", () => {
  const dest = {};
  const quiet = (o) => ({ name: `${o.tag}_hook`, kind: "webhook", url: "http://127.0.0.1:9/never", min_severity: "critical", alert_types: ["new_device"] });
  before(async () => {
    for (const o of [A, B]) {
      const res = await call("POST", "/destinations", o.key, { body: quiet(o) });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      dest[o.tag] = res.body.data;
    }
  });

  for (const [attacker, victim] of [[A, B], [B, A]]) {
    for (const r of DESTINATIONS.filter((x) => x.method)) {
      for (const form of DESTINATION_FORMS) {
        test(`${attacker.tag} → ${victim.tag}: ${r.op} with ${form.name}`, async () => {
          const id = dest[victim.tag].id;
          const unknown = await call(r.method, `/destinations/dst_${"0".repeat(32)}${r.suffix}`, attacker.key, { body: r.body });
          const res = await call(r.method, `${form.path(id)}${r.suffix}`, attacker.key, { headers: form.headers?.(victim) ?? {}, body: r.body });
          assert.equal(unknown.status, 404);
          assert.equal(res.status, 404, JSON.stringify(res.body));
          assert.deepEqual(res.body, unknown.body);
          assertNoLeak(res, attacker, r.op);
        });
      }
    }
  }

  test("lists hold only the viewer's own; a create naming the other organisation lands in the caller's", async () => {
    const made = await call("POST", "/destinations", A.key, { body: { ...quiet(A), name: `${A.tag}_second`, org_id: B.orgId },
      headers: { "X-Scope-OrgID": B.orgId } });
    assert.equal(made.status, 201);
    for (const o of [A, B]) {
      const list = await call("GET", "/destinations", o.key);
      assert.ok(list.body.data.length >= 1 && list.body.data.every((d) => d.name.startsWith(`${o.tag}_`)), JSON.stringify(list.body.data));
      assertNoLeak(list, o, "GET /destinations");
    }
    assert.equal(await count("SELECT count(*) FROM destinations WHERE id = ? AND org_id = ?", made.body.data.id, A.orgId), 1);
  });

  test("the victims' destinations are unchanged and Free gets the plan gate on every destination route", async () => {
    for (const o of [A, B]) {
      const [row] = await rows("SELECT name, enabled, secret IS NOT NULL AS signed FROM destinations WHERE id = ?", dest[o.tag].id);
      assert.deepEqual(row, { name: `${o.tag}_hook`, enabled: 1, signed: 1 });
    }
    for (const r of DESTINATIONS) {
      const path = r.list || r.create ? "/destinations" : `/destinations/${dest.alpha.id}${r.suffix}`;
      const method = r.list ? "GET" : r.create ? "POST" : r.method;
      const res = await call(method, path, F.key, { body: r.create ? quiet(F) : r.body });
      assert.equal(res.status, 403, r.op);
      assert.equal(res.body.error.code, "PLAN_RESTRICTED");
    }
  });
});

// ------------------------------------------------------------------------------------------
// 5. Suppressions and detection settings. Another organisation's suppression answers exactly like
// an unknown one in every form; lists and settings hold only the caller's own; and what one
// organisation suppresses or tunes changes nothing another detects.

const TUNING = [
  { op: "GET /suppressions", route: "ListSuppressions", list: true },
  { op: "POST /suppressions", route: "CreateSuppression", create: true },
  { op: "GET /suppressions/{id}", route: "GetSuppression", method: "GET" },
  { op: "DELETE /suppressions/{id}", route: "DeleteSuppression", method: "DELETE" },
  { op: "GET /settings/detection", route: "GetDetectionSettings", settings: "GET" },
  { op: "PATCH /settings/detection", route: "UpdateDetectionSettings", settings: "PATCH" },
];
const TUNING_FORMS = [
  { name: "the victim's id", path: (id) => `/suppressions/${id}` },
  { name: "upper case", path: (id) => `/suppressions/${id.toUpperCase()}` },
  { name: "the /api/v1 prefix and a trailing slash", path: (id) => `/api/v1/suppressions/${id}/` },
  { name: "the victim's key as Bearer and its org as X-Scope-OrgID", path: (id) => `/suppressions/${id}`,
    headers: (v) => ({ Authorization: `Bearer ${v.key}`, "X-Scope-OrgID": v.orgId }) },
];

describe("suppressions and detection settings: another organisation's are unreachable and ineffective", () => {
  const sup = {};
  const TUNED_IP = "198.51.100.250"; // suppressed by alpha; bravo attacks from it
  const SLOW_IP = "198.51.100.251"; // two failures: alpha's threshold of 2 alerts, bravo's default does not
  const suppressions = (o) => rows("SELECT * FROM suppressions WHERE org_id = ? ORDER BY id", o.orgId);
  before(async () => {
    for (const o of [A, B]) {
      const res = await call("POST", "/suppressions", o.key, { body: { scope: "ip", value: TUNED_IP, reason: `${o.tag}_reason` } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      sup[o.tag] = res.body.data;
    }
    const tuned = await call("PATCH", "/settings/detection", A.key, { body: { brute_force_ip: { threshold: 2 }, reason: `${A.tag}_tuning` } });
    assert.equal(tuned.status, 200, JSON.stringify(tuned.body));
  });

  for (const [attacker, victim] of [[A, B], [B, A]]) {
    for (const r of TUNING.filter((x) => x.method)) {
      for (const form of TUNING_FORMS) {
        test(`${attacker.tag} → ${victim.tag}: ${r.op} with ${form.name}`, async () => {
          const before = await suppressions(victim);
          const unknown = await call(r.method, `/suppressions/sup_${"0".repeat(32)}`, attacker.key);
          const res = await call(r.method, form.path(sup[victim.tag].id), attacker.key, { headers: form.headers?.(victim) ?? {} });
          assert.equal(unknown.status, 404);
          assert.equal(res.status, 404, JSON.stringify(res.body));
          assert.deepEqual(res.body, unknown.body);
          assertNoLeak(res, attacker, r.op);
          assert.deepEqual(await suppressions(victim), before, "the victim's suppressions are unchanged");
        });
      }
    }
  }

  test("lists and settings hold only the caller's own; a create or patch naming the other organisation stays in the caller's", async () => {
    const made = await call("POST", "/suppressions", A.key, { body: { scope: "actor", value: `${A.tag}_contractor`, reason: `${A.tag}_second`, org_id: B.orgId },
      headers: { "X-Scope-OrgID": B.orgId } });
    assert.equal(made.status, 201);
    assert.equal(await count("SELECT count(*) FROM suppressions WHERE id = ? AND org_id = ?", made.body.data.id, A.orgId), 1);
    const named = await call("PATCH", "/settings/detection", A.key, { body: { org_id: B.orgId, travel: null }, headers: { "X-Scope-OrgID": B.orgId } });
    assert.equal(named.status, 400, "an organisation is not a setting");
    for (const o of [A, B]) {
      for (const path of ["/suppressions", "/suppressions?include=expired", "/api/v1/suppressions?org_id=" + (o === A ? B : A).orgId]) {
        const list = await call("GET", path, o.key);
        assert.equal(list.status, 200);
        assert.ok(list.body.data.length >= 1 && list.body.data.every((x) => x.reason.startsWith(`${o.tag}_`)), JSON.stringify(list.body.data));
        assertNoLeak(list, o, path);
      }
      const settings = await call("GET", "/settings/detection", o.key);
      assertNoLeak(settings, o, "GET /settings/detection");
      assert.equal(settings.body.data.brute_force_ip.threshold, o === A ? 2 : 5);
      assert.equal(settings.body.data.reason, o === A ? `${A.tag}_tuning` : null);
    }
    assert.equal(await count("SELECT count(*) FROM detection_settings WHERE org_id = ?", B.orgId), 0, "bravo never changed its settings");
  });

  test("alpha's suppression and threshold change what alpha detects, never what bravo detects", async () => {
    // Bravo's suppression of the same address is deleted: bravo now alerts on it, alpha does not.
    assert.equal((await call("DELETE", `/suppressions/${sup.bravo.id}`, B.key)).status, 200);
    for (const o of [A, B]) {
      for (let i = 0; i < 5; i++) assert.equal((await app.collect(o.key, { event: "auth.login_failed", actor: `${o.tag}_tuned${i}`, user_ip: TUNED_IP })).status, 202);
      for (let i = 0; i < 2; i++) assert.equal((await app.collect(o.key, { event: "auth.login_failed", actor: `${o.tag}_slow${i}`, user_ip: SLOW_IP })).status, 202);
    }
    await app.settle();
    const alertsOf = async (o, ip) => rows("SELECT suppressed_by FROM alerts WHERE org_id = ? AND source_ip = ? AND alert_type = 'brute_force_attack'", o.orgId, ip);
    assert.ok(await app.eventually(async () => (await alertsOf(A, SLOW_IP)).length === 1), "alpha's threshold of 2 raised on the second failure");
    assert.deepEqual(await alertsOf(B, SLOW_IP), [], "bravo's default threshold of 5 did not");
    assert.deepEqual(await alertsOf(A, TUNED_IP), [{ suppressed_by: sup.alpha.id }], "alpha's own suppression applied to alpha");
    assert.deepEqual(await alertsOf(B, TUNED_IP), [{ suppressed_by: null }], "alpha's suppression never applies to bravo");
    const visible = await call("GET", "/alerts?status=suppressed", B.key);
    assert.deepEqual(visible.body.data, [], "bravo has nothing suppressed");
    assertNoLeak(await call("GET", "/alerts?status=suppressed", A.key), A, "alpha's suppressed alerts");
  });

  test("Free gets the plan gate on every suppression and settings route", async () => {
    for (const r of TUNING) {
      const path = r.list || r.create ? "/suppressions" : r.settings ? "/settings/detection" : `/suppressions/${sup.alpha.id}`;
      const method = r.list ? "GET" : r.create ? "POST" : r.settings ?? r.method;
      const body = r.create ? { scope: "ip", value: TUNED_IP, reason: "free" } : r.settings === "PATCH" ? { travel: null } : undefined;
      const res = await call(method, path, F.key, { body });
      assert.equal(res.status, 403, r.op);
      assert.equal(res.body.error.code, "PLAN_RESTRICTED");
    }
    assert.equal(await count("SELECT count(*) FROM suppressions WHERE org_id = ?", F.orgId), 0);
  });
});

// ------------------------------------------------------------------------------------------
// Keys, the audit log and authorized origins: another organisation's are unreachable, and a
// change through one organisation's key never touches another's.

const ACCESS = [
  { op: "GET /keys", route: "ListKeys" },
  { op: "POST /keys", route: "CreateKey" },
  { op: "DELETE /keys/{id}", route: "RevokeKey" },
  { op: "POST /keys/{id}/rotate", route: "RotateKey" },
  { op: "GET /audit", route: "ListAudit" },
  { op: "GET /audit/export", route: "ExportAudit" },
  { op: "GET /audit/verify", route: "VerifyAudit" },
  { op: "GET /settings/origins", route: "GetOrigins" },
  { op: "PUT /settings/origins", route: "UpdateOrigins" },
  { op: "POST /session", route: "CreateSession" },
  { op: "GET /session", route: "GetSession" },
  { op: "DELETE /session", route: "DeleteSession" },
  { op: "GET /members", route: "ListMembers" },
  { op: "PUT /members/{email}", route: "PutMember" },
  { op: "DELETE /members/{email}", route: "DeleteMember" },
];
const KEY_FORMS = [
  { name: "the victim's id", path: (id) => `/keys/${id}` },
  { name: "upper case", path: (id) => `/keys/${id.toUpperCase()}` },
  { name: "the /api/v1 prefix and a trailing slash", path: (id) => `/api/v1/keys/${id}/` },
  { name: "the victim's key as Bearer and its org as X-Scope-OrgID", path: (id) => `/keys/${id}`,
    headers: (v) => ({ Authorization: `Bearer ${v.key}`, "X-Scope-OrgID": v.orgId }) },
];

describe("keys, the audit log and origins: another organisation's are unreachable", () => {
  const json = { "content-type": "application/json" };
  test("alpha's admin key cannot list, revoke or rotate bravo's keys, nor read bravo's log or origins", async () => {
    const made = await call("POST", "/keys", B.key, { body: { name: "bravo_shipper", scopes: ["ingest"] }, headers: json });
    assert.equal(made.status, 201);
    const victim = made.body.data;
    assert.equal((await call("PUT", "/settings/origins", B.key, { body: { origins: ["https://bravo.example"] }, headers: json })).status, 200);
    const listed = await call("GET", "/keys", A.key);
    assert.ok(!listed.body.data.some((k) => k.id === victim.id || (k.name ?? "").startsWith("bravo_")));
    for (const form of KEY_FORMS) {
      const headers = form.headers?.(B) ?? {};
      assert.equal((await call("DELETE", form.path(victim.id), A.key, { headers })).status, 404, `revoke, ${form.name}`);
      assert.equal((await call("POST", `${form.path(victim.id).replace(/\/$/, "")}/rotate`, A.key, { headers, body: {} })).status, 404, `rotate, ${form.name}`);
    }
    assert.equal((await app.collect(victim.key, { event: "auth.login_success", actor: "bravo_keep" })).status, 202, "bravo's key still works");
    for (const path of ["/audit?limit=200", "/audit/export", "/audit/export?format=csv", "/audit/verify"]) {
      const res = await call("GET", path, A.key);
      assert.equal(res.status, 200, path);
      const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
      // Alpha's own entries may carry bravo-like text alpha wrote (the PATCH rows above); bravo's
      // own entries name its key, its origin list and its organisation.
      for (const marker of [victim.id, "bravo_shipper", "bravo.example", B.orgId, B.key.slice(0, 14)]) {
        assert.ok(!text.includes(marker), `${path}: alpha sees bravo's ${marker}`);
      }
    }
    const alphaOrigins = await call("GET", "/settings/origins", A.key);
    assert.deepEqual(alphaOrigins.body.data.origins, [], "bravo's list is bravo's");
    assert.equal((await call("PUT", "/settings/origins", A.key, { body: { origins: [] }, headers: json })).status, 200);
    assert.deepEqual((await call("GET", "/settings/origins", B.key)).body.data.origins, ["https://bravo.example"], "alpha's change left bravo's list");
    // Keys and the log stay out of every other organisation's view too.
    const fox = await call("GET", "/audit", F.key);
    assert.deepEqual(fox.body.data, []);
    assert.equal((await call("PUT", "/settings/origins", B.key, { body: { origins: [] }, headers: json })).status, 200);
    // A member e-mail is one organisation's: another cannot take, change or remove it.
    assert.equal((await call("PUT", "/members/bravo_lead@example.com", B.key, { body: { role: "admin" }, headers: json })).status, 200);
    assert.equal((await call("PUT", "/members/bravo_lead%40example.com", A.key, { body: { role: "viewer" }, headers: json })).status, 409);
    assert.equal((await call("DELETE", "/members/bravo_lead@example.com", A.key)).status, 404);
    assert.ok(!(await call("GET", "/members", A.key)).body.data.some((m) => m.email.startsWith("bravo_")));
    assert.deepEqual((await call("GET", "/members", B.key)).body.data.map((m) => [m.email, m.role]), [["bravo_lead@example.com", "admin"]]);
    assert.equal((await call("DELETE", "/members/bravo_lead@example.com", B.key)).status, 200);
    // A session is its key's organisation's, whatever else the request names.
    const signed = await app.request("/session", { method: "POST", body: { key: A.key }, headers: { ...json, "X-Scope-OrgID": B.orgId } });
    assert.equal(signed.status, 201);
    const cookie = signed.headers.get("set-cookie").split(";")[0];
    const me = await app.request("/session", { headers: { Cookie: cookie, "X-Scope-OrgID": B.orgId } });
    assert.equal(me.body.data.organization.id, A.orgId);
    const viaSession = (await app.request("/events?limit=200", { headers: { Cookie: cookie } })).body.data.map((e) => e.id);
    const viaKey = (await call("GET", "/events?limit=200", A.key)).body.data.map((e) => e.id);
    assert.deepEqual(viaSession, viaKey, "alpha's session reads what alpha's key reads, and nothing of bravo's");
    const out = await app.request("/session", { method: "DELETE", headers: { Cookie: cookie, "X-CSRF-Token": signed.body.data.csrf_token } });
    assert.equal(out.status, 200);
  });
});

// The matrix covers the router: every operation of openapi.json and every `Route` has a row.

test("every route in openapi.json and every Route variant has a row in the matrix", () => {
  const all = [...BY_ID, ...LISTS, ...DETECTION, ...WRITES, ...DESTINATIONS, ...TUNING, ...ACCESS];
  const ops = new Set(all.map((r) => r.op));
  const spec = JSON.parse(readFileSync(`${ROOT}openapi/openapi.json`, "utf8"));
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of Object.keys(item).filter((m) => ["get", "post", "patch", "put", "delete"].includes(m))) {
      assert.ok(ops.has(`${method.toUpperCase()} ${path}`), `no row for ${method.toUpperCase()} ${path}`);
    }
  }
  const src = readFileSync(`${ROOT}crates/core/src/api/route.rs`, "utf8");
  const variants = src.match(/pub enum Route \{([^}]*)\}/)[1].match(/^\s*([A-Z]\w*)/gm).map((v) => v.trim());
  assert.ok(variants.length >= 9, `parsed ${variants}`);
  const routes = new Set(all.map((r) => r.route));
  for (const v of variants) assert.ok(routes.has(v), `no row for Route::${v}`);
});
