// A realistic day of traffic for a few organisations, deterministic from a seed, shared by the
// cost benchmark (bench/cost.mjs) and its guard test (tests/e2e/cost.test.mjs) so both measure
// the same mix. Nothing here sends anything: `day()` returns the events and Loki pushes, and
// the callers send them to a local Worker.
//
// The mix, per organisation (`users` people, 40 by default):
//   * Everyday sign-ins. Each user has a home address and, for a third of them, a second one
//     (office or phone); 1–4 sessions a day, each `auth.login_success` from one of them (the
//     home one 70 % of the time) with a device id, 0–2 `auth.token_refreshed`, and an
//     `auth.logout` at the end of 80 % of them. 15 % of sessions start with 1–2
//     `auth.login_failed` typos from the same address; now and then a `data.export`,
//     `authz.access_denied` or `auth.password_reset`.
//   * Administration: `admin.user_created`, `admin.settings_changed`, `authz.role_changed`,
//     `authz.permission_granted`, `admin.api_key_created`, `data.export`,
//     `data.sensitive_access`, one `admin.privilege_escalation` (an instant alert) and one
//     `security.ip_blocked`, from three admins.
//   * Hostile traffic: two addresses each bursting 15–30 `auth.login_failed` within minutes
//     against real and made-up accounts ("admin", "root", "test"), with 5
//     `security.rate_limit_exceeded` events each from the application's own limiter; after
//     the first burst one `auth.login_success` from that address into a real account (a
//     compromise).
//   * Raw log lines for the Loki push (`lines`, 6 per user by default), spread over the 24 hours
//     before `end`: web access lines (60 %), JSON sign-in lines of the users from their
//     addresses (15 %, a third of them failures), sshd logins of the users from their home
//     addresses (5 %: parsed successes, which run the identity rules), sshd failures from the
//     hostile addresses (10 %), cloud-audit IAM lines (5 %) and firewall port-scan lines (5 %),
//     shipped in pushes of 50 lines as a log shipper batches them.
// Event order follows each event's time of day; the Worker stamps the time itself, so a replay
// sends the day in order, in minutes.

/** A small deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

// Public /16s of consumer ISPs and offices in several countries (the addresses are made up
// inside them); hostile addresses come from hosting ranges.
const HOME_NETS = ["81.2", "89.160", "216.160", "2.125", "175.16", "67.43", "202.196", "200.160", "41.203", "5.188", "78.46", "92.184"];
const HOSTILE_NETS = ["185.220", "45.155", "193.32", "103.21"];
const SERVICES = [["web-app", "prod"], ["api-gateway", "prod"], ["auth-service", "prod"], ["billing", "prod"], ["web-app", "staging"]];
const PATHS = ["/", "/login", "/api/v1/orders", "/api/v1/orders/42", "/api/v1/profile", "/static/app.js", "/api/v1/invoices"];

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * The day: `{ orgs: [{ name, events, pushes }], mix }`. `events` are `/collect` bodies' events
 * in the order of the day; `pushes` are Loki push bodies whose lines are timestamped in
 * `[end − 24 h, end − 1 min]`; `mix` counts events by name and lines by kind, for the report.
 */
export function day({ orgs = 3, users = 40, lines, seed = 18, end = Date.now() } = {}) {
  const r = rng(seed);
  const mix = { events: {}, lines: {} };
  const out = [];
  for (let o = 0; o < orgs; o++) {
    const name = `Cost org ${o + 1}`;
    const people = Array.from({ length: users }, (_, u) => {
      const id = `user-${o + 1}-${u + 1}`;
      const home = `${r.pick(HOME_NETS)}.${r.int(256)}.${1 + r.int(254)}`;
      const other = r.chance(1 / 3) ? `${r.pick(HOME_NETS)}.${r.int(256)}.${1 + r.int(254)}` : null;
      return { id, email: `${id}@org${o + 1}.example`, home, other, device: `${id}-${r.pick(["laptop", "phone", "desktop"])}` };
    });
    const hostile = [0, 1].map(() => `${r.pick(HOSTILE_NETS)}.${r.int(256)}.${1 + r.int(254)}`);
    const timed = []; // [minute of day, event]
    const ev = (t, event, actor, ip, metadata = {}) => {
      timed.push([t, {
        event,
        actor: actor ? { id: actor.id ?? actor, email: actor.email ?? `${actor}@unknown.example` } : undefined,
        user_ip: ip,
        metadata,
      }]);
      mix.events[event] = (mix.events[event] ?? 0) + 1;
    };
    const svc = () => ({ service: "auth-service", namespace: "prod" });

    for (const p of people) {
      const sessions = 1 + r.int(4);
      for (let s = 0; s < sessions; s++) {
        let t = r.next() * 24 * 60;
        const ip = p.other && r.chance(0.3) ? p.other : p.home;
        if (r.chance(0.15)) {
          for (let f = 1 + r.int(2); f > 0; f--) ev(t++, "auth.login_failed", p, ip, { ...svc(), method: "password", reason: "invalid_password" });
        }
        ev(t, "auth.login_success", p, ip, { ...svc(), method: r.pick(["password", "password", "sso", "passkey"]), device_id: p.device });
        for (let k = r.int(3); k > 0; k--) ev((t += 20 + r.int(60)), "auth.token_refreshed", p, ip, { service: "api-gateway", namespace: "prod" });
        if (r.chance(0.06)) ev(t + 5, "data.export", p, ip, { service: "web-app", namespace: "prod", resource: "reports/monthly.csv", rows: 1 + r.int(5000) });
        if (r.chance(0.04)) ev(t + 6, "authz.access_denied", p, ip, { service: "web-app", namespace: "prod", resource: "admin/settings", status_code: 403 });
        if (r.chance(0.02)) ev(t + 7, "auth.password_reset", p, ip, svc());
        if (r.chance(0.8)) ev(t + 30 + r.int(120), "auth.logout", p, ip, svc());
      }
    }

    const admins = people.slice(0, 3);
    const admin = [
      ["admin.user_created", 3], ["admin.settings_changed", 4], ["authz.role_changed", 2], ["authz.permission_granted", 2],
      ["admin.api_key_created", 1], ["data.export", 3], ["data.sensitive_access", 2], ["admin.privilege_escalation", 1],
    ];
    for (const [event, n] of admin) {
      for (let i = 0; i < n; i++) {
        const a = r.pick(admins);
        const target = r.pick(people);
        ev(9 * 60 + r.next() * 9 * 60, event, a, a.home, {
          service: "iam", namespace: "prod", resource: `users/${target.id}`, target: target.id,
          ...(event === "authz.role_changed" ? { new_role: r.pick(["admin", "editor", "viewer"]) } : {}),
        });
      }
    }

    hostile.forEach((ip, h) => {
      const start = r.next() * 22 * 60;
      const n = 15 + r.int(16);
      for (let i = 0; i < n; i++) {
        const target = r.chance(0.5) ? r.pick(people) : r.pick(["admin", "root", "test", "support"]);
        ev(start + i * 0.1, "auth.login_failed", target, ip, { ...svc(), method: "password", reason: r.pick(["invalid_password", "unknown_user"]) });
        if (i % 5 === 4) ev(start + i * 0.1 + 0.01, "security.rate_limit_exceeded", null, ip, { service: "api-gateway", namespace: "prod", limit: 100, window: "1m", ip });
      }
      if (h === 0) ev(start + n * 0.1 + 1, "auth.login_success", r.pick(people), ip, { ...svc(), method: "password", device_id: "unknown-device" });
    });
    ev(23 * 60, "security.ip_blocked", admins[0], admins[0].home, { service: "edge-firewall", namespace: "infra", ip: hostile[0] });

    timed.sort((a, b) => a[0] - b[0]);
    out.push({ name, events: timed.map(([, e]) => e), pushes: pushesFor(r, mix, people, hostile, lines ?? users * 6, end) });
  }
  return { orgs: out, mix };
}

