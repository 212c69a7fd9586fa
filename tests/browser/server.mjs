// A stand-in for the Worker, for the browser test: serves public/ the way Workers static assets do
// (files first, `/` → index.html, _headers applied, no SPA fallback) and fakes the API routes
// the page calls, with the API contract's envelopes and error body (docs/api.md §5.6, §9.3,
// §9.7); the configuration cards get empty lists and the default detection settings; `GET /agents`
// lists three litesoc-agent hosts (`agents` below: a test may replace the list or set an error).
import { readFileSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";

export const TEST_KEY = "lsoc_test_browser0000000000000000";

const MIME = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json", ".txt": "text/plain",
  ".woff2": "font/woff2",
};

/** Parses a Cloudflare `_headers` file into [{pattern, headers}] (only `/*`-style wildcards). */
function parseHeaders(text) {
  const rules = [];
  let cur = null;
  for (const line of text.split("\n")) {
    if (!line.trim() || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line)) rules.push((cur = { pattern: line.trim(), headers: [] }));
    else if (cur) {
      const i = line.indexOf(":");
      cur.headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
  }
  return rules.map((r) => ({ ...r, re: new RegExp(`^${r.pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`) }));
}

function json(res, status, body, extra = {}) {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", ...extra });
  res.end(JSON.stringify(body));
}
function apiError(res, status, code, message, more = {}) {
  json(res, status, { success: false, error: { code, message, ...more }, code, message });
}

function headerRulesOf(publicDir) {
  try {
    return parseHeaders(readFileSync(join(publicDir, "_headers"), "utf8"));
  } catch {
    return []; // no _headers
  }
}

/** Serves public/ as Workers static assets do, and forwards everything else to a real Worker at
 *  `target` (the e2e harness listening on 127.0.0.1): the page and the API on one origin. */
export async function startProxyServer({ publicDir, target }) {
  const headerRules = headerRulesOf(publicDir);
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (serveAsset(req, res, url, publicDir, headerRules)) return;
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const headers = { ...req.headers };
      for (const h of ["host", "connection", "accept-encoding", "content-length"]) delete headers[h];
      const body = ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks);
      const up = await fetch(target + req.url, { method: req.method, headers, body });
      // fetch has already decoded the body: pass the rest of the headers on as they are.
      const out = Object.fromEntries([...up.headers].filter(([k]) => !["content-encoding", "content-length", "transfer-encoding"].includes(k)));
      res.writeHead(up.status, out);
      res.end(Buffer.from(await up.arrayBuffer()));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

/** Answers a GET or HEAD for a file of public/ (files first, `/` → index.html, _headers applied,
 *  no SPA fallback); false when the request is not for an asset. */
function serveAsset(req, res, url, publicDir, headerRules) {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const rel = url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname).replace(/^\/+/, "");
  const file = normalize(join(publicDir, rel));
  const isFile = file.startsWith(publicDir + sep) && !rel.startsWith("_") && (() => {
    try { return statSync(file).isFile(); } catch { return false; }
  })();
  if (!isFile) return false;
  const headers = { "Content-Type": MIME[extname(file)] ?? "application/octet-stream" };
  for (const r of headerRules) if (r.re.test(url.pathname)) for (const [k, v] of r.headers) headers[k] = v;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : readFileSync(file));
  return true;
}

/** Three litesoc-agent hosts as `GET /agents` lists them: two online (one reporting a hostile
 *  line, one with no address, version or lines) and one stale; times relative to `now`. */
export function sampleAgents(now = Date.now()) {
  const at = (secondsAgo) => new Date(now - secondsAgo * 1000).toISOString();
  return [
    { hostname: "web-1", ip_address: "10.0.0.5", agent_version: "1.4.2", first_seen: at(3 * 86_400 + 600), last_seen: at(42),
      heartbeats: 1_204, recent_logs: [
        "Failed password for root from 203.0.113.9 port 22 ssh2",
        "Failed password for invalid user <img src=x onerror=alert(1)> from 203.0.113.9 port 50122 ssh2",
        "Accepted publickey for deploy from 198.51.100.4 port 51514 ssh2: ED25519 SHA256:q9vZ…",
      ] },
    { hostname: "db-1", ip_address: null, agent_version: null, first_seen: at(2 * 3600), last_seen: at(170), heartbeats: 17, recent_logs: [] },
    { hostname: "backup-1", ip_address: "10.0.0.9", agent_version: "1.3.0", first_seen: at(9 * 86_400), last_seen: at(12 * 60 + 5),
      heartbeats: 2_301, recent_logs: ["rsync: connection unexpectedly closed (0 bytes received so far) [sender]"] },
  ];
}

