// Generates tests/browser/fixture.json: a deterministic GET /ui/mock-data response that follows
// docs/dashboard.md §3 exactly (aggregates computed from the items by the contract's rules).
// Hostile strings are planted in user, description, title, resource, service and country fields,
// and in evidence (an account, a network organisation, an event id).
//   node tests/browser/make-fixture.mjs
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const XSS = "<img src=x onerror=alert(1)>";
export const XSS2 = "\"><svg onload=alert(2)>";

let seed = 0x5eed;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const weighted = (pairs) => {
  const t = pairs.reduce((s, [, w]) => s + w, 0);
  let r = rnd() * t;
  for (const [v, w] of pairs) if ((r -= w) < 0) return v;
  return pairs[0][0];
};
const uuid = () => "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
  const r = Math.floor(rnd() * 16);
  return (c === "x" ? r : (r & 3) | 8).toString(16);
});
const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

const HOURS = 24;
const END = Date.parse("2026-01-30T12:00:00Z"); // a Friday
const START = END - HOURS * 3600_000;

const services = [
  { service: "auth-service", namespace: "prod", host: "auth-7d9f", w: 30 },
  { service: "api-gateway", namespace: "prod", host: "gw-5c2a", w: 25 },
  { service: "billing", namespace: "prod", host: "billing-0", w: 8 },
  { service: "sshd", namespace: "infra", host: "bastion-1", w: 12 },
  { service: "auth", namespace: "litesoc", host: undefined, w: 14 },
  { service: "web", namespace: "staging", host: "web-1", w: 6 },
];
const attackers = [
  { ip: "203.0.113.45", geo: "RU", weight: 9 },
  { ip: "198.51.100.9", geo: "CN", weight: 6 },
  { ip: "192.0.2.77", geo: "BR", weight: 4 },
  { ip: "45.155.205.233", geo: "NL", weight: 3 },
  { ip: "185.220.101.4", geo: "DE", weight: 2 },
  { ip: "2001:db8::dead:beef", geo: "US", weight: 1 },
];
const normal = [
  { ip: "10.0.4.12", geo: undefined }, { ip: "81.2.69.142", geo: "GB" }, { ip: "93.184.216.34", geo: "US" },
  { ip: "151.101.1.69", geo: "US" }, { ip: "212.58.244.22", geo: "GB" }, { ip: "8.8.4.4", geo: "US" },
  { ip: "77.88.55.60", geo: "FR" }, { ip: "104.16.85.20", geo: "CA" }, { ip: "unknown", geo: undefined },
];
const users = ["alice@example.com", "bob@example.com", "carol", "admin", "svc-deploy", "dave@example.com", "root"];
const TYPES = ["login_failure", "login_success", "iam_change", "network_scan", "network_event"];

const logs = [];
const resources = new Map(); // log id -> IAM resource (not a Log key; feeds iamChanges)
let rowId = 100;

function makeLog(ts, type, src, svc, extra = {}) {
  const raw = svc.namespace !== "litesoc";
  const id = raw ? `${rowId++}-${Math.floor(ts / 1000)}` : uuid();
  const sevBy = {
    login_failure: pick(["warning", "warning", "error"]),
    login_success: "info",
    iam_change: pick(["warning", "info", "critical"]),
    network_scan: pick(["warning", "error"]),
    network_event: pick(["info", "info", "info", "debug", "error"]),
  };
  const log = { id, type, sourceIp: src.ip, timestamp: iso(ts) };
  const user = extra.user ?? (type === "network_scan" ? undefined : pick(users));
  if (user) log.user = user;
  if (src.geo) log.geo = src.geo;
  if (svc.host) log.hostname = svc.host;
  if (type === "network_scan") log.targetIp = pick(["10.0.0.5", "10.0.0.8", "10.0.1.20"]);
  if (type === "iam_change") log.action = extra.action ?? pick(["policy_attached", "role_escalated", "resource_created", "resource_deleted", "permission_changed"]);
  if (src.vpn) log.vpn = true;
  if (type === "login_success" && rnd() < 0.3) log.device = pick(["MacBook-Pro", "iPhone 15", "Windows 11 / Chrome"]);
  const md = { severity: extra.severity ?? sevBy[type], service: svc.service, namespace: svc.namespace };
  const status = extra.status ?? (raw ? { login_failure: 401, login_success: 200, network_scan: undefined, iam_change: 200, network_event: pick([200, 200, 204, 404, 500, 403]) }[type] : undefined);
  if (status !== undefined) md.status_code = status;
  log._metadata = md;
  logs.push(log);
  if (type === "iam_change") resources.set(id, extra.resource ?? pick(["roles/admin", "policy/s3-read-all", "user:svc-ci", "api_key:lsoc_live_…3f2a", "group/finance"]));
  return log;
}

