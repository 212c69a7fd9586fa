// GET /ui/mock-data end to end (docs/dashboard.md §1–§3): data seeded through the real APIs
// (POST /collect with instant alerts and a brute-force burst, Loki pushes from two services and
// namespaces), then every section checked twice: against hand-counted values of the seed, and
// against an independent computation of the contract's rules over the stored items (the
// "oracle" below, which never reads the rollups: it reads the view `items`, raw lines and
// events alike, migrations/0019_events_stored_once.sql). Also: filters on every section, limits,
// hours clamping, Free redaction, errors, DASHBOARD_PUBLIC_ORG, the top-10 ranking on larger
// distributions (seeded straight into `logs`, rollups then recomputed), rollups kept by the Worker exact
// through the retention purge, and the dashboard's own contract checker.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isIP } from "node:net";
import { start } from "./harness.mjs";
import { orgIdFor } from "../../scripts/lib/keys.mjs";
import { rebuildRollups } from "../../scripts/lib/rollups.mjs";
import { validateMockData } from "../browser/contract.mjs";

const H = 3_600_000;
const MIN = 60_000;
const DAY = 86_400_000;
const PATH = "/ui/mock-data";

const VPN_NY = { country: "US", city: "New York", latitude: "40.71280", longitude: "-74.00600", timezone: "America/New_York", asn: 9009, asOrganization: "M247 Europe SRL" };
const BERLIN = { country: "DE", city: "Berlin", latitude: "52.52000", longitude: "13.40500", timezone: "Europe/Berlin", asn: 3320, asOrganization: "Deutsche Telekom AG", colo: "FRA" };

let app, pro, free, other, rank, flat;
let T0; // seeding time: Loki lines are placed relative to it

const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;

function push(key, streams) {
  return app.request("/loki/api/v1/push", {
    method: "POST", key, headers: { "Content-Type": "application/json" }, body: { streams },
  });
}

const get = (key, query = "") => app.request(PATH + query, { key });

/** Every 4xx/5xx carries the contract's error body (docs/api.md §9.7). */
function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.success, false);
  assert.equal(res.body.error.code, code);
  assert.equal(res.body.code, code);
  assert.equal(res.body.message, res.body.error.message);
}

// ------------------------------------------------------------------------------------------
// The oracle: the contract's rules over raw rows, written independently of the SQL.

const HOSTILE_EVENTS = new Set(["authz.access_denied", "security.suspicious_activity", "security.rate_limit_exceeded",
  "security.ip_blocked", "security.brute_force_detected"]);
const TYPES = ["login_failure", "login_success", "iam_change", "network_scan", "network_event"];
const SEVERITIES = ["critical", "high", "medium", "low"];
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function routable(ip) {
  const v = ip ? isIP(ip) : 0;
  if (!v) return false;
  const l = ip.toLowerCase();
  if (v === 4) return !l.startsWith("127.") && l !== "0.0.0.0";
  return !["::", "::1", "0:0:0:0:0:0:0:0", "0:0:0:0:0:0:0:1"].includes(l) && !/^::ffff:(127\.|0\.0\.0\.0$)/.test(l);
}

const isHostile = (r) => routable(r.source_ip) && (r.type === "login_failure" || r.type === "network_scan"
  || HOSTILE_EVENTS.has(r.event_name) || (r.event_name === null && [401, 403, 429].includes(r.status_code)));

async function rowsOf(org) {
  const id = orgIdFor(org);
  const all = async (sql) => (await app.db.prepare(sql).bind(id).all()).results;
  return {
    logs: await all("SELECT * FROM items WHERE org_id = ?"),
    alerts: await all("SELECT * FROM alerts WHERE org_id = ?"),
    blocks: await all("SELECT user_ip, metadata, created_at FROM events WHERE org_id = ? AND event_name = 'security.ip_blocked'"),
  };
}

