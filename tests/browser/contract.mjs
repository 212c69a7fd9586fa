// Checks a GET /ui/mock-data body against docs/dashboard.md §3. Returns a list of
// problems (empty when the body conforms). Used on the fixture, and on a live Worker when
// BASE_URL is set (fixture.test.mjs).

const TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const LEVELS = ["debug", "info", "warning", "error", "critical"];
const SEVERITIES = ["critical", "high", "medium", "low"];
const TYPES = ["login_failure", "login_success", "iam_change", "network_scan", "network_event"];
const IAM_ACTIONS = ["policy_attached", "role_escalated", "resource_created", "resource_deleted", "permission_changed"];
const ALERT_TYPES = ["brute_force_attack", "impossible_travel", "geo_anomaly", "new_device", "privilege_escalation",
  "data_exfiltration", "suspicious_activity", "rate_limit_exceeded", "account_compromise", "suspicious_network"];
const isInt = (v) => Number.isInteger(v);
const keys = (o) => Object.keys(o ?? {}).sort();
const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

export function validateMockData(d, { logLimit = 500, anomalyLimit = 50, iamLimit = 20, maxHours = 168 } = {}) {
  const bad = [];
  const check = (cond, msg) => { if (!cond) bad.push(msg); };
  const ts = (v, where) => check(typeof v === "string" && TS.test(v), `${where}: timestamp ${JSON.stringify(v)} is not YYYY-MM-DDTHH:MM:SSZ`);
  const newestFirst = (arr, where) => {
    for (let i = 1; i < arr.length; i++) check(arr[i - 1].timestamp >= arr[i].timestamp, `${where}: not newest first at ${i}`);
  };

  check(same(keys(d), ["timeRange", "logs", "anomalies", "iamChanges", "networkFlow", "topAttackers", "threatDistribution",
    "stats", "securityEventsTimeline", "attackPatternHeatmap", "lastUpdated"]), `top-level keys: ${keys(d)}`);
  if (bad.length) return bad;

  const { timeRange: tr } = d;
  check(same(keys(tr), ["start", "end", "hours"]), "timeRange keys");
  ts(tr.start, "timeRange.start"); ts(tr.end, "timeRange.end"); ts(d.lastUpdated, "lastUpdated");
  // `hours` is 1–168; a custom range (start/end, docs/dashboard.md §1) may be longer.
  check(isInt(tr.hours) && tr.hours >= 1 && tr.hours <= maxHours, `timeRange.hours in 1..${maxHours}`);

  // 3.1 logs
  const LOG_KEYS = ["id", "type", "sourceIp", "timestamp", "user", "geo", "hostname", "targetIp", "action", "vpn", "device", "_metadata"];
  check(d.logs.length <= logLimit, `logs: more than ${logLimit}`);
  d.logs.forEach((l, i) => {
    const w = `logs[${i}]`;
    for (const k of Object.keys(l)) check(LOG_KEYS.includes(k), `${w}: unexpected key ${k}`);
    for (const k of Object.keys(l)) check(l[k] !== null, `${w}: ${k} is null (optional keys are left out)`);
    check(typeof l.id === "string" && l.id, `${w}: id`);
    check(TYPES.includes(l.type), `${w}: type ${l.type}`);
    check(typeof l.sourceIp === "string" && l.sourceIp, `${w}: sourceIp`);
    ts(l.timestamp, w);
    check(l.action === undefined || (l.type === "iam_change" && IAM_ACTIONS.includes(l.action)), `${w}: action only on iam_change, from §5`);
    check(l.vpn === undefined || typeof l.vpn === "boolean", `${w}: vpn boolean`);
    const m = l._metadata ?? {};
    for (const k of Object.keys(m)) check(["severity", "service", "namespace", "status_code"].includes(k), `${w}: _metadata.${k}`);
    check(LEVELS.includes(m.severity), `${w}: _metadata.severity ${m.severity}`);
    check(typeof m.service === "string" && m.service, `${w}: _metadata.service`);
    check(typeof m.namespace === "string" && m.namespace, `${w}: _metadata.namespace`);
    check(m.status_code === undefined || isInt(m.status_code), `${w}: status_code integer`);
  });
  newestFirst(d.logs, "logs");

  // 3.2 anomalies
  check(d.anomalies.length <= anomalyLimit, `anomalies: more than ${anomalyLimit}`);
  d.anomalies.forEach((a, i) => {
    const w = `anomalies[${i}]`;
    for (const k of ["id", "timestamp", "severity", "type", "title", "description", "user", "sourceIp", "confidence", "status"]) {
      check(k in a, `${w}: missing ${k}`);
    }
    ts(a.timestamp, w);
    check(SEVERITIES.includes(a.severity), `${w}: severity ${a.severity}`);
    check(ALERT_TYPES.includes(a.type), `${w}: type ${a.type}`);
    check(isInt(a.confidence) && a.confidence >= 0 && a.confidence <= 100, `${w}: confidence integer 0..100`);
    check(a.user === null || typeof a.user === "string", `${w}: user string|null`);
    check(a.sourceIp === null || typeof a.sourceIp === "string", `${w}: sourceIp string|null`);
    check(["open", "acknowledged", "resolved", "safe"].includes(a.status), `${w}: status ${a.status}`);
    check(a.evidence === undefined || (typeof a.evidence === "object" && !Array.isArray(a.evidence)), `${w}: evidence object`);
  });
  const rank = (s) => SEVERITIES.indexOf(s);
  for (let i = 1; i < d.anomalies.length; i++) {
    const [p, q] = [d.anomalies[i - 1], d.anomalies[i]];
    check(rank(p.severity) < rank(q.severity) || (rank(p.severity) === rank(q.severity) && p.timestamp >= q.timestamp),
      `anomalies: not severity rank then newest at ${i}`);
  }

  // 3.3 IAM changes
  check(d.iamChanges.length <= iamLimit, `iamChanges: more than ${iamLimit}`);
  d.iamChanges.forEach((c, i) => {
    check(same(keys(c), ["timestamp", "changedBy", "action", "resource", "service"]), `iamChanges[${i}]: keys ${keys(c)}`);
    ts(c.timestamp, `iamChanges[${i}]`);
    check(IAM_ACTIONS.includes(c.action), `iamChanges[${i}]: action ${c.action}`);
    check(typeof c.changedBy === "string" && c.changedBy, `iamChanges[${i}]: changedBy`);
  });
  newestFirst(d.iamChanges, "iamChanges");

  // 3.4 network flow
  const nf = d.networkFlow;
  check(same(keys(nf), ["totalEvents", "networkFlows", "activeNodes", "sankeyData"]), "networkFlow keys");
  const { nodes, links } = nf.sankeyData;
  const order = { source: 0, device: 1, telemetry: 2 };
  nodes.forEach((n, i) => {
    check(n.id === i, `sankey node ${i}: id is not its index`);
    check(n.layer in order, `sankey node ${i}: layer ${n.layer}`);
    if (i) check(order[nodes[i - 1].layer] <= order[n.layer], `sankey nodes: layers out of order at ${i}`);
  });
  check(nodes.filter((n) => n.layer === "source").length <= 11, "sankey: at most 10 sources + other");
  const pairs = new Set();
  const used = new Set();
  links.forEach((l, i) => {
    const s = nodes[l.source], t = nodes[l.target];
    check(s && t, `sankey link ${i}: unknown node`);
    if (!s || !t) return;
    check(order[t.layer] === order[s.layer] + 1, `sankey link ${i}: not ${s.layer} → next layer`);
    check(isInt(l.value) && l.value > 0, `sankey link ${i}: value`);
    const k = `${l.source}>${l.target}`;
    check(!pairs.has(k), `sankey link ${i}: duplicate ${k}`);
    pairs.add(k); used.add(l.source); used.add(l.target);
  });
  check(used.size === nodes.length, "sankey: every node appears in a link");
  check(nf.networkFlows === links.length, "networkFlows = links");
  check(nf.activeNodes === nodes.length, "activeNodes = nodes");

  // 3.5 attackers
  check(d.topAttackers.length <= 10, "topAttackers: at most 10");
  d.topAttackers.forEach((a, i) => {
    check(same(keys(a), ["sourceIp", "country", "attacks", "servicesTargeted", "severity", "status"]), `topAttackers[${i}] keys`);
    check(isInt(a.attacks) && a.attacks > 0, `topAttackers[${i}]: attacks`);
    check(isInt(a.servicesTargeted), `topAttackers[${i}]: servicesTargeted integer`);
    check(SEVERITIES.includes(a.severity), `topAttackers[${i}]: severity`);
    check(["active", "blocked", "inactive"].includes(a.status), `topAttackers[${i}]: status`);
    if (i) check(d.topAttackers[i - 1].attacks >= a.attacks, `topAttackers: not by attacks at ${i}`);
  });

  // 3.6, 3.7
  check(JSON.stringify(d.threatDistribution.map((x) => x.level)) === JSON.stringify(SEVERITIES), "threatDistribution: the 4 levels in order");
  d.threatDistribution.forEach((x) => check(isInt(x.count) && x.count >= 0, "threatDistribution counts"));
  const s = d.stats;
  check(same(keys(s), ["totalEvents", "totalAnomalies", "criticalThreats", "failedLogins", "iamChanges", "attackSources", "eventsPerHour"]), "stats keys");
  check(d.threatDistribution.reduce((n, x) => n + x.count, 0) === s.totalAnomalies, "threatDistribution sums to totalAnomalies");
  check(d.threatDistribution[0]?.count === s.criticalThreats, "criticalThreats = critical anomalies");
  check(s.eventsPerHour === Math.round((s.totalEvents / tr.hours) * 10) / 10, "eventsPerHour = totalEvents / hours, 1 decimal");
  check(s.attackSources >= d.topAttackers.length, "attackSources ≥ listed attackers");
  check(d.logs.length === Math.min(logLimit, s.totalEvents), "logs = min(log_limit, totalEvents)");
  check(d.anomalies.length === Math.min(anomalyLimit, s.totalAnomalies), "anomalies = min(anomaly_limit, totalAnomalies)");
  check(d.iamChanges.length === Math.min(iamLimit, s.iamChanges), "iamChanges = min(iam_limit, stats.iamChanges)");

  // 3.8 timeline
  const tl = d.securityEventsTimeline;
  check(tl.length === tr.hours + 1, `timeline: ${tl.length} buckets, want hours + 1`);
  const floorHour = (iso) => Math.floor(Date.parse(iso) / 3600e3) * 3600e3;
  tl.forEach((b, i) => {
    check(same(keys(b), ["timestamp", "total", "critical", "warnings", "failedLogins", "iamChanges"]), `timeline[${i}] keys`);
    ts(b.timestamp, `timeline[${i}]`);
    check(Date.parse(b.timestamp) === floorHour(tr.start) + i * 3600e3, `timeline[${i}]: not hourly from floor_hour(start)`);
    check(b.critical + b.warnings <= b.total, `timeline[${i}]: critical + warnings > total`);
  });
  const sum = (k) => tl.reduce((n, b) => n + b[k], 0);
  check(sum("total") === s.totalEvents, "timeline totals sum to totalEvents");
  check(sum("failedLogins") === s.failedLogins, "timeline failedLogins sum to stats");
  check(sum("iamChanges") === s.iamChanges, "timeline iamChanges sum to stats");

  // 3.9 heatmap
  const hm = d.attackPatternHeatmap;
  check(JSON.stringify(hm.days) === JSON.stringify(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]), "heatmap days");
  check(hm.data.length === 7 && hm.data.every((r) => r.length === 24 && r.every(isInt)), "heatmap 7 × 24 integers");
  check(hm.maxValue === Math.max(0, ...hm.data.flat()), "heatmap maxValue");
  return bad;
}