// Background traffic, denser during working hours.
for (let i = 0; i < 230; i++) {
  let ts = START + rnd() * (END - START);
  const hr = new Date(ts).getUTCHours();
  if ((hr < 7 || hr > 19) && rnd() < 0.5) ts = START + rnd() * (END - START);
  const svc = weighted(services.map((s) => [s, s.w]));
  const type = weighted([["login_success", 34], ["network_event", 44], ["iam_change", 5], ["login_failure", 10], ["network_scan", 2]]);
  const src = type === "network_scan" || (type === "login_failure" && rnd() < 0.7)
    ? weighted(attackers.map((a) => [a, a.weight]))
    : pick(normal);
  makeLog(ts, type, src, svc);
}
// Bursts: a brute force run at night and a port scan in the morning.
const auth = services[0], sshd = services[3], gw = services[1];
const nightBurst = [];
for (let i = 0; i < 34; i++) nightBurst.push(makeLog(Date.parse("2026-01-30T02:10:00Z") + i * 17_000, "login_failure", attackers[0], pick([auth, sshd]), { user: pick(["admin", "root", "oracle"]) }));
for (let i = 0; i < 16; i++) makeLog(Date.parse("2026-01-30T07:40:00Z") + i * 41_000, "network_scan", attackers[1], pick([sshd, gw]));
// A burst from one IP, then a successful login from it: brute force and account compromise.
const bobBurst = [];
for (let i = 0; i < 6; i++) bobBurst.push(makeLog(END - 25 * 60_000 + i * 40_000, "login_failure", attackers[2], auth, { user: "bob@example.com" }));
bobBurst.push(makeLog(END - 21 * 60_000, "login_failure", attackers[2], auth, { user: XSS }));
const bobSuccess = makeLog(END - 20 * 60_000, "login_success", attackers[2], auth, { user: "bob@example.com" });
// Hostile strings in user, resource, service and geo, plus an off-hours IAM change.
makeLog(END - 7 * 60_000, "login_failure", { ip: "203.0.113.45", geo: "RU" }, auth, { user: XSS });
makeLog(Date.parse("2026-01-29T22:14:09Z"), "iam_change", normal[1], services[4], { user: XSS, action: "role_escalated", resource: XSS2, severity: "critical" });
makeLog(Date.parse("2026-01-30T09:31:40Z"), "iam_change", normal[2], auth, { user: "alice@example.com", action: "policy_attached", resource: "policy/AdministratorAccess" });
for (let i = 0; i < 3; i++) {
  makeLog(END - (3 + i * 4) * 60_000, "network_event", { ip: "192.0.2.10", geo: XSS2 }, { service: XSS, namespace: "staging", host: "x" }, { user: "mallory", status: 403 });
}
makeLog(END - 11 * 60_000, "network_event", { ip: "203.0.113.45", geo: "RU", vpn: true }, gw, { status: 403, user: "admin" });

logs.sort((a, b) => b.timestamp.localeCompare(a.timestamp) || a.id.localeCompare(b.id));

// ---------- evidence, shaped as detection writes it (docs/api.md §10.10) ----------
const isoMs = (ms) => new Date(ms).toISOString();
const at = (l) => Date.parse(l.timestamp);
/** Keys in byte order, as serde_json stores them. */
const stored = (v) => (Array.isArray(v) ? v.map(stored)
  : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, stored(v[k])])) : v);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Brute force by IP, for the burst in the window ending at the last of `lines`. */
