// Realistic mixed traffic for a new installation, so the dashboard is populated within a
// minute of scripts/dev: logins from many countries (third-party user_ip values, located
// through the DB-IP table), a brute-force burst, an impossible-travel pair, IAM changes,
// instant alerts, and Loki log lines from several services spread over the last 24 hours.
// All traffic goes to the given base URL (127.0.0.1 by default), bounded in count.
import { randomInt } from "node:crypto";

// Public addresses in different countries (stable allocations; the DB-IP table says where).
const PLACES = [
  "81.2.69.160", "89.160.20.112", "216.160.83.56", "175.16.199.7", "2.125.160.216", "202.196.224.9",
  "67.43.156.9", "185.86.151.11", "41.203.64.5", "200.160.2.3", "103.21.244.9", "5.188.10.3",
];
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
const SERVICES = [["auth-service", "prod"], ["api-gateway", "prod"], ["billing", "prod"], ["auth-service", "staging"]];

const pick = (xs) => xs[randomInt(xs.length)];

async function call(base, key, path, body, headers = {}) {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "X-API-Key": key, "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  if (res.status >= 400) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res;
}

function event(name, actor, ip, metadata = {}) {
  return { event: name, actor: { id: actor, email: `${actor}@example.com` }, user_ip: ip, metadata };
}

function lokiLines(now) {
  const streams = new Map();
  const add = (service, namespace, pod, tsMs, line) => {
    const k = `${service}|${namespace}`;
    if (!streams.has(k)) streams.set(k, { stream: { service, namespace, pod }, values: [] });
    streams.get(k).values.push([String(BigInt(Math.floor(tsMs)) * 1_000_000n), line]);
  };
  for (let i = 0; i < 480; i++) {
    const ts = now - randomInt(24 * 3_600_000);
    const [service, namespace] = pick(SERVICES);
    const ip = pick(PLACES);
    const user = pick(USERS);
    const kind = randomInt(100);
    if (kind < 45) {
      const status = pick([200, 200, 200, 201, 304, 404, 401, 403, 429, 500]);
      add(service, namespace, `${service}-7d9f`, ts, `${ip} - ${user} [${new Date(ts).toISOString()}] "GET /api/v1/orders HTTP/1.1" ${status} 512`);
    } else if (kind < 65) {
      add(service, namespace, `${service}-7d9f`, ts, JSON.stringify({ level: "info", msg: "user login succeeded", user, ip, status: 200 }));
    } else if (kind < 80) {
      add(service, namespace, `${service}-7d9f`, ts, JSON.stringify({ level: "warn", msg: "failed login: invalid password", user, ip, status: 401 }));
    } else if (kind < 88) {
      add("bastion", "infra", "bastion-1", ts, `sshd[4121]: Failed password for invalid user oracle from ${ip} port ${40000 + i} ssh2`);
    } else if (kind < 94) {
      add("cloud-audit", "infra", "audit", ts, JSON.stringify({ severity: "NOTICE", protoPayload: {
        methodName: pick(["SetIamPolicy", "CreateRole", "AttachRolePolicy", "DeleteServiceAccountKey"]),
        authenticationInfo: { principalEmail: `${user}@example.com` }, requestMetadata: { callerIp: ip },
        resourceName: `projects/acme/roles/${pick(["admin", "viewer", "billing"])}` } }));
    } else {
      add("edge-firewall", "infra", "fw-1", ts, `port scan detected from ${ip}: 120 ports probed in 4s`);
    }
  }
  return [...streams.values()];
}

/** Sends the whole demo set; returns what was sent. */
export async function sendDemoTraffic(base, key, log = () => {}) {
  const sent = { events: 0, lines: 0 };
  const batch = async (events) => {
    await call(base, key, "/collect", { events });
    sent.events += events.length;
  };
  // Everyday activity: logins, logouts, exports, settings, from many countries.
  const everyday = [];
  for (let i = 0; i < 90; i++) {
    const user = pick(USERS);
    const name = pick(["auth.login_success", "auth.login_success", "auth.logout", "data.export", "admin.settings_changed", "auth.token_refreshed"]);
    everyday.push(event(name, user, pick(PLACES), { service: pick(SERVICES)[0], namespace: "prod", device_id: `${user}-laptop` }));
  }
  for (let i = 0; i < everyday.length; i += 30) await batch(everyday.slice(i, i + 30));
  log(`sent ${sent.events} everyday events`);
  // A brute-force burst against one account from one address.
  await batch(Array.from({ length: 8 }, () => event("auth.login_failed", "admin", "185.86.151.11", { service: "auth-service", namespace: "prod", reason: "bad password" })));
  // An impossible-travel pair: London, then Changchun seconds later.
  await batch([event("auth.login_success", "mallory", "81.2.69.160", { device_id: "mallory-laptop" })]);
  await new Promise((r) => setTimeout(r, 1500));
  await batch([event("auth.login_success", "mallory", "175.16.199.7", { device_id: "unknown-device" })]);
  // IAM changes and instant alerts.
  await batch([
    event("authz.role_changed", "bob", "89.160.20.112", { resource: "roles/admin", new_role: "admin", service: "iam", namespace: "prod" }),
    event("admin.privilege_escalation", "svc-deploy", "216.160.83.56", { resource: "roles/owner", service: "iam", namespace: "prod" }),
    event("admin.api_key_created", "carol", "2.125.160.216", { resource: "api-keys/ci", service: "iam", namespace: "prod" }),
    event("data.sensitive_access", "ivan", "5.188.10.3", { resource: "customers.csv", service: "billing", namespace: "prod" }),
    event("security.ip_blocked", "firewall", "5.188.10.3", { ip: "5.188.10.3", service: "edge-firewall", namespace: "infra" }),
  ]);
  log(`sent ${sent.events} events in all`);
  // Log lines from shippers, in Loki push batches.
  for (const stream of lokiLines(Date.now())) {
    await call(base, key, "/loki/api/v1/push", { streams: [stream] });
    sent.lines += stream.values.length;
  }
  log(`sent ${sent.lines} log lines`);
  return sent;
}