/** The organisation's raw lines over the day before `end`, in pushes of 50 by time. */
function pushesFor(r, mix, people, hostile, n, end) {
  const entries = [];
  const add = (kind, labels, line) => {
    const ts = end - MINUTE - Math.floor(r.next() * (DAY - 2 * MINUTE));
    entries.push({ ts, labels, line });
    mix.lines[kind] = (mix.lines[kind] ?? 0) + 1;
  };
  for (let i = 0; i < n; i++) {
    const p = r.pick(people);
    const [service, namespace] = r.pick(SERVICES);
    const labels = { service, namespace, pod: `${service}-7d9f${i % 3}` };
    const k = r.next();
    if (k < 0.6) {
      const status = r.pick([200, 200, 200, 200, 201, 204, 304, 404, 401, 403, 500]);
      add("access", labels, `${p.home} - ${p.id} [06/Dec/2026:10:00:00 +0000] "GET ${r.pick(PATHS)} HTTP/1.1" ${status} ${200 + r.int(20000)}`);
    } else if (k < 0.75) {
      const ok = r.chance(2 / 3);
      add(ok ? "login_ok" : "login_failed", { service: "auth-service", namespace: "prod", pod: "auth-1" }, JSON.stringify({
        level: ok ? "info" : "warn", msg: ok ? "user login succeeded" : "failed login: invalid password", user: p.id, ip: p.home, status: ok ? 200 : 401,
      }));
    } else if (k < 0.8) {
      add("sshd_login", { service: "bastion", namespace: "infra", pod: "bastion-1" },
        `sshd[4121]: Accepted publickey for ${p.id} from ${p.home} port ${40000 + r.int(20000)} ssh2: ED25519 SHA256:k3y`);
    } else if (k < 0.9) {
      add("sshd", { service: "bastion", namespace: "infra", pod: "bastion-1" },
        `sshd[4121]: Failed password for invalid user ${r.pick(["oracle", "admin", "ubuntu", "git"])} from ${r.pick(hostile)} port ${40000 + r.int(20000)} ssh2`);
    } else if (k < 0.95) {
      add("audit", { service: "cloud-audit", namespace: "infra", pod: "audit" }, JSON.stringify({
        severity: "NOTICE", protoPayload: { methodName: r.pick(["SetIamPolicy", "CreateRole", "DeleteServiceAccountKey"]),
          authenticationInfo: { principalEmail: p.email }, requestMetadata: { callerIp: p.home }, resourceName: `projects/acme/roles/${r.pick(["admin", "viewer"])}` },
      }));
    } else {
      add("portscan", { service: "edge-firewall", namespace: "infra", pod: "fw-1" }, `port scan detected from ${r.pick(hostile)}: ${50 + r.int(200)} ports probed in 4s`);
    }
  }
  entries.sort((a, b) => a.ts - b.ts);
  const pushes = [];
  for (let i = 0; i < entries.length; i += 50) {
    const streams = new Map();
    for (const e of entries.slice(i, i + 50)) {
      const key = JSON.stringify(e.labels);
      if (!streams.has(key)) streams.set(key, { stream: e.labels, values: [] });
      streams.get(key).values.push([`${e.ts}000000`, e.line]);
    }
    pushes.push({ streams: [...streams.values()] });
  }
  return pushes;
}

/** How many lines a push body carries. */
export const linesIn = (push) => push.streams.reduce((n, s) => n + s.values.length, 0);