function burstEvidence(lines, threshold = 5, windowMinutes = 5) {
  const trigger = lines[lines.length - 1];
  const burst = lines.filter((l) => at(trigger) - at(l) <= windowMinutes * 60_000);
  const tally = new Map();
  for (const l of burst) if (l.user?.trim()) tally.set(l.user, (tally.get(l.user) ?? 0) + 1);
  const accounts = [...tally].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 20)
    .map(([actor_id, count]) => ({ actor_id, count }));
  return {
    count: burst.length, threshold, window_minutes: windowMinutes, key: "ip", accounts, accounts_total: tally.size,
    source_ips: [{ ip: trigger.sourceIp, count: burst.length }], source_ips_total: 1,
    first_failure_at: isoMs(at(burst[0])), last_failure_at: isoMs(at(trigger)), event_ids: burst.slice(-50).map((l) => l.id),
  };
}
const burstText = (ev) => `${plural(ev.count, "failed login")} in ${ev.window_minutes} min against ${plural(ev.accounts_total, "account")}`;

/** Account compromise: the burst before `success`, with the success. */
function compromiseEvidence(failures, success) {
  const { count, ...ev } = burstEvidence([...failures, success]);
  return {
    ...ev, failures: count - 1, last_failure_at: isoMs(at(failures[failures.length - 1])),
    success_event_id: success.id, success_at: isoMs(at(success)), success_ip: success.sourceIp,
  };
}

/** A login's place and network, as a travel hop's end. */
const endpoint = (minsAgo, ip, [lat, lon], country, country_name, city, timezone, asn, asn_org, networks = []) => ({
  event_id: uuid(), at: isoMs(END - minsAgo * 60_000), country, country_name, city, timezone, lat, lon, ip, asn, asn_org, networks,
});
const round1 = (x) => Math.round(x * 10) / 10;
const rad = (d) => (d * Math.PI) / 180;
function hop(from, to) {
  const a = Math.sin(rad(to.lat - from.lat) / 2) ** 2 + Math.cos(rad(from.lat)) * Math.cos(rad(to.lat)) * Math.sin(rad(to.lon - from.lon) / 2) ** 2;
  const km = 2 * 6371 * Math.asin(Math.sqrt(a));
  const gap = Date.parse(to.at) - Date.parse(from.at);
  const speed = km / (Math.max(gap, 1000) / 3600_000);
  const networks = [...new Set([...from.networks, ...to.networks])].sort();
  const place = (e) => [e.city, e.country].filter(Boolean).join(", ");
  const summary = `${place(from)} to ${place(to)}: ${km.toFixed(0)} km in ${(gap / 60_000).toFixed(1)} min (${speed.toFixed(0)} km/h)` +
    (networks.length ? `; via ${networks.join(", ")}` : "");
  return {
    from, to, distance_km: round1(km), speed_kmh: round1(speed), window_minutes: round1(gap / 60_000),
    downgraded: networks.length > 0, networks, summary,
  };
}
/** Impossible travel: the latest hop at the top, every hop in `hops`. */
function travelEvidence(hops) {
  const { from, to, distance_km, speed_kmh, window_minutes, downgraded, networks } = hops[hops.length - 1];
  const event_ids = [...new Set(hops.flatMap((h) => [h.from.event_id, h.to.event_id]))];
  return { distance_km, speed_kmh, window_minutes, from, to, downgraded, networks, event_ids, hops };
}

