#!/usr/bin/env node
// Puts realistic data behind a key of a running server (tests/api/serve.mjs), so black-box
// runs (schemathesis) see non-empty lists with every alert status rather than only empty pages:
// a batch of varied events (standard, custom, aliased, with and without actor, IP and metadata)
// and three instant-alert events, then waits for their alerts and resolves one, marks one safe;
// and a Loki push of raw lines of several formats.
//
//   node tests/api/seed.mjs <base-url> <api-key>
// Only talks to the given base URL (127.0.0.1 in the tests).
const [base, key] = process.argv.slice(2);
if (!base || !key) {
  console.error("usage: seed.mjs <base-url> <api-key>");
  process.exit(2);
}

async function call(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "X-API-Key": key, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return json;
}

const events = [
  { event: "auth.login_success", actor: { id: "alice", email: "alice@example.com" }, user_ip: "203.0.113.10", metadata: { device_id: "d1" } },
  { event: "auth.login_failed", actor: "bob", user_ip: "198.51.100.20", metadata: { method: "password" } },
  { event: "Auth.Login.Failed", actor: { email: "carol@example.com" }, user_ip: "unknown" },
  { event_name: "billing.invoice_paid", user_id: 42, ip_address: "2001:db8::1", metadata: "plain value" },
  { event: "data.export", actor: null, user_ip: null, metadata: { rows: 500, nested: { a: [1, 2.5, null] } } },
  { event: "auth.logout", severity: "critical", timestamp: "2000-01-01T00:00:00Z", extra: true },
];
const instant = [
  { event: "admin.privilege_escalation", actor: { id: "mallory", email: "m@example.com" }, user_ip: "203.0.113.66" },
  { event: "data.sensitive_access", actor: "eve", user_ip: "198.51.100.99", metadata: { resource: "payroll" } },
  { event: "security.suspicious_activity", actor: "trent", user_ip: "203.0.113.77" },
];

await call("POST", "/collect", { events });
for (const e of instant) await call("POST", "/collect", e);

const deadline = Date.now() + 20_000;
let alerts = [];
while (Date.now() < deadline) {
  alerts = (await call("GET", "/alerts?limit=50")).data;
  if (alerts.length >= instant.length) break;
  await new Promise((r) => setTimeout(r, 200));
}
if (alerts.length < instant.length) throw new Error(`only ${alerts.length} alerts appeared`);
await call("PATCH", `/alerts/${alerts[0].id}`, {
  action: "resolve",
  resolution_type: "blocked_ip",
  internal_notes: "seeded",
  resolved_by: "seed",
});
await call("PATCH", `/alerts/${alerts[1].id}`, { status: "safe" });
const ns = (ms) => `${BigInt(ms) * 1_000_000n}`;
const now = Date.now();
const lines = [
  "sshd[811]: Accepted publickey for deploy from 203.0.113.10 port 51514 ssh2",
  "sshd[812]: Failed password for invalid user oracle from 198.51.100.9 port 50122 ssh2",
  JSON.stringify({ level: "error", msg: "failed login", user: "admin", ip: "203.0.113.45", status: 401 }),
  '203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] "POST /login HTTP/1.1" 302 0 "-" "curl/8.5.0"',
];
await call("POST", "/loki/api/v1/push", { streams: [{ stream: { service: "seed", namespace: "prod" },
  values: lines.map((l, i) => [ns(now - (lines.length - i) * 1000), l]) }] });
const stored = (await call("GET", "/events?limit=1")).pagination.total;
const logs = (await call("GET", "/logs?limit=200")).data.length;
console.error(`[seed] ${stored} events, ${alerts.length} alerts (one resolved, one safe, one open), ${logs} raw lines`);