/** The §3 response for `org` over the response's own window, computed from raw rows. */
async function oracle(org, body, { service, namespace, ip, user, statuses, logLimit = 500, anomalyLimit = 50, iamLimit = 20, redact = false } = {}) {
  const { logs, alerts, blocks } = await rowsOf(org);
  const start = Date.parse(body.timeRange.start);
  const end = Date.parse(body.timeRange.end);
  const hours = body.timeRange.hours;
  const pass = (s, n) => (!service || s === service) && (!namespace || n === namespace);
  const pivot = (r) => (!ip || r.source_ip === ip) && (!user || r.user === user);
  const items = logs.filter((r) => r.ts >= start && r.ts <= end && pass(r.service, r.namespace) && pivot(r));
  const newest = (a, b) => b.ts - a.ts || b.id - a.id;

  const logItem = (r) => {
    const o = { id: r.event_id ?? `${r.id}-${Math.floor(r.ts / 1000)}`, type: r.type, sourceIp: r.source_ip ?? "unknown", timestamp: iso(r.ts) };
    const hide = redact && r.event_id !== null;
    if (r.user !== null) o.user = r.user;
    if (r.geo !== null && !hide) o.geo = r.geo;
    if (r.hostname !== null) o.hostname = r.hostname;
    if (r.target_ip !== null) o.targetIp = r.target_ip;
    if (r.type === "iam_change" && r.action !== null) o.action = r.action;
    if (r.vpn !== null && !hide) o.vpn = r.vpn === 1;
    if (r.device !== null) o.device = r.device;
    o._metadata = { severity: r.level, service: r.service, namespace: r.namespace };
    if (r.status_code !== null) o._metadata.status_code = r.status_code;
    return o;
  };

  // Anomalies: alerts in the window, filtered through their trigger item.
  const byEvent = new Map(logs.filter((r) => r.event_id).map((r) => [r.event_id, r]));
  const byId = new Map(logs.map((r) => [r.id, r]));
  const trigger = (a) => {
    const t = a.trigger_event_id;
    if (!t) return undefined;
    if (t.length === 36) return byEvent.get(t);
    const [rid, secs] = t.split("-").map(Number);
    const r = byId.get(rid);
    return r && r.event_id === null && Math.floor(r.ts / 1000) === secs ? r : undefined;
  };
  const inWindow = (t) => t !== null && t >= start && t <= end;
  const anomalies = alerts.filter((a) => inWindow(a.created_at) || inWindow(a.raised_at))
    .filter((a) => !statuses || statuses.includes(a.status))
    .filter((a) => (!ip || a.source_ip === ip) && (!user || a.actor_id === user))
    .map((a) => ({ a, item: trigger(a) }))
    .filter(({ item }) => (!service && !namespace) || (item && pass(item.service, item.namespace)));
  const rank = (s) => SEVERITIES.indexOf(s);
  anomalies.sort((x, y) => rank(x.a.severity) - rank(y.a.severity) || y.a.created_at - x.a.created_at || (y.a.id > x.a.id ? 1 : -1));
  const anomaly = ({ a, item }) => {
    const meta = JSON.parse(a.metadata);
    const o = { id: a.id, timestamp: iso(a.created_at), severity: a.severity, type: a.alert_type, title: a.title,
      description: a.description, user: a.actor_id, sourceIp: a.source_ip,
      confidence: Math.min(100, Math.max(0, Math.round(meta.confidence ?? 0))), status: a.status };
    if (item) Object.assign(o, { service: item.service, namespace: item.namespace });
    if (meta.evidence && typeof meta.evidence === "object") o.evidence = meta.evidence;
    return o;
  };
  const dist = SEVERITIES.map((level) => ({ level, count: anomalies.filter(({ a }) => a.severity === level).length }));

  // Attackers.
  const hostile = items.filter(isHostile);
  const attackers = new Map();
  for (const r of [...hostile].sort((a, b) => a.ts - b.ts || a.id - b.id)) {
    const x = attackers.get(r.source_ip) ?? { attacks: 0, services: new Set(), last: 0, geo: null };
    x.attacks++;
    x.services.add(r.service);
    x.last = Math.max(x.last, r.ts);
    if (r.geo !== null) x.geo = r.geo;
    attackers.set(r.source_ip, x);
  }
  const blocked = new Set();
  for (const b of blocks.filter((b) => b.created_at >= start && b.created_at <= end)) {
    if (b.user_ip) blocked.add(b.user_ip.trim());
    const ip = JSON.parse(b.metadata).ip;
    if (typeof ip === "string") blocked.add(ip.trim());
  }
  const worst = new Map();
  for (const { a } of anomalies) {
    if (a.source_ip) worst.set(a.source_ip, Math.max(worst.get(a.source_ip) ?? 0, 4 - rank(a.severity)));
  }
  const topAttackers = [...attackers.entries()]
    .sort(([ia, a], [ib, b]) => b.attacks - a.attacks || b.last - a.last || (ia < ib ? -1 : ia > ib ? 1 : 0))
    .slice(0, 10)
    .map(([ip, x]) => {
      const byCount = x.attacks > 50 ? 4 : x.attacks > 20 ? 3 : x.attacks >= 5 ? 2 : 1;
      return {
        sourceIp: ip, country: redact || x.geo === null ? "Unknown" : x.geo, attacks: x.attacks,
        servicesTargeted: x.services.size, severity: SEVERITIES[4 - Math.max(byCount, worst.get(ip) ?? 0)],
        status: blocked.has(ip) ? "blocked" : end - x.last <= H ? "active" : "inactive",
      };
    });

  // Timeline and heatmap.
  const timeline = [];
  for (let h = start; h <= Math.floor(end / H) * H; h += H) {
    const b = items.filter((r) => r.ts >= h && r.ts < h + H);
    timeline.push({ timestamp: iso(h), total: b.length, critical: b.filter((r) => r.level === "critical" || r.level === "error").length,
      warnings: b.filter((r) => r.level === "warning").length, failedLogins: b.filter((r) => r.type === "login_failure").length,
      iamChanges: b.filter((r) => r.type === "iam_change").length });
  }
  const data = Array.from({ length: 7 }, () => Array(24).fill(0));
  for (const r of hostile) {
    const d = new Date(r.ts);
    data[(d.getUTCDay() + 6) % 7][d.getUTCHours()]++;
  }

  // Sankey.
  const count = (keyOf) => {
    const m = new Map();
    for (const r of items) m.set(keyOf(r), (m.get(keyOf(r)) ?? 0) + 1);
    return m;
  };
  const bySource = [...count((r) => r.source_ip ?? "unknown").entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const top = new Set(bySource.slice(0, 10).map(([s]) => s));
  const bucket = (r) => (top.has(r.source_ip ?? "unknown") ? r.source_ip ?? "unknown" : "\u0000other");
  const sourceCounts = [...count(bucket).entries()]
    .sort(([a, x], [b, y]) => y - x || (a === "\u0000other") - (b === "\u0000other") || (a < b ? -1 : 1));
  const serviceCounts = [...count((r) => r.service).entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const usedTypes = TYPES.filter((t) => items.some((r) => r.type === t));
  const nodes = [
    ...sourceCounts.map(([s]) => ({ name: s === "\u0000other" ? "other" : s, layer: "source", key: s })),
    ...serviceCounts.map(([s]) => ({ name: s, layer: "device", key: s })),
    ...usedTypes.map((t) => ({ name: t, layer: "telemetry", key: t })),
  ].map((n, id) => ({ ...n, id }));
  const idOf = (layer, key) => nodes.find((n) => n.layer === layer && n.key === key).id;
  const links = [];
  for (const [s] of sourceCounts) {
    for (const [svc] of serviceCounts) {
      const v = items.filter((r) => bucket(r) === s && r.service === svc).length;
      if (v) links.push({ source: idOf("source", s), target: idOf("device", svc), value: v });
    }
  }
  for (const [svc] of serviceCounts) {
    for (const t of usedTypes) {
      const v = items.filter((r) => r.service === svc && r.type === t).length;
      if (v) links.push({ source: idOf("device", svc), target: idOf("telemetry", t), value: v });
    }
  }

  const iam = items.filter((r) => r.type === "iam_change").sort(newest);
  return {
    timeRange: { start: iso(start), end: iso(end), hours },
    logs: [...items].sort(newest).slice(0, logLimit).map(logItem),
    anomalies: anomalies.slice(0, anomalyLimit).map(anomaly),
    iamChanges: iam.slice(0, iamLimit).map((r) => ({ timestamp: iso(r.ts), changedBy: r.user ?? "unknown",
      action: r.action ?? "permission_changed", resource: r.resource ?? "unknown", service: r.service })),
    networkFlow: { totalEvents: items.length, networkFlows: links.length, activeNodes: nodes.length,
      sankeyData: { nodes: nodes.map(({ id, name, layer }) => ({ id, name, layer })), links } },
    topAttackers,
    threatDistribution: dist,
    stats: { totalEvents: items.length, totalAnomalies: anomalies.length, criticalThreats: dist[0].count,
      failedLogins: items.filter((r) => r.type === "login_failure").length,
      iamChanges: iam.length, attackSources: attackers.size,
      eventsPerHour: Math.round((items.length / hours) * 10) / 10 },
    securityEventsTimeline: timeline,
    attackPatternHeatmap: { days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], data, maxValue: Math.max(0, ...data.flat()) },
    lastUpdated: iso(end),
  };
}

/** The response equals the oracle, section by section, and passes the dashboard's checker. */
async function assertMatches(org, res, opts = {}) {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const want = await oracle(org, res.body, opts);
  for (const k of Object.keys(want)) assert.deepEqual(res.body[k], want[k], `section ${k}`);
  assert.deepEqual(Object.keys(res.body).sort(), Object.keys(want).sort());
  assert.deepEqual(validateMockData(res.body, { logLimit: opts.logLimit ?? 500, anomalyLimit: opts.anomalyLimit ?? 50, iamLimit: opts.iamLimit ?? 20,
    maxHours: opts.maxHours ?? 168 }), []);
  return res.body;
}

// ------------------------------------------------------------------------------------------
// Seed: "DashPro" gets the realistic mix below (counted by hand in the "known values" test).

before(async () => {
  app = await start();
  pro = await app.createKey({ org: "DashPro", plan: "pro" });
  free = await app.createKey({ org: "DashFree", plan: "free" });
  other = await app.createKey({ org: "DashOther", plan: "pro" });
  rank = await app.createKey({ org: "DashRank", plan: "pro" });
  flat = await app.createKey({ org: "DashFlat", plan: "pro" });
  T0 = Date.now();
  const at = (ms) => ns(T0 + ms);
  const line = (o) => JSON.stringify(o);
  let res = await push(pro, [
    {
      stream: { service: "auth-service", namespace: "prod", pod: "auth-7d9f" },
      values: [
        // A burst of 6 failed logins from one IP within 2 min: brute force from raw lines.
        ...Array.from({ length: 6 }, (_, i) => [at(-10 * MIN + i * 20_000),
          line({ level: "error", msg: "failed login", ip: "203.0.113.45", status: 401, ...(i === 5 ? { geo: "RU" } : {}) })]),
        [at(-2 * H), line({ msg: "login succeeded for admin", ip: "198.51.100.7", user: "admin" })],
        [at(-3 * H), line({ msg: "attached policy AdminAccess to role deploy", user: "ci", ip: "192.0.2.7" })],
        [at(-26 * H), line({ msg: "created role auditor", user: "ci", resource: "role/auditor" })],
        [at(-5 * H), "port scan detected from 192.0.2.99"],
        [at(-5 * H + MIN), line({ msg: "GET /admin", ip: "192.0.2.99", status: 403 })],
        [at(-1 * H), line({ msg: "failed login", ip: "127.0.0.1", status: 401 })],
        // Stamped in the future (Loki accepts up to 10 min): outside the window until then.
        [at(9 * MIN), line({ msg: "failed login", ip: "203.0.113.45", status: 401 })],
      ],
    },
    {
      stream: { service: "billing", namespace: "staging" },
      values: [
        [at(-4 * H), line({ msg: "invalid password for user bob", ip: "198.51.100.20", user: "bob", status: 401, device: "ipad", vpn: true })],
        [at(-30 * MIN), line({ level: "warn", msg: "cache warmed" })],
        [at(-7 * H), line({ msg: "deleted role old-admin", user: "ops", resource: "role/old-admin" })],
        [at(-4 * H + MIN), line({ msg: "GET /api", ip: "198.51.100.20", status: 429 })],
        [at(-8 * H), line({ level: "fatal", msg: "disk full" })],
        [at(-30 * H), line({ msg: "failed login", ip: "203.0.113.45", status: 401 })],
        [at(-100 * H), line({ msg: "nightly export done" })],
      ],
    },
  ]);
  assert.equal(res.status, 204);
  const ev = (event, extra = {}) => ({ event, ...extra });
  res = await app.collect(pro, {
    events: [
      // Six failed logins from one IP: brute force (events), high.
      ...Array.from({ length: 6 }, () => ev("auth.login_failed", { actor: "eve", user_ip: "203.0.113.50",
        metadata: { service: "auth-service", namespace: "prod" } })),
      ev("authz.role_changed", { actor: "admin", user_ip: "198.51.100.7", metadata: { target: "user:bob", new_role: "owner" } }),
      ev("security.ip_blocked", { actor: "firewall", user_ip: "198.51.100.1", metadata: { ip: "203.0.113.45" } }),
      ev("security.suspicious_activity", { actor: "mallory", user_ip: "203.0.113.45" }),
      ev("admin.user_created", { actor: "admin", metadata: { resource: "user:carol" } }),
      ev("data.export", { actor: "bob", metadata: { service: "billing", namespace: "staging" } }),
    ],
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  res = await app.collectFrom(pro, ev("auth.login_success", { actor: "vpn-user", user_ip: "198.51.100.30" }), "198.51.100.30", VPN_NY);
  assert.equal(res.status, 202);

  // Free: enriched events (geo, VPN) and a raw line with its own geo.
  await app.collectFrom(free, ev("auth.login_failed", { actor: "f1", user_ip: "198.51.100.40" }), "198.51.100.40", BERLIN);
  await app.collectFrom(free, ev("auth.login_success", { actor: "f2", user_ip: "198.51.100.41" }), "198.51.100.41", VPN_NY);
  res = await push(free, [{ stream: { service: "web" }, values: [[at(-H), line({ msg: "failed login", ip: "198.51.100.42", geo: "FR", vpn: true })]] }]);
  assert.equal(res.status, 204);

  // A neighbour whose data must never show up.
  await app.collect(other, ev("auth.login_failed", { actor: "x", user_ip: "203.0.113.45" }));
  await push(other, [{ stream: { service: "auth-service", namespace: "prod" }, values: [[at(-H), line({ msg: "failed login", ip: "203.0.113.45" })]] }]);

  await app.settle();
  // Detection runs in the consumer right after the events are stored.
  await app.eventually(async () => (await app.count("SELECT count(*) FROM alerts WHERE org_id = ?", orgIdFor("DashPro"))) >= 4);
  await app.settle({ quietMs: 500 });
});
after(() => app.dispose());

// ------------------------------------------------------------------------------------------

describe("GET /ui/mock-data", () => {
  test("every section matches the contract's rules over the stored rows", async () => {
    const res = await get(pro);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.headers.get("x-litesoc-plan"), "pro");
    assert.match(res.headers.get("x-ratelimit-limit"), /^\d+$/);
    await assertMatches("DashPro", res);
  });

  test("known values of the seed", async () => {
    const d = (await get(pro)).body;
    const now = Date.now();
    const end = Date.parse(d.timeRange.end);
    assert.ok(Math.abs(end - now) < 5000 && end % 1000 === 0, d.timeRange.end);
    assert.equal(d.timeRange.hours, 24);
    assert.equal(Date.parse(d.timeRange.start), Math.floor(end / H) * H - 24 * H, "start is on the hour");
    assert.equal(d.lastUpdated, d.timeRange.end);
    // 11 auth-service lines + 5 billing lines + 12 events in the window; the future-stamped,
    // 26 h, 30 h and 100 h old lines are outside.
    assert.deepEqual(d.stats, { totalEvents: 28, totalAnomalies: 5, criticalThreats: 2, failedLogins: 14, iamChanges: 4,
      attackSources: 5, eventsPerHour: 1.2 });
    assert.deepEqual(d.threatDistribution, [{ level: "critical", count: 2 }, { level: "high", count: 2 },
      { level: "medium", count: 0 }, { level: "low", count: 1 }]); // low: the VPN login's suspicious network
    assert.equal(d.securityEventsTimeline.length, 25);
    assert.equal(d.securityEventsTimeline.reduce((n, b) => n + b.total, 0), 28);
    const bucketOf = (ms) => d.securityEventsTimeline.find((b) => Date.parse(b.timestamp) === Math.floor(ms / H) * H);
    assert.ok(bucketOf(T0 - 8 * H).critical >= 1, "the fatal line counts as critical");
    // The 203.0.113.45 burst: 6 hostile lines in one weekday/hour cell (or two, across an hour).
    const cell = (ms) => { const t = new Date(ms); return d.attackPatternHeatmap.data[(t.getUTCDay() + 6) % 7][t.getUTCHours()]; };
    assert.ok(cell(T0 - 10 * MIN) >= 1 && cell(T0 - 8 * MIN + 20_000) >= 1);
    assert.equal(d.attackPatternHeatmap.data.flat().reduce((a, b) => a + b, 0), 18, "18 hostile items");

    assert.deepEqual(d.topAttackers.map((a) => [a.sourceIp, a.attacks, a.servicesTargeted, a.severity, a.status, a.country]), [
      ["203.0.113.45", 7, 2, "critical", "blocked", "RU"], // 6 lines + suspicious_activity; raised by it
      ["203.0.113.50", 6, 1, "high", "active", "Unknown"], // medium by count, raised by the brute force
      ["198.51.100.20", 2, 1, "low", "inactive", "Unknown"], // 401 login failure + 429, 4 h ago
      ["192.0.2.99", 2, 1, "low", "inactive", "Unknown"], // scan + 403, 5 h ago: older last attack
      ["198.51.100.1", 1, 1, "low", "blocked", "Unknown"], // the ip_blocked event's own user_ip
    ]);

    const types = d.anomalies.map((a) => [a.severity, a.type]);
    assert.deepEqual(types.slice(0, 2).map((t) => t[0]), ["critical", "critical"]);
    assert.deepEqual(new Set(types.map((t) => t[1])), new Set(["privilege_escalation", "suspicious_activity", "brute_force_attack", "suspicious_network"]));
    const lineBurst = d.anomalies.find((a) => a.sourceIp === "203.0.113.45" && a.type === "brute_force_attack");
    assert.equal(lineBurst.service, "auth-service");
    assert.equal(lineBurst.namespace, "prod");
    assert.equal(lineBurst.evidence.key, "ip");
    assert.ok(lineBurst.evidence.count >= 5 && Number.isInteger(lineBurst.confidence));
    const priv = d.anomalies.find((a) => a.type === "privilege_escalation");
    assert.deepEqual([priv.service, priv.namespace, priv.user], ["authz", "litesoc", "admin"]);

    const iam = d.iamChanges.map((c) => [c.action, c.changedBy, c.service]);
    // The two events share one created_at; the lines are 3 h and 7 h old.
    assert.deepEqual(new Set(iam.slice(0, 2).map(String)), new Set(["resource_created,admin,admin", "role_escalated,admin,authz"]));
    assert.deepEqual(iam.slice(2), [["policy_attached", "ci", "auth-service"], ["resource_deleted", "ops", "billing"]]);
    assert.equal(d.iamChanges.find((c) => c.action === "resource_deleted").resource, "role/old-admin");

    const nf = d.networkFlow;
    assert.equal(nf.totalEvents, 28);
    const name = (i) => nf.sankeyData.nodes[i].name;
    const link = (a, b) => nf.sankeyData.links.find((l) => name(l.source) === a && name(l.target) === b)?.value;
    assert.equal(link("203.0.113.45", "auth-service"), 6);
    assert.equal(link("203.0.113.45", "security"), 1);
    assert.equal(link("203.0.113.50", "auth-service"), 6);
    assert.equal(link("auth-service", "login_failure"), 13); // 6 + 1 loopback lines, 6 events
    assert.equal(nf.sankeyData.nodes.filter((n) => n.layer === "telemetry").map((n) => n.name).join(),
      "login_failure,login_success,iam_change,network_scan,network_event");

    const vpnLogin = d.logs.find((l) => l.user === "vpn-user");
    assert.deepEqual([vpnLogin.geo, vpnLogin.vpn, vpnLogin.type], ["US", true, "login_success"]);
    const raw = d.logs.find((l) => l.user === "bob" && l.type === "login_failure");
    assert.match(raw.id, /^\d+-\d+$/);
    assert.deepEqual([raw.device, raw.vpn, raw._metadata.status_code, raw._metadata.namespace], ["ipad", true, 401, "staging"]);
    assert.ok(!d.logs.some((l) => l.sourceIp === "203.0.113.45" && Date.parse(l.timestamp) > end), "nothing after end");
  });

  test("filters apply to every section", async () => {
    const cases = [
      ["service=auth-service", { service: "auth-service" }],
      ["namespace=staging", { namespace: "staging" }],
      ["service=auth-service&namespace=prod", { service: "auth-service", namespace: "prod" }],
      ["service=billing&namespace=prod", { service: "billing", namespace: "prod" }],
      ["service=nope", { service: "nope" }],
    ];
    for (const [q, f] of cases) {
      const d = await assertMatches("DashPro", await get(pro, `?${q}`), f);
      for (const l of d.logs) assert.ok((!f.service || l._metadata.service === f.service) && (!f.namespace || l._metadata.namespace === f.namespace), q);
      for (const a of d.anomalies) assert.ok((!f.service || a.service === f.service) && (!f.namespace || a.namespace === f.namespace), q);
      for (const c of d.iamChanges) assert.ok(!f.service || c.service === f.service, q);
      for (const n of d.networkFlow.sankeyData.nodes.filter((n) => n.layer === "device")) assert.ok(!f.service || n.name === f.service, q);
    }
    const auth = (await get(pro, "?service=auth-service")).body;
    assert.equal(auth.stats.totalEvents, 17, "11 lines + 6 events of auth-service");
    assert.equal(auth.stats.totalAnomalies, 2, "the two brute-force alerts");
    assert.deepEqual(auth.topAttackers.map((a) => [a.sourceIp, a.attacks, a.severity]), [
      ["203.0.113.50", 6, "high"], ["203.0.113.45", 6, "high"], ["192.0.2.99", 2, "low"]]);
    assert.equal(auth.topAttackers[1].status, "blocked", "a block is a fact about the IP, whatever the filter");
    const staging = (await get(pro, "?namespace=staging")).body;
    assert.deepEqual([staging.stats.totalEvents, staging.stats.iamChanges, staging.stats.totalAnomalies], [6, 1, 0]);
    const none = (await get(pro, "?service=nope")).body;
    assert.equal(none.stats.totalEvents, 0);
    assert.deepEqual([none.logs, none.topAttackers, none.networkFlow.sankeyData.nodes], [[], [], []]);
  });

  test("limits cut the sorted lists after counting", async () => {
    const full = (await get(pro)).body;
    const cut = await assertMatches("DashPro", await get(pro, "?log_limit=3&anomaly_limit=1&iam_limit=2"),
      { logLimit: 3, anomalyLimit: 1, iamLimit: 2 });
    assert.deepEqual(cut.logs, full.logs.slice(0, 3));
    assert.deepEqual(cut.anomalies, full.anomalies.slice(0, 1));
    assert.equal(cut.anomalies[0].severity, "critical");
    assert.deepEqual(cut.iamChanges, full.iamChanges.slice(0, 2));
    assert.deepEqual(cut.stats, full.stats);
    assert.deepEqual(cut.threatDistribution, full.threatDistribution);
    const zero = await assertMatches("DashPro", await get(pro, "?log_limit=0&anomaly_limit=0&iam_limit=0"),
      { logLimit: 0, anomalyLimit: 0, iamLimit: 0 });
    assert.deepEqual([zero.logs, zero.anomalies, zero.iamChanges], [[], [], []]);
    assert.equal(zero.stats.totalEvents, 28);
    const big = (await get(pro, "?log_limit=99999&anomaly_limit=999&iam_limit=999")).body;
    assert.equal(big.logs.length, 28, "clamped to 5000, which holds everything");
  });

  test("hours are clamped to 1–168 and to retention", async () => {
    for (const [q, hours] of [["?hours=500", 168], ["?hours=0", 1], ["?hours=-4", 1], ["?hours=1", 1], ["?hours=48", 48]]) {
      const d = await assertMatches("DashPro", await get(pro, q));
      assert.equal(d.timeRange.hours, hours, q);
      assert.equal(d.securityEventsTimeline.length, hours + 1, q);
    }
    const week = (await get(pro, "?hours=168")).body;
    assert.equal(week.stats.totalEvents, 31, "the 26 h, 30 h and 100 h old lines are back");
    const day2 = (await get(pro, "?hours=48")).body;
    assert.equal(day2.stats.totalEvents, 30);
    const f = (await get(free, "?hours=168")).body;
    const end = Date.parse(f.timeRange.end);
    assert.ok(Date.parse(f.timeRange.start) >= end - 7 * DAY, "never before the Free cutoff");
    assert.ok(f.timeRange.hours === 167 || (f.timeRange.hours === 168 && end % H === 0), `${f.timeRange.hours}`);
    assert.equal(f.securityEventsTimeline.length, f.timeRange.hours + 1);
  });

  test("a custom range: whole hours from its start to its end, exact at a mid-hour end, inside retention", async () => {
    const iso = (ms) => new Date(ms).toISOString();
    // The 30 h and 26 h old lines are inside; the end falls mid-hour, after the 26 h line.
    const q = `?start=${iso(T0 - 31 * H)}&end=${iso(T0 - 26 * H + 1000)}`;
    const d = await assertMatches("DashPro", await get(pro, q), { maxHours: 2160 });
    assert.equal(d.timeRange.start, new Date(Math.floor((T0 - 31 * H) / H) * H).toISOString().replace(".000", ""));
    assert.equal(d.timeRange.end, new Date(Math.floor((T0 - 26 * H + 1000) / 1000) * 1000).toISOString().replace(".000", ""));
    assert.equal(d.securityEventsTimeline.length, d.timeRange.hours + 1);
    assert.deepEqual([d.stats.totalEvents, d.stats.failedLogins, d.stats.iamChanges], [2, 1, 1]);
    assert.deepEqual(d.logs.map((l) => l.type), ["iam_change", "login_failure"]);
    // Up to now when there is no end; Pro's 30 days are the limit whatever the start.
    const month = await assertMatches("DashPro", await get(pro, "?start=2020-01-01&hours=2"), { maxHours: 2160 });
    assert.ok(month.timeRange.hours > 168 && month.timeRange.hours <= 30 * 24, `${month.timeRange.hours}`);
    assert.ok(Date.parse(month.timeRange.start) >= Date.parse(month.timeRange.end) - 30 * DAY);
    assert.equal(month.stats.totalEvents, 31, "everything the week holds, and the future line still outside");
    // Errors name the parameter: an end alone, an empty range, an end before Free's retention.
    for (const [key, query, field] of [[pro, "?end=2026-01-01", "end"], [pro, `?start=${iso(T0)}&end=${iso(T0 - H)}`, "end"],
      [pro, "?start=last-week", "start"], [free, `?start=${iso(T0 - 20 * DAY)}&end=${iso(T0 - 10 * DAY)}`, "end"]]) {
      const res = await get(key, query);
      assertError(res, 400, "VALIDATION_ERROR");
      assert.equal(res.body.error.details[0].field, field, query);
    }
  });

  test("a pivot on an address or a user refilters every section, with the other filters and a range", async () => {
    const cases = [
      ["source_ip=203.0.113.45", { ip: "203.0.113.45" }],
      ["ip=%3A%3Affff%3A203.0.113.45", { ip: "203.0.113.45" }], // the canonical form is matched
      ["source_ip=203.0.113.50&service=auth-service", { ip: "203.0.113.50", service: "auth-service" }],
      ["user=admin", { user: "admin" }],
      ["user=eve&source_ip=203.0.113.50", { user: "eve", ip: "203.0.113.50" }],
      ["user=bob&namespace=staging&anomaly_status=active", { user: "bob", namespace: "staging", statuses: ["open", "acknowledged"] }],
      ["source_ip=198.51.100.250", { ip: "198.51.100.250" }],
    ];
    for (const [q, f] of cases) {
      const d = await assertMatches("DashPro", await get(pro, `?${q}`), f);
      for (const l of d.logs) assert.ok((!f.ip || l.sourceIp === f.ip) && (!f.user || l.user === f.user), q);
      for (const a of d.anomalies) assert.ok((!f.ip || a.sourceIp === f.ip) && (!f.user || a.user === f.user), q);
    }
    const ip = (await get(pro, "?source_ip=203.0.113.45")).body;
    assert.equal(ip.stats.attackSources, 1);
    assert.deepEqual(ip.topAttackers.map((a) => [a.sourceIp, a.status]), [["203.0.113.45", "blocked"]]);
    assert.deepEqual(ip.networkFlow.sankeyData.nodes.filter((n) => n.layer === "source").map((n) => n.name), ["203.0.113.45"]);
    assert.ok(ip.anomalies.some((a) => a.type === "brute_force_attack"), "the alert naming the address");
    const week = await assertMatches("DashPro", await get(pro, "?source_ip=203.0.113.45&hours=168"), { ip: "203.0.113.45" });
    assert.equal(week.stats.totalEvents, ip.stats.totalEvents + 1, "the 30 h old line is back");
    const q = `?user=ci&start=${new Date(T0 - 31 * H).toISOString()}&end=${new Date(T0 - 20 * H).toISOString()}`;
    const ranged = await assertMatches("DashPro", await get(pro, q), { user: "ci", maxHours: 2160 });
    assert.deepEqual(ranged.iamChanges.map((c) => c.changedBy), ["ci"]);
    // Neighbours' items from the same address never show.
    const theirs = await assertMatches("DashOther", await get(other, "?source_ip=203.0.113.45"), { ip: "203.0.113.45" });
    assert.equal(theirs.stats.totalEvents, 2);
    const bad = await get(pro, "?source_ip=not-an-ip");
    assertError(bad, 400, "VALIDATION_ERROR");
    assert.equal(bad.body.error.details[0].field, "source_ip");
  });

  test("anomaly_status: the open threats alone, counted alike in every section", async () => {
    const all = (await get(pro)).body;
    const target = all.anomalies.find((a) => a.severity === "critical");
    assert.ok(target, "the seed has a critical anomaly");
    const patch = (status) => app.request(`/alerts/${target.id}`, { method: "PATCH", key: pro, body: { status } });
    assert.equal((await patch("resolved")).status, 200);
    try {
      const active = await assertMatches("DashPro", await get(pro, "?anomaly_status=active"), { statuses: ["open", "acknowledged"] });
      assert.equal(active.stats.totalAnomalies, all.stats.totalAnomalies - 1);
      assert.equal(active.stats.criticalThreats, all.stats.criticalThreats - 1);
      assert.ok(!active.anomalies.some((a) => a.id === target.id));
      const resolved = await assertMatches("DashPro", await get(pro, "?anomaly_status=resolved"), { statuses: ["resolved"] });
      assert.deepEqual(resolved.anomalies.map((a) => [a.id, a.status]), [[target.id, "resolved"]]);
      await assertMatches("DashPro", await get(pro, "?anomaly_status=all"));
      const bad = await get(pro, "?anomaly_status=closed");
      assertError(bad, 400, "VALIDATION_ERROR");
      assert.equal(bad.body.error.details[0].field, "anomaly_status");
    } finally {
      assert.equal((await patch("open")).status, 200);
    }
  });

  test("Free plan: geo and vpn of event items left out, attacker country Unknown", async () => {
    const res = await get(free);
    assert.equal(res.headers.get("x-litesoc-plan"), "free");
    const d = await assertMatches("DashFree", res, { redact: true });
    const events = d.logs.filter((l) => !/^\d+-\d+$/.test(l.id));
    assert.equal(events.length, 2);
    for (const l of events) assert.ok(!("geo" in l) && !("vpn" in l), JSON.stringify(l));
    const stored = await app.count("SELECT count(*) FROM items WHERE org_id = ? AND event_id IS NOT NULL AND geo IS NOT NULL", orgIdFor("DashFree"));
    assert.equal(stored, 2, "the stored rows keep their geo");
    const line = d.logs.find((l) => /^\d+-\d+$/.test(l.id));
    assert.deepEqual([line.geo, line.vpn], ["FR", true], "a raw line's own fields are not enrichment");
    assert.ok(d.topAttackers.length >= 2);
    for (const a of d.topAttackers) assert.equal(a.country, "Unknown");
  });

  test("errors: 400 naming the parameter, 401 without a key", async () => {
    for (const [q, field] of [["?hours=abc", "hours"], ["?log_limit=1.5", "log_limit"], ["?anomaly_limit=ten", "anomaly_limit"], ["?iam_limit=2x", "iam_limit"]]) {
      const res = await get(pro, q);
      assertError(res, 400, "VALIDATION_ERROR");
      assert.equal(res.body.error.details[0].field, field);
      assert.equal(res.headers.get("x-litesoc-plan"), "pro", "plan headers on errors too");
    }
    assertError(await app.request(PATH), 401, "UNAUTHORIZED");
    assertError(await get("lsoc_live_not_a_key_at_all_000000"), 401, "UNAUTHORIZED");
    assert.equal((await app.request(PATH, { method: "POST", key: pro })).status, 405);
  });

  test("tenants are isolated", async () => {
    const d = await assertMatches("DashOther", await get(other));
    assert.equal(d.stats.totalEvents, 2);
    assert.equal(d.topAttackers[0].attacks, 2);
  });
});

// ------------------------------------------------------------------------------------------
// Top-10 ranking on larger distributions: 80 source IPs over two services and two days, skewed
// (the daily cuts prove the top 10) and flat (they cannot: the hourly fallback decides).

/** The id after every stored item's: raw lines and events are numbered in one sequence, as the
 *  Worker does (crates/core/src/ingest/record.rs NEXT_ITEM_ID_BASE). */
const NEXT_ID = "(SELECT max(coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0)))";

async function seedRows(org, rows) {
  for (let i = 0; i < rows.length; i += 500) {
    await app.db.prepare(
      `INSERT INTO logs (id, org_id, ts, hour, type, level, service, namespace, source_ip, user, geo, status_code, message)
       SELECT ${NEXT_ID} + key + 1, ?1, json_extract(value, '$.ts'), json_extract(value, '$.ts') / 3600000 * 3600000, json_extract(value, '$.type'),
              json_extract(value, '$.level'), json_extract(value, '$.service'), 'prod', json_extract(value, '$.ip'), json_extract(value, '$.user'),
              json_extract(value, '$.geo'), json_extract(value, '$.status'), 'm' FROM json_each(?2)`)
      .bind(orgIdFor(org), JSON.stringify(rows.slice(i, i + 500))).run();
  }
  await rebuildRollups(app.db, orgIdFor(org));
}

function distribution(seed, weight) {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rows = [];
  const now = Date.now();
  for (let ip = 0; ip < 80; ip++) {
    for (let k = 0; k < weight(ip); k++) {
      const r = rnd();
      rows.push({
        ts: now - Math.floor(rnd() * 30 * H) - 1000, ip: `198.51.100.${ip}`, service: r < 0.6 ? "api" : "web",
        type: r < 0.3 ? "login_failure" : r < 0.4 ? "network_scan" : "network_event", level: r < 0.5 ? "info" : "warning",
        status: r > 0.8 ? 401 : 200, geo: rnd() < 0.5 ? "DE" : null, user: ip % 3 === 0 ? "svc" : null,
      });
    }
  }
  return rows;
}

describe("top-10 ranking", () => {
  before(async () => {
    await seedRows("DashRank", distribution(7, (ip) => Math.ceil(400 / (ip + 1))));
    await seedRows("DashFlat", distribution(11, () => 12));
  });

  for (const [org, key] of [["DashRank", () => rank], ["DashFlat", () => flat]]) {
    test(`${org}: sources and attackers are the exact top 10`, async () => {
      const OPTS = { "?service=web": { service: "web" }, "?user=svc": { user: "svc" }, "?user=svc&service=api&hours=1": { user: "svc", service: "api" } };
      for (const q of ["", "?hours=48", "?hours=1", "?hours=168", "?service=web", "?user=svc", "?user=svc&service=api&hours=1"]) {
        const opts = OPTS[q] ?? {};
        const d = await assertMatches(org, await get(key(), q), opts);
        assert.ok(d.networkFlow.sankeyData.nodes.filter((n) => n.layer === "source").length <= 11);
      }
    });
  }
});

// ------------------------------------------------------------------------------------------

describe("rollups", () => {
  const FOLDED = "hour < (SELECT hour FROM rollup_fold)";
  const checks = [
    ["log_hourly", "org_id, hour, service, namespace, type, n, critical, warnings, hostile",
      "SELECT org_id, hour, service, namespace, type, count(*), sum(level IN ('critical', 'error')), sum(level = 'warning'), sum(hostile) FROM items GROUP BY 1, 2, 3, 4, 5"],
    ["log_source_hourly", "org_id, hour, service, namespace, source, n",
      "SELECT org_id, hour, service, namespace, coalesce(source_ip, 'unknown'), count(*) FROM items GROUP BY 1, 2, 3, 4, 5"],
    // log_source_hours counts the hours before the fold mark (migrations/0030_rollups_folded.sql).
    ["log_source_hours", "org_id, hour, source, n",
      `SELECT org_id, hour, coalesce(source_ip, 'unknown'), count(*) FROM items WHERE ${FOLDED} GROUP BY 1, 2, 3`],
    ["log_source_daily", "org_id, day, service, namespace, source, n",
      "SELECT org_id, hour - hour % 86400000, service, namespace, coalesce(source_ip, 'unknown'), count(*) FROM items GROUP BY 1, 2, 3, 4, 5"],
    ["log_attack_hourly", "org_id, source_ip, hour, service, namespace, n, last_ts",
      "SELECT org_id, source_ip, hour, service, namespace, count(*), max(ts) FROM items WHERE hostile = 1 GROUP BY 1, 2, 3, 4, 5"],
    ["log_attack_daily", "org_id, day, service, namespace, source_ip, n",
      "SELECT org_id, hour - hour % 86400000, service, namespace, source_ip, count(*) FROM items WHERE hostile = 1 GROUP BY 1, 2, 3, 4, 5"],
    ["log_attack_hours", "org_id, source_ip, hour, n, last_ts",
      "SELECT org_id, source_ip, hour, count(*), max(ts) FROM items WHERE hostile = 1 GROUP BY 1, 2, 3"],
    ["log_attacker_ips", "org_id, source_ip, last_ts",
      "SELECT org_id, source_ip, max(ts) FROM items WHERE hostile = 1 GROUP BY 1, 2"],
    ["log_attackers", "org_id, source_ip, service, namespace, last_ts",
      "SELECT org_id, source_ip, service, namespace, max(ts) FROM items WHERE hostile = 1 GROUP BY 1, 2, 3, 4"],
  ];
  async function assertRollupsExact() {
    // As the dashboard reads them: its read first catches the rollups of its organisation's
    // database up with every stored item there (DashFree's is DB, DashPro's DB_1: the harness
    // alternates them).
    for (const key of [free, pro]) assert.equal((await get(key)).status, 200);
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    for (const name of app.databases) {
      const db = await app.shard(name);
      // The writers that stored them (the consumer, the Loki push) folded the closed hours.
      assert.ok((await db.prepare("SELECT hour FROM rollup_fold").first()).hour >= hour - 3_600_000, `${name}: the closed hours are folded`);
      for (const [table, cols, truth] of checks) {
        const got = (await db.prepare(`SELECT ${cols} FROM ${table}`).raw()).map(String).sort();
        const want = (await db.prepare(truth).raw()).map(String).sort();
        assert.deepEqual(got, want, `${name}: ${table}`);
      }
    }
  }

  test("equal a recount of the stored rows, and stay exact through the retention purge", async () => {
    await assertRollupsExact();
    // Old rows past the Free retention (7 days), inserted directly, then purged by the cron.
    const old = Date.now() - 9 * DAY;
    await seedRows("DashFree", Array.from({ length: 40 }, (_, i) => ({
      ts: old + i * MIN, ip: `203.0.113.${i % 3}`, service: "web", type: i % 2 ? "login_failure" : "network_event",
      level: "info", status: 401, geo: "FR" })));
    await assertRollupsExact();
    const before = await app.count("SELECT count(*) FROM log_hourly WHERE org_id = ?", orgIdFor("DashFree"));
    const outcome = await app.scheduled(Date.now());
    assert.equal(outcome.outcome, "ok");
    assert.equal(await app.count("SELECT count(*) FROM items WHERE org_id = ? AND ts < ?", orgIdFor("DashFree"), Date.now() - 7 * DAY), 0);
    assert.ok(await app.count("SELECT count(*) FROM log_hourly WHERE org_id = ?", orgIdFor("DashFree")) < before);
    await assertRollupsExact();
    await assertMatches("DashFree", await get(free, "?hours=168"), { redact: true });
  });
});

// ------------------------------------------------------------------------------------------

describe("DASHBOARD_PUBLIC_ORG", () => {
  let pub, pubKey;
  before(async () => {
    pub = await start({ bindings: { DASHBOARD_PUBLIC_ORG: orgIdFor("Showcase") } });
    pubKey = await pub.createKey({ org: "Showcase", plan: "pro" });
    await pub.request("/loki/api/v1/push", { method: "POST", key: pubKey, headers: { "Content-Type": "application/json" },
      body: { streams: [{ stream: { service: "web" }, values: [[ns(Date.now() - MIN), "failed login from 203.0.113.9"]] }] } });
  });
  after(() => pub.dispose());

  test("serves the organisation's dashboard without a key, and nothing else", async () => {
    const open = await pub.request(PATH);
    assert.equal(open.status, 200, JSON.stringify(open.body));
    assert.equal(open.body.stats.totalEvents, 1);
    assert.equal(open.headers.get("x-litesoc-plan"), "pro");
    assert.deepEqual(validateMockData(open.body), []);
    assertError(await pub.request("/events"), 401, "UNAUTHORIZED");
    assertError(await pub.request("/health"), 401, "UNAUTHORIZED");
    assertError(await pub.request(PATH, { key: "lsoc_live_wrong_key_0000000000000" }), 401, "UNAUTHORIZED");
    const keyed = await pub.request(PATH, { key: pubKey });
    assert.deepEqual(keyed.body.stats, open.body.stats);
  });
});