const nightEvidence = burstEvidence(nightBurst);
const bobEvidence = burstEvidence(bobBurst);
const carolLondon = endpoint(278, "81.2.69.142", [51.5072, -0.1276], "GB", "United Kingdom", "London", "Europe/London", 2856, "British Telecommunications PLC");
const carolSingapore = endpoint(240, "8.8.4.4", [1.3521, 103.8198], "SG", "Singapore", "Singapore", "Asia/Singapore", 15169, "Google LLC");
// The hostile string is the kind of text a network database could carry.
const carolFrankfurt = endpoint(226, "203.0.113.200", [50.1109, 8.6821], "DE", "Germany", "Frankfurt am Main", "Europe/Berlin", 64500, XSS, ["datacenter"]);
const carolTravel = travelEvidence([hop(carolLondon, carolSingapore), hop(carolSingapore, carolFrankfurt)]);
const aliceTravel = travelEvidence([hop(
  endpoint(460, "77.88.55.60", [48.8566, 2.3522], "FR", "France", "Paris", "Europe/Paris", 9009, "M247 Europe SRL", ["vpn"]),
  endpoint(410, "93.184.216.34", [40.7128, -74.006], "US", "United States", "New York", "America/New_York", 15133, "Edgecast Inc."))]);

// ---------- anomalies ----------
const A = (minsAgo, severity, type, title, description, user, sourceIp, confidence, status, svc, evidence) => ({
  id: uuid(), timestamp: iso(END - minsAgo * 60_000), severity, type, title, description, user, sourceIp,
  confidence, status, service: svc.service, namespace: svc.namespace, evidence: stored(evidence),
});
const anomalies = [
  A(589, "high", "brute_force_attack", "Brute force from 203.0.113.45", burstText(nightEvidence), "admin", "203.0.113.45", 99, "open", auth, nightEvidence),
  A(22, "high", "brute_force_attack", "Brute force from 192.0.2.77", burstText(bobEvidence), "bob@example.com", "192.0.2.77", 80, "open", auth, bobEvidence),
  A(20, "critical", "account_compromise", "Account compromise suspected: bob@example.com", "Successful login after 7 failed logins in 5 min from 192.0.2.77",
    "bob@example.com", "192.0.2.77", 90, "open", auth, compromiseEvidence(bobBurst, bobSuccess)),
  A(52, "critical", "privilege_escalation", "Privilege escalation by svc-deploy", "authz.role_changed: svc-deploy → roles/admin", "svc-deploy", "81.2.69.142", 100, "open", services[4], { event_name: "admin.privilege_escalation", event_id: uuid() }),
  A(5, "critical", "data_exfiltration", XSS, `Sensitive export by ${XSS}`, XSS, "192.0.2.10", 100, "open", services[5], { event_name: "data.sensitive_access", event_id: XSS2 }),
  A(180, "critical", "suspicious_activity", "Access denied burst on billing", "authz.access_denied on /admin/export", "dave@example.com", "45.155.205.233", 100, "resolved", services[2], { event_name: "authz.access_denied", event_id: uuid() }),
  A(240, "high", "impossible_travel", "Impossible travel for carol", carolTravel.hops.map((h) => h.summary).join("; "), "carol", "8.8.4.4", 90, "open", auth, carolTravel),
  A(410, "low", "impossible_travel", "Impossible travel for alice@example.com", aliceTravel.hops[0].summary, "alice@example.com", "93.184.216.34", 40, "safe", auth, aliceTravel),
  A(95, "medium", "geo_anomaly", "First login from Brazil for bob@example.com", "Country BR not seen in 28 days", "bob@example.com", "192.0.2.77", 70, "open", auth, { country: "BR", known_countries: ["GB", "US"], history_days: 28 }),
  A(300, "medium", "suspicious_activity", "Login from Tor exit 185.220.101.4", "auth.login_success from a Tor exit node", "carol", "185.220.101.4", 80, "open", auth, { event_name: "auth.login_success", event_id: uuid() }),
  A(33, "medium", "rate_limit_exceeded", "Rate limit abuse by 203.0.113.45", "4 rate-limit violations in 10 min", null, "203.0.113.45", 80, "open", gw, {
    count: 4, window_minutes: 10, first_at: isoMs(END - 41 * 60_000), last_at: isoMs(END - 33 * 60_000), event_ids: [uuid(), uuid(), XSS2, uuid()],
  }),
  A(70, "low", "suspicious_network", "Login from a datacenter network by svc-deploy", "Successful login from 52.95.110.1 (datacenter, Amazon.com, Inc.)", "svc-deploy", "52.95.110.1", 60, "open", services[4], {
    event_name: "auth.login_success", event_id: uuid(), networks: ["datacenter"], ip: "52.95.110.1", asn: 16509, asn_org: "Amazon.com, Inc.", country: "IE", country_name: "Ireland",
  }),
  A(660, "low", "new_device", "New device for dave@example.com", "Windows 11 / Chrome not seen in 28 days", "dave@example.com", "104.16.85.20", 60, "open", auth, { device: "Windows 11 / Chrome", history_days: 28 }),
  A(800, "low", "new_device", "New device for alice@example.com", "iPhone 15 not seen in 28 days", "alice@example.com", "93.184.216.34", 60, "resolved", auth, { device: "iPhone 15", history_days: 28 }),
  A(1000, "medium", "geo_anomaly", "First login from Canada for svc-deploy", "Country CA not seen in 28 days", "svc-deploy", null, 70, "open", services[4], { country: "CA", known_countries: ["US"], history_days: 28 }),
];
// tests/browser/dashboard.test.mjs resolves one open anomaly and then marks another one safe
// (a refused PATCH): the fixture must hold at least two, or generating it fails.
export const OPEN_ANOMALIES_NEEDED = 2;
if (anomalies.filter((a) => a.status === "open").length < OPEN_ANOMALIES_NEEDED) {
  throw new Error(`the fixture needs at least ${OPEN_ANOMALIES_NEEDED} open anomalies (dashboard.test.mjs acts on them)`);
}
const rank = { critical: 0, high: 1, medium: 2, low: 3 };
anomalies.sort((a, b) => rank[a.severity] - rank[b.severity] || b.timestamp.localeCompare(a.timestamp));