/** Starts the fake on 127.0.0.1 with a random port. `fixture` is a /ui/mock-data body. */
export async function startFakeServer({ publicDir, fixture }) {
  const headerRules = headerRulesOf(publicDir);
  const data = structuredClone(fixture);
  const requests = [];
  // GET /agents: `list` as stored (status and seconds_since_seen are computed per request, as the
  // Worker does), or `error` ({status, code, message}) to answer with instead.
  const agents = { list: sampleAgents(), error: null };

  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    requests.push({ method: req.method, path: url.pathname, search: url.search, headers: req.headers });
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => route(req, res, url, body));
  });

  // Sessions as the Worker keeps them (docs/api.md §2.7): POST /session exchanges the key for an
  // HttpOnly cookie and a CSRF token; a change made with the cookie must carry the token.
  const sessions = new Map(); // id → csrf token
  const sessionOf = (req) => {
    const m = (req.headers.cookie ?? "").match(/(?:^|;\s*)edgesoc_session=([0-9a-f]+)/);
    return m && sessions.has(m[1]) ? m[1] : null;
  };
  const sessionData = (csrf) => ({ organization: { id: "org_test", name: "Test" }, actor: "browser test (lsoc_test_brow)",
    role: "admin", scopes: ["read", "respond", "admin"], via: "session", expires_at: null, csrf_token: csrf });

  function authed(req, res) {
    if (req.headers["x-api-key"] === TEST_KEY) return true;
    const id = sessionOf(req);
    if (id && (["GET", "HEAD"].includes(req.method) || req.headers["x-csrf-token"] === sessions.get(id))) return true;
    if (id) apiError(res, 403, "CSRF_TOKEN_INVALID", "Missing or invalid X-CSRF-Token for this session");
    else apiError(res, 401, "UNAUTHORIZED", "Invalid or missing API key");
    return false;
  }

  function sessionRoute(req, res, body) {
    const cookie = (v, age) => `edgesoc_session=${v}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${age}`;
    if (req.method === "POST") {
      let key = null;
      try { key = JSON.parse(body).key; } catch { /* not JSON */ }
      if (key !== TEST_KEY) return apiError(res, 401, "UNAUTHORIZED", "Missing or invalid API key");
      const id = randomBytes(32).toString("hex");
      const csrf = randomBytes(32).toString("hex");
      sessions.set(id, csrf);
      return json(res, 201, { success: true, data: sessionData(csrf) }, { "Set-Cookie": cookie(id, 28800) });
    }
    const id = sessionOf(req);
    if (!id) return apiError(res, 401, "UNAUTHORIZED", "Missing or invalid API key");
    if (req.method === "GET") return json(res, 200, { success: true, data: sessionData(sessions.get(id)) });
    if (req.method === "DELETE") {
      if (!authed(req, res)) return;
      sessions.delete(id);
      return json(res, 200, { success: true, data: { signed_out: true } }, { "Set-Cookie": cookie("", 0) });
    }
    return apiError(res, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
  }

  function route(req, res, url, body) {
    // 1. static assets first, as Workers static assets do
    if (serveAsset(req, res, url, publicDir, headerRules)) return;
    // 2. the Worker
    if (url.pathname === "/session") return sessionRoute(req, res, body);
    if (url.pathname === "/ui/mock-data" && req.method === "GET") {
      if (!authed(req, res)) return;
      for (const k of ["hours", "log_limit", "anomaly_limit", "iam_limit"]) {
        const v = url.searchParams.get(k);
        if (v != null && !/^-?\d+$/.test(v)) return apiError(res, 400, "VALIDATION_ERROR", `${k} must be an integer`);
      }
      let hours = Math.min(168, Math.max(1, Number(url.searchParams.get("hours") ?? 24)));
      let timeRange = { ...data.timeRange, hours };
      const start = url.searchParams.get("start");
      if (start !== null) {
        // A custom range as the Worker bounds it (docs/dashboard.md §1), Pro keeping 30 days.
        const H = 3_600_000;
        const end = Math.min(Date.now(), Date.parse(url.searchParams.get("end") ?? "") || Date.now());
        const from = Math.max(Math.floor(Date.parse(start) / H) * H, Math.ceil((Date.now() - 30 * 86_400_000) / H) * H);
        if (Number.isNaN(from)) return apiError(res, 400, "VALIDATION_ERROR", "start must be an ISO-8601 timestamp");
        hours = Math.max(1, Math.floor((Math.floor(end / H) * H - from) / H));
        const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
        timeRange = { start: iso(Math.floor(end / H) * H - hours * H), end: iso(end), hours };
      }
      const status = url.searchParams.get("anomaly_status") ?? "all";
      const statusOk = (st) => status === "all" || (status === "active" ? ["open", "acknowledged"].includes(st) : st === status);
      const service = url.searchParams.get("service");
      const namespace = url.searchParams.get("namespace");
      const ip = url.searchParams.get("source_ip");
      const user = url.searchParams.get("user");
      const pivot = (x) => (!ip || x.sourceIp === ip) && (!user || x.user === user);
      const keep = (svc, ns, x) => (!service || svc === service) && (!namespace || ns === namespace) && pivot(x);
      // The fake narrows the item arrays only; aggregates stay as in the fixture, except the
      // anomaly counts, which follow anomaly_status as the Worker's do.
      const anomalies = data.anomalies.filter((a) => statusOk(a.status) && keep(a.service, a.namespace, a));
      const counted = data.anomalies.filter((a) => statusOk(a.status));
      const threatDistribution = data.threatDistribution.map((t) => ({ level: t.level, count: counted.filter((a) => a.severity === t.level).length }));
      const out = {
        ...data,
        timeRange,
        logs: data.logs.filter((l) => keep(l._metadata.service, l._metadata.namespace, l)),
        anomalies,
        iamChanges: data.iamChanges.filter((c) => (!service || c.service === service) && !ip && (!user || c.changedBy === user)), // no namespace or address on IAM items
        threatDistribution,
        stats: { ...data.stats, totalAnomalies: counted.length, criticalThreats: threatDistribution[0].count },
      };
      return json(res, 200, out, { "X-LiteSOC-Plan": "pro", "X-LiteSOC-Retention": "30" });
    }
    const m = url.pathname.match(/^\/alerts\/([^/]+)$/);
    if (m && req.method === "PATCH") {
      if (!authed(req, res)) return;
      let parsed;
      try { parsed = JSON.parse(body); } catch { return apiError(res, 400, "VALIDATION_ERROR", "Body must be JSON"); }
      const next = { acknowledge: "acknowledged", resolve: "resolved", mark_safe: "safe" }[parsed?.action];
      if (!next) return apiError(res, 400, "VALIDATION_ERROR", "action must be acknowledge, resolve or mark_safe");
      const a = data.anomalies.find((x) => x.id === decodeURIComponent(m[1]));
      if (!a) return apiError(res, 404, "NOT_FOUND", "Alert not found");
      a.status = next;
      const now = new Date().toISOString();
      return json(res, 200, {
        success: true,
        data: {
          id: a.id, org_id: "org_test", alert_type: a.type, severity: a.severity, status: next, title: a.title,
          description: a.description, source_ip: a.sourceIp, actor_id: a.user, trigger_event_id: null, forensics: null,
          resolution_type: next === "resolved" ? "other" : null, resolved_at: next === "resolved" ? now : null,
          resolved_by: "api", created_at: a.timestamp, updated_at: now,
          metadata: { confidence: a.confidence, evidence: a.evidence }, action: parsed.action,
        },
        meta: { plan: "pro", retention_days: 30, cutoff_date: now, redacted: false },
      });
    }
    if (m && req.method === "GET") {
      if (!authed(req, res)) return;
      const a = data.anomalies.find((x) => x.id === decodeURIComponent(m[1]));
      if (!a) return apiError(res, 404, "NOT_FOUND", "Alert not found");
      return json(res, 200, {
        success: true,
        data: { id: a.id, alert_type: a.type, severity: a.severity, status: a.status, title: a.title, description: a.description,
          source_ip: a.sourceIp, actor_id: a.user, created_at: a.timestamp, suppressed_by: null, forensics: null,
          metadata: { confidence: a.confidence, evidence: a.evidence } },
      });
    }
    if (["/destinations", "/suppressions"].includes(url.pathname) && req.method === "GET") {
      if (!authed(req, res)) return;
      return json(res, 200, { success: true, data: [], meta: { plan: "pro", retention_days: 30, redacted: false } });
    }
    if (url.pathname === "/agents" && req.method === "GET") {
      if (!authed(req, res)) return;
      if (agents.error) return apiError(res, agents.error.status, agents.error.code, agents.error.message);
      const STALE = 360;
      const now = Date.now();
      const list = agents.list.map((a) => {
        const seconds = Math.max(0, Math.floor((now - Date.parse(a.last_seen)) / 1000));
        return { ...a, status: seconds <= STALE ? "online" : "stale", seconds_since_seen: seconds };
      });
      return json(res, 200, {
        success: true, data: list,
        pagination: { total: list.length, limit: 200, offset: 0, has_more: false },
        meta: { plan: "pro", retention_days: 30, cutoff_date: new Date(now - 30 * 86_400_000).toISOString(), redacted: false },
        stale_after_seconds: STALE,
      });
    }
    if (url.pathname === "/settings/detection" && req.method === "GET") {
      if (!authed(req, res)) return;
      const defaults = {
        brute_force_ip: { threshold: 5, window_minutes: 5 }, brute_force_account: { threshold: 10, window_minutes: 60 },
        travel: { min_speed_kmh: 805, min_distance_km: 500 }, agents: { stale_alert_minutes: 0 }, country_blocklist: [],
      };
      return json(res, 200, { success: true, data: { ...defaults, defaults, reason: null, updated_by: null, updated_at: null } });
    }
    if (url.pathname === "/logs" && req.method === "GET") {
      // GET /logs (docs/api.md §5.12) over the fixture's raw-line items, one page, newest first.
      if (!authed(req, res)) return;
      const ip = url.searchParams.get("source_ip");
      const user = url.searchParams.get("user");
      const service = url.searchParams.get("service");
      const lines = data.logs
        .filter((l) => /^\d+-\d+$/.test(l.id))
        .filter((l) => (!ip || l.sourceIp === ip) && (!user || l.user === user) && (!service || l._metadata.service === service))
        .map((l) => ({
          id: l.id, org_id: "org_test", timestamp: l.timestamp, type: l.type, action: l.action ?? null,
          level: l._metadata.severity, service: l._metadata.service, namespace: l._metadata.namespace,
          source_ip: l.sourceIp === "unknown" ? null : l.sourceIp, user: l.user ?? null, hostname: l.hostname ?? null,
          target_ip: null, device: null, status_code: l._metadata.status_code ?? null, resource: null, parser: null,
          message: `${l.type} line from ${l.sourceIp} (${l.user ?? "no user"})`, geo: l.geo ?? null,
          location: { city: null, latitude: null, longitude: null }, network: { asn: null, is_vpn: null, is_tor: null, is_proxy: null, is_datacenter: null },
          threat_score: null,
        }));
      return json(res, 200, { success: true, data: lines.slice(0, 50), pagination: { limit: 50, has_more: false, next_cursor: null, scanned: lines.length },
        meta: { plan: "pro", retention_days: 30, redacted: false } });
    }
    if (m || url.pathname === "/ui/mock-data") return apiError(res, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
    apiError(res, 404, "NOT_FOUND", "Not found");
  }

  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    data,
    agents,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