// ---------- aggregates, by the contract ----------
const isRoutable = (ip) => ip && ip !== "unknown" && !/^(127\.|0\.0\.0\.0$|::1?$)/.test(ip);
const hostile = (l) => isRoutable(l.sourceIp) && (
  l.type === "login_failure" || l.type === "network_scan" || [401, 403, 429].includes(l._metadata.status_code));

const iamChanges = logs.filter((l) => l.type === "iam_change").slice(0, 20).map((l) => ({
  timestamp: l.timestamp, changedBy: l.user ?? "unknown", action: l.action, resource: resources.get(l.id), service: l._metadata.service,
}));

// sankey
const bySrc = new Map();
for (const l of logs) bySrc.set(l.sourceIp, (bySrc.get(l.sourceIp) ?? 0) + 1);
const topSrc = [...bySrc.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10).map(([ip]) => ip);
const srcKey = (ip) => (topSrc.includes(ip) ? ip : "other");
const l1 = new Map(), l2 = new Map();
for (const l of logs) {
  const a = srcKey(l.sourceIp), s = l._metadata.service;
  l1.set(`${a}\u0000${s}`, (l1.get(`${a}\u0000${s}`) ?? 0) + 1);
  l2.set(`${s}\u0000${l.type}`, (l2.get(`${s}\u0000${l.type}`) ?? 0) + 1);
}
const count = (m, idx) => { const c = new Map(); for (const [k, v] of m) { const p = k.split("\u0000")[idx]; c.set(p, (c.get(p) ?? 0) + v); } return c; };
const srcNodes = [...count(l1, 0).entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([n]) => n);
const devNodes = [...count(l1, 1).entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([n]) => n);
const typNodes = TYPES.filter((t) => count(l2, 1).has(t));
const nodes = [
  ...srcNodes.map((name) => ({ name, layer: "source" })),
  ...devNodes.map((name) => ({ name, layer: "device" })),
  ...typNodes.map((name) => ({ name, layer: "telemetry" })),
].map((n, id) => ({ id, ...n }));
const idOf = (layer, name) => nodes.find((n) => n.layer === layer && n.name === name).id;
const links = [
  ...[...l1].map(([k, value]) => { const [a, s] = k.split("\u0000"); return { source: idOf("source", a), target: idOf("device", s), value }; }),
  ...[...l2].map(([k, value]) => { const [s, t] = k.split("\u0000"); return { source: idOf("device", s), target: idOf("telemetry", t), value }; }),
].sort((a, b) => a.source - b.source || a.target - b.target);

// attackers
const hostileItems = logs.filter(hostile);
const att = new Map();
for (const l of hostileItems) {
  const a = att.get(l.sourceIp) ?? { sourceIp: l.sourceIp, attacks: 0, services: new Set(), last: "", geo: undefined, geoTs: "" };
  a.attacks++;
  a.services.add(l._metadata.service);
  if (l.timestamp > a.last) a.last = l.timestamp;
  if (l.geo && l.timestamp >= a.geoTs) { a.geo = l.geo; a.geoTs = l.timestamp; }
  att.set(l.sourceIp, a);
}
const sevOf = (n) => (n > 50 ? "critical" : n > 20 ? "high" : n >= 5 ? "medium" : "low");
const topAttackers = [...att.values()]
  .sort((a, b) => b.attacks - a.attacks || b.last.localeCompare(a.last) || a.sourceIp.localeCompare(b.sourceIp))
  .slice(0, 10)
  .map((a) => {
    let severity = sevOf(a.attacks);
    for (const an of anomalies) if (an.sourceIp === a.sourceIp && rank[an.severity] < rank[severity]) severity = an.severity;
    const blocked = a.sourceIp === "45.155.205.233"; // a security.ip_blocked event named it
    const status = blocked ? "blocked" : END - Date.parse(a.last) <= 3600_000 ? "active" : "inactive";
    return { sourceIp: a.sourceIp, country: a.geo ?? "Unknown", attacks: a.attacks, servicesTargeted: a.services.size, severity, status };
  });

const threatDistribution = ["critical", "high", "medium", "low"].map((level) => ({ level, count: anomalies.filter((a) => a.severity === level).length }));

const stats = {
  totalEvents: logs.length,
  totalAnomalies: anomalies.length,
  criticalThreats: anomalies.filter((a) => a.severity === "critical").length,
  failedLogins: logs.filter((l) => l.type === "login_failure").length,
  iamChanges: logs.filter((l) => l.type === "iam_change").length,
  attackSources: att.size,
  eventsPerHour: Math.round((logs.length / HOURS) * 10) / 10,
};

const floorHour = (ms) => Math.floor(ms / 3600_000) * 3600_000;
const securityEventsTimeline = [];
for (let t = floorHour(START); t <= floorHour(END); t += 3600_000) {
  const inB = logs.filter((l) => floorHour(Date.parse(l.timestamp)) === t);
  securityEventsTimeline.push({
    timestamp: iso(t), total: inB.length,
    critical: inB.filter((l) => ["critical", "error"].includes(l._metadata.severity)).length,
    warnings: inB.filter((l) => l._metadata.severity === "warning").length,
    failedLogins: inB.filter((l) => l.type === "login_failure").length,
    iamChanges: inB.filter((l) => l.type === "iam_change").length,
  });
}

const hm = Array.from({ length: 7 }, () => Array(24).fill(0));
for (const l of hostileItems) {
  const d = new Date(l.timestamp);
  hm[(d.getUTCDay() + 6) % 7][d.getUTCHours()]++;
}

export const fixture = {
  timeRange: { start: iso(START), end: iso(END), hours: HOURS },
  logs,
  anomalies,
  iamChanges,
  networkFlow: { totalEvents: logs.length, networkFlows: links.length, activeNodes: nodes.length, sankeyData: { nodes, links } },
  topAttackers,
  threatDistribution,
  stats,
  securityEventsTimeline,
  attackPatternHeatmap: { days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], data: hm, maxValue: Math.max(...hm.flat()) },
  lastUpdated: iso(END + 2000),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL("./fixture.json", import.meta.url));
  writeFileSync(out, `${JSON.stringify(fixture, null, 1)}\n`);
  console.log(`wrote ${out}: ${logs.length} logs, ${anomalies.length} anomalies, ${iamChanges.length} IAM, ${topAttackers.length} attackers, ${nodes.length} nodes`);
}
