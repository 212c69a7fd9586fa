// POST /loki/api/v1/push end to end (docs/dashboard.md §7): Loki JSON pushes, gzip, the
// label and field rules, limits and their error bodies, auth styles, the quota staying
// untouched, events mirrored as log items, and brute force from raw lines.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { start } from "./harness.mjs";

const PATH = "/loki/api/v1/push";
const MIN = 60_000;
const DAY = 86_400_000;

let app, pro, free, mixed;
before(async () => {
  app = await start();
  pro = await app.createKey({ org: "LokiPro", plan: "pro" });
  free = await app.createKey({ org: "LokiFree", plan: "free" });
  mixed = await app.createKey({ org: "LokiMixed", plan: "pro" });
});
after(() => app.dispose());

/** Unix nanoseconds as Loki sends them, `offsetMs` from now (whole ms). */
const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;

function send(key, body, { headers = {}, gzip = false } = {}) {
  const h = { "Content-Type": "application/json", ...headers };
  let payload = typeof body === "string" ? body : JSON.stringify(body);
  if (gzip) {
    payload = new Uint8Array(gzipSync(payload));
    h["Content-Encoding"] = "gzip";
  }
  return app.request(PATH, { method: "POST", key, headers: h, body: payload });
}

async function orgId(name) {
  return (await app.db.prepare("SELECT id FROM orgs WHERE name = ?").bind(name).first()).id;
}

async function logRows(org, where = "1", ...params) {
  const { results } = await app.db
    .prepare(`SELECT * FROM logs WHERE org_id = ? AND ${where} ORDER BY id`)
    .bind(org, ...params)
    .all();
  return results;
}

/** Every 4xx/5xx carries the contract's error body (docs/api.md §9.7). */
function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type") || "", /^application\/json/);
  assert.equal(res.body.success, false);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, "string");
  assert.equal(res.body.code, code);
  assert.equal(res.body.message, res.body.error.message);
}

function assertPlanHeaders(res, plan = "pro") {
  assert.equal(res.headers.get("x-litesoc-plan"), plan);
  assert.match(res.headers.get("x-litesoc-retention"), /^\d+$/);
  assert.match(res.headers.get("x-litesoc-cutoff"), /Z$/);
  assert.match(res.headers.get("x-ratelimit-limit"), /^\d+$/);
}

const quotaUsed = async (key) => (await app.request("/health", { key })).body.quota.used;

describe("ingestion", () => {
  test("two JSON streams: 204 without a body, plan headers, rows classified per §7.1/§7.3", async () => {
    const t = Date.now() - 5 * MIN;
    const before = await quotaUsed(pro);
    const res = await send(pro, {
      streams: [
        {
          stream: { service: "auth-service", namespace: "prod", pod: "auth-7d9f" },
          values: [
            [ns(t), JSON.stringify({ level: "error", msg: "failed login", user: "admin", ip: "203.0.113.45", status: 401 })],
            [ns(t + MIN), "sshd: Failed password for invalid user oracle from 198.51.100.9 port 50122"],
          ],
        },
        {
          stream: { app: "billing", job: "ignored", namespace: "staging", level: "warn" },
          values: [
            [ns(t + 2 * MIN), JSON.stringify({ msg: "attached policy AdminAccess to role deploy", user: "ci", ip: "192.0.2.7" })],
            [ns(t + 3 * MIN), '192.0.2.8 - - [30/Jan/2026:09:15:00 +0000] "GET /health HTTP/1.1" 200 2'],
            [ns(t + 4 * MIN), "cache warmed", { hostname: "web-3", device: "edge-box" }],
          ],
        },
        { stream: { job: "cron" }, values: [] },
      ],
    });
    assert.equal(res.status, 204);
    assert.equal(res.body, "");
    assert.equal(res.headers.get("content-type"), null);
    assertPlanHeaders(res);
    assert.match(res.headers.get("x-litesoc-quota-used"), /^\d+$/);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");

    const rows = await logRows(await orgId("LokiPro"), "ts >= ? AND event_id IS NULL", t);
    assert.equal(rows.length, 5);
    const pick = (r) => ({
      type: r.type, action: r.action, level: r.level, service: r.service, namespace: r.namespace,
      source_ip: r.source_ip, user: r.user, status_code: r.status_code, hostname: r.hostname, device: r.device,
    });
    assert.deepEqual(rows.map(pick), [
      { type: "login_failure", action: null, level: "error", service: "auth-service", namespace: "prod",
        source_ip: "203.0.113.45", user: "admin", status_code: 401, hostname: "auth-7d9f", device: null },
      { type: "login_failure", action: null, level: "info", service: "auth-service", namespace: "prod",
        source_ip: "198.51.100.9", user: "oracle", status_code: null, hostname: "auth-7d9f", device: null },
      { type: "iam_change", action: "policy_attached", level: "warning", service: "billing", namespace: "staging",
        source_ip: "192.0.2.7", user: "ci", status_code: null, hostname: null, device: null },
      { type: "network_event", action: null, level: "warning", service: "billing", namespace: "staging",
        source_ip: "192.0.2.8", user: null, status_code: 200, hostname: null, device: null },
      { type: "network_event", action: null, level: "warning", service: "billing", namespace: "staging",
        source_ip: null, user: null, status_code: null, hostname: "web-3", device: "edge-box" },
    ]);
    assert.deepEqual(rows.map((r) => r.ts), [t, t + MIN, t + 2 * MIN, t + 3 * MIN, t + 4 * MIN]);
    assert.equal(rows[1].message, "sshd: Failed password for invalid user oracle from 198.51.100.9 port 50122");
    for (const r of rows) assert.equal(r.hour, Math.floor(r.ts / 3_600_000) * 3_600_000);
    assert.equal(await quotaUsed(pro), before, "raw lines are not counted in the monthly quota");
  });

  test("gzip bodies are inflated", async () => {
    const t = Date.now() - MIN;
    const res = await send(pro, { streams: [{ stream: { service: "gz" }, values: [[ns(t), "login ok for bob from 203.0.113.60"]] }] }, { gzip: true });
    assert.equal(res.status, 204);
    const rows = await logRows(await orgId("LokiPro"), "service = 'gz'");
    assert.equal(rows.length, 1);
    assert.equal(rows[0].type, "login_success");
    assert.equal(rows[0].source_ip, "203.0.113.60");
    assert.equal(rows[0].namespace, "default");
  });

  test("entries before the retention cutoff or over 10 min ahead are not stored, and the push says so as Loki does: 400 naming them, the rest stored", async () => {
    const now = Date.now();
    const values = [
      [ns(now - 8 * DAY), "eight days old"],
      [ns(now - 6 * DAY), "six days old"],
      [ns(now + 9 * MIN), "nine minutes ahead"],
      [ns(now + 11 * MIN), "eleven minutes ahead"],
      [new Date(now).toISOString(), "rfc3339 timestamp"],
    ];
    const res = await send(free, { streams: [{ stream: { service: "bounds" }, values }] });
    assertError(res, 400, "VALIDATION_ERROR");
    assertPlanHeaders(res, "free");
    assert.match(res.body.error.details[0].message, /2 of 5 entries were not stored: 1 older than the retention cutoff \d{4}-\d\d-\d\dT[\d:]+Z, 1 more than 10 minutes in the future; the other 3 were stored/);
    const kept = (await logRows(await orgId("LokiFree"), "service = 'bounds'")).map((r) => r.message);
    assert.deepEqual(kept, ["six days old", "nine minutes ahead", "rfc3339 timestamp"]);
  });

  test("a line's public address gets its country and VPN flag from the events' sources, shown on the dashboard (Pro)", async () => {
    // One range in the IP tables (keys: "4" + 8 hex digits) and its ASN, as scripts/import-ipdb stores them.
    await app.db.batch([
      app.db.prepare("INSERT INTO ip_location (id, country_code, city) VALUES (990001, 'NL', 'Amsterdam')"),
      app.db.prepare("INSERT INTO ip_city (ip_start, ip_end, location_id) VALUES ('4c6336400', '4c63364ff', 990001)"),
    ]);
    const t = Date.now() - 5000; // inside the dashboard's window, which ends at the current second
    const values = [
      [ns(t), "Failed password for root from 198.51.100.200 port 22 ssh2"],
      [ns(t), JSON.stringify({ msg: "login failed", ip: "198.51.100.201", country: "BE" })],
      [ns(t), "Failed password for root from 10.1.2.3 port 22 ssh2"],
    ];
    assert.equal((await send(pro, { streams: [{ stream: { service: "geo-lines" }, values }] })).status, 204);
    const rows = await logRows(await orgId("LokiPro"), "service = 'geo-lines'");
    assert.deepEqual(rows.map((r) => [r.source_ip, r.geo, r.vpn]), [
      ["198.51.100.200", "NL", 0],
      ["198.51.100.201", "BE", 0],
      ["10.1.2.3", null, null],
    ]);
    const dash = await app.request("/ui/mock-data?hours=1&service=geo-lines", { key: pro });
    const item = dash.body.logs?.find((l) => l.sourceIp === "198.51.100.200");
    assert.ok(item, JSON.stringify(dash.body).slice(0, 600));
    assert.equal(item.geo, "NL");
    assert.equal(item.vpn, false);
    assert.equal(dash.body.topAttackers.find((a) => a.sourceIp === "198.51.100.200")?.country, "NL", "the attacker's country");

    // Free shows no location: nothing is looked up.
    assert.equal((await send(free, { streams: [{ stream: { service: "geo-lines" }, values: values.slice(0, 1) }] })).status, 204);
    const [freeRow] = await logRows(await orgId("LokiFree"), "service = 'geo-lines'");
    assert.equal(freeRow.geo, null);
  });

  test("a CloudTrail log file pushed as one line is stored as its records, each at its eventTime", async () => {
    const iso = (ms) => new Date(ms).toISOString();
    const t = Date.now() - 20 * MIN;
    const record = (at, name, extra) => ({ eventVersion: "1.09", eventTime: iso(at), eventSource: "signin.amazonaws.com",
      eventName: name, awsRegion: "eu-west-1", sourceIPAddress: "203.0.113.161", userAgent: "Mozilla/5.0 (Macintosh)",
      userIdentity: { type: "IAMUser", arn: "arn:aws:iam::111122223333:user/dana", userName: "dana" }, ...extra });
    const file = { Records: [
      record(t, "ConsoleLogin", { responseElements: { ConsoleLogin: "Failure" } }),
      record(t + 1000, "ConsoleLogin", { responseElements: { ConsoleLogin: "Success" } }),
      record(t + 2000, "AttachUserPolicy", { eventSource: "iam.amazonaws.com", requestParameters: { userName: "dana", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" } }),
    ] };
    const res = await send(pro, { streams: [{ stream: { service: "cloudtrail-file" }, values: [[ns(Date.now()), JSON.stringify(file)]] }] });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    const rows = await logRows(await orgId("LokiPro"), "service = 'cloudtrail-file'");
    assert.deepEqual(rows.map((r) => [r.ts, r.type, r.action, r.user, r.source_ip, r.parser]), [
      [t, "login_failure", null, "dana", "203.0.113.161", "cloudtrail"],
      [t + 1000, "login_success", null, "dana", "203.0.113.161", "cloudtrail"],
      [t + 2000, "iam_change", "policy_attached", "dana", "203.0.113.161", "cloudtrail"],
    ]);
    assert.equal(JSON.parse(rows[1].message).eventName, "ConsoleLogin", "each record is its own line");
  });

  test("lines over 8 KiB are truncated", async () => {
    const long = "Failed password from 203.0.113.99 " + "x".repeat(10_000);
    assert.equal((await send(pro, { streams: [{ stream: { service: "long" }, values: [[ns(Date.now()), long]] }] })).status, 204);
    const [row] = await logRows(await orgId("LokiPro"), "service = 'long'");
    assert.equal(row.message.length, 8192);
    assert.equal(row.type, "login_failure");
  });
});

describe("auth", () => {
  const body = () => ({ streams: [{ stream: { service: "authcheck" }, values: [[ns(Date.now()), "hello"]] }] });

  test("401 without a key or with an unknown one", async () => {
    assertError(await send(undefined, body()), 401, "UNAUTHORIZED");
    assertError(await send("lsoc_live_not_a_real_key_0000000000", body()), 401, "UNAUTHORIZED");
    const basicWrong = "Basic " + Buffer.from("loki:wrong").toString("base64");
    assertError(await send(undefined, body(), { headers: { Authorization: basicWrong } }), 401, "UNAUTHORIZED");
  });

  test("HTTP Basic with the key as password, and Bearer, are accepted", async () => {
    const basic = "Basic " + Buffer.from(`any-user:${pro}`).toString("base64");
    const r1 = await send(undefined, body(), { headers: { Authorization: basic, "X-Scope-OrgID": "someone-else" } });
    assert.equal(r1.status, 204);
    assertPlanHeaders(r1);
    const r2 = await send(undefined, body(), { headers: { Authorization: `Bearer ${pro}` } });
    assert.equal(r2.status, 204);
    assert.equal((await logRows(await orgId("LokiPro"), "service = 'authcheck'")).length, 2);
  });
});

// ---- Loki's protobuf push, built here as Promtail builds it: a logproto.PushRequest encoded by
// hand (docs/dashboard.md §7.1) and framed in snappy's block format (literal chunks only: valid
// snappy, uncompressed).

const varint = (n) => {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const field = (tag, payload) => [...varint((tag << 3) | 2), ...varint(payload.length), ...payload];
const text = (s) => [...Buffer.from(s, "utf8")];
function pushRequest(streams) {
  return streams.flatMap(({ labels, entries }) => field(1, [
    ...field(1, text(labels)),
    ...entries.flatMap(({ ms, line, meta = {} }) => field(2, [
      ...field(1, [...varint(1 << 3), ...varint(Math.floor(ms / 1000)), ...varint(2 << 3), ...varint((ms % 1000) * 1_000_000)]),
      ...field(2, text(line)),
      ...Object.entries(meta).flatMap(([k, v]) => field(3, [...field(1, text(k)), ...field(2, text(v))])),
    ])),
  ]));
}
function snappy(bytes) {
  const out = [...varint(bytes.length)];
  for (let i = 0; i < bytes.length; i += 60) {
    const chunk = bytes.slice(i, i + 60);
    out.push((chunk.length - 1) << 2, ...chunk);
  }
  return new Uint8Array(out);
}
const sendProto = (key, streams, headers = {}) => app.request(PATH, {
  method: "POST", key, headers: { "Content-Type": "application/x-protobuf", ...headers }, body: snappy(pushRequest(streams)),
});

describe("the shippers' default formats", () => {
  test("a protobuf push (Promtail, Alloy, Vector, winston-loki) is stored like a JSON one", async () => {
    const org = await orgId("LokiPro");
    const now = Date.now();
    const res = await sendProto(pro, [
      { labels: '{job="proto-sshd", host="web-1"}', entries: [
        { ms: now - 2000, line: "Failed password for invalid user oracle from 203.0.113.77 port 22 ssh2" },
        { ms: now - 1000, line: "Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2", meta: { trace_id: "t-1" } },
      ] },
      { labels: "{}", entries: [{ ms: now, line: '{"level":"info","msg":"proto no labels"}' }] },
    ], { "Content-Encoding": "snappy" });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assertPlanHeaders(res);
    const rows = await logRows(org, "(service = 'proto-sshd' OR message LIKE '%proto no labels%')");
    assert.equal(rows.length, 3);
    assert.equal(rows[0].type, "login_failure");
    assert.equal(rows[0].source_ip, "203.0.113.77");
    assert.equal(Math.abs(rows[1].ts - (now - 1000)) < 1000, true);
  });

  test("python-logging-loki's older JSON push (labels and entries) is stored", async () => {
    const org = await orgId("LokiPro");
    const res = await send(pro, { streams: [{ labels: '{application="py-app", logger="root", severity="error"}',
      entries: [{ ts: new Date().toISOString(), line: "py-v0 login failed for dana from 198.51.100.61" }] }] });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    const [row] = await logRows(org, "message LIKE 'py-v0%'");
    assert.equal(row.service, "py-app", "its application tag names the service");
  });

  test("a push that holds no entry is a 400 naming it, never a 204 that stores nothing", async () => {
    for (const body of [{ streams: [] }, { streams: [{ stream: { job: "x" } }] }, { streams: [{ stream: { job: "x" }, values: [] }] }]) {
      const res = await send(pro, body);
      assertError(res, 400, "VALIDATION_ERROR");
      assert.equal(res.body.error.details[0].field, "streams");
    }
    assertError(await sendProto(pro, []), 400, "VALIDATION_ERROR");
    const bad = await sendProto(pro, [{ labels: "job=x", entries: [{ ms: Date.now(), line: "x" }] }]);
    assertError(bad, 400, "VALIDATION_ERROR");
    assert.equal(bad.body.error.details[0].field, "streams[0].labels");
  });
});

describe("errors", () => {
  const line = () => [ns(Date.now()), "should never be stored"];

  test("400 for a protobuf body that is not snappy; 415 for JSON in snappy and other types", async () => {
    const proto = await app.request(PATH, {
      method: "POST", key: pro,
      headers: { "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy" },
      body: new Uint8Array([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]),
    });
    assertError(proto, 400, "VALIDATION_ERROR");
    assertPlanHeaders(proto);
    const snappy = await send(pro, { streams: [{ values: [line()] }] }, { headers: { "Content-Encoding": "snappy" } });
    assertError(snappy, 415, "UNSUPPORTED_MEDIA_TYPE");
    assert.match(snappy.body.message, /snappy/);
    const text = await send(pro, "{}", { headers: { "Content-Type": "text/plain" } });
    assertError(text, 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  test("413 when the body inflates past 4 MiB (a small gzip)", async () => {
    const big = JSON.stringify({ streams: [{ stream: { service: "bomb" }, values: [[ns(Date.now()), "a".repeat(5 * 1024 * 1024)]] }] });
    const res = await send(pro, big, { gzip: true });
    assertError(res, 413, "PAYLOAD_TOO_LARGE");
    assertPlanHeaders(res);
    assert.equal((await logRows(await orgId("LokiPro"), "service = 'bomb'")).length, 0);
  });

  test("413 for more than 10,000 entries", async () => {
    const values = Array.from({ length: 10_001 }, (_, i) => [ns(Date.now() - i), `l${i}`]);
    const res = await send(pro, { streams: [{ stream: { service: "many" }, values }] });
    assertError(res, 413, "PAYLOAD_TOO_LARGE");
    assert.equal((await logRows(await orgId("LokiPro"), "service = 'many'")).length, 0);
  });

  test("10,000 entries are accepted in one push", async () => {
    const now = Date.now();
    const values = Array.from({ length: 10_000 }, (_, i) => [ns(now - i), `GET /item/${i} 200`]);
    const res = await send(pro, { streams: [{ stream: { service: "tenk" }, values }] }, { gzip: true });
    assert.equal(res.status, 204);
    assert.equal(await app.count("SELECT count(*) FROM logs WHERE service = 'tenk'"), 10_000);
  });

  test("400 for bodies that are not a Loki push", async () => {
    assertError(await send(pro, "not json"), 400, "VALIDATION_ERROR");
    assertError(await send(pro, { nope: [] }), 400, "VALIDATION_ERROR");
    const bad = await send(pro, { streams: [{ values: [line(), ["yesterday", "x"]] }] });
    assertError(bad, 400, "VALIDATION_ERROR");
    assert.equal(bad.body.error.details[0].field, "streams[0].values[1]");
    const badGzip = await app.request(PATH, { method: "POST", key: pro, headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" }, body: "plain" });
    assertError(badGzip, 400, "VALIDATION_ERROR");
  });

  test("wrong method is 405", async () => {
    assertError(await app.request(PATH, { key: pro }), 405, "METHOD_NOT_ALLOWED");
  });
});

describe("events and detection", () => {
  test("stored events become log items once, in their own row, even when redelivered", async () => {
    const res = await app.collect(pro, {
      event: "authz.role_changed", actor: "dana", user_ip: "203.0.113.70",
      metadata: { service: "iam-api", new_role: "admin", hostname: "iam-1", status_code: 200 },
    });
    assert.equal(res.status, 202);
    const id = res.body.event_ids[0];
    const row = await app.eventually(() => app.db.prepare("SELECT * FROM items WHERE event_id = ?").bind(id).first());
    assert.ok(row, "the consumer wrote the log item");
    assert.deepEqual(
      { type: row.type, action: row.action, level: row.level, service: row.service, namespace: row.namespace,
        source_ip: row.source_ip, user: row.user, hostname: row.hostname, status_code: row.status_code,
        resource: row.resource, event_name: row.event_name },
      { type: "iam_change", action: "role_escalated", level: "critical", service: "iam-api", namespace: "litesoc",
        source_ip: "203.0.113.70", user: "dana", hostname: "iam-1", status_code: 200,
        resource: "admin", event_name: "authz.role_changed" },
    );
    const out = await app.queue([await app.acceptedMessage(id), await app.acceptedMessage(id)]);
    assert.equal(out.retryMessages.length, 0);
    assert.equal(await app.count("SELECT count(*) FROM items WHERE event_id = ?", id), 1);
    assert.equal(await app.count("SELECT count(*) FROM logs WHERE event_id IS NOT NULL"), 0, "no copy in `logs`");
  });

  test("five `Failed password` lines from one IP raise one brute_force_attack alert", async () => {
    const t = Date.now() - 2 * MIN;
    const values = Array.from({ length: 5 }, (_, i) => [ns(t + i * 1000), `sshd[811]: Failed password for root from 198.51.100.77 port ${40000 + i} ssh2`]);
    const four = await send(pro, { streams: [{ stream: { service: "sshd" }, values: values.slice(0, 4) }] });
    assert.equal(four.status, 204);
    const none = await app.request("/alerts?alert_type=brute_force_attack", { key: pro });
    assert.equal(none.body.data.filter((a) => a.source_ip === "198.51.100.77").length, 0, "four stay below the threshold");

    assert.equal((await send(pro, { streams: [{ stream: { service: "sshd" }, values: values.slice(4) }] })).status, 204);
    const list = await app.request("/alerts?alert_type=brute_force_attack", { key: pro });
    const alerts = list.body.data.filter((a) => a.source_ip === "198.51.100.77");
    assert.equal(alerts.length, 1, JSON.stringify(list.body.data));
    const a = alerts[0];
    assert.equal(a.severity, "high");
    assert.equal(a.status, "open");
    const { event_ids, first_failure_at, last_failure_at, ...counts } = a.metadata.evidence;
    // The sshd parser reads the account tried (docs/dashboard.md §7.5).
    assert.deepEqual(counts, { count: 5, threshold: 5, window_minutes: 5, key: "ip", accounts: [{ actor_id: "root", count: 5 }],
      accounts_total: 1, source_ips: [{ ip: "198.51.100.77", count: 5 }], source_ips_total: 1 });
    const lines = await logRows(await orgId("LokiPro"), "source_ip = '198.51.100.77'");
    assert.deepEqual(event_ids, lines.map((l) => `${l.id}-${Math.floor(l.ts / 1000)}`), "every line behind it");
    assert.ok(first_failure_at < last_failure_at);
    const fifth = lines.at(-1);
    assert.equal(a.trigger_event_id, `${fifth.id}-${Math.floor(fifth.ts / 1000)}`, "the trigger is the fifth line's item id");

    // More failures fold into the same alert.
    const more = [[ns(t + 10_000), "Failed password for root from 198.51.100.77 port 1 ssh2"]];
    assert.equal((await send(pro, { streams: [{ values: more }] })).status, 204);
    const again = (await app.request("/alerts?alert_type=brute_force_attack", { key: pro })).body.data
      .filter((x) => x.source_ip === "198.51.100.77");
    assert.equal(again.length, 1);
    assert.equal(again[0].metadata.occurrences, 2);
    assert.equal(again[0].metadata.evidence.count, 6);
  });

  test("one push in which forty IPs each brute-force raises forty alerts, each counting every line past the threshold", async () => {
    const t = Date.now() - 3 * MIN;
    const values = [];
    for (let ip = 0; ip < 40; ip++) {
      for (let i = 0; i < 7; i++) values.push([ns(t + i * 1000 + ip), `Failed password for root from 192.0.2.${ip} port ${i + 1} ssh2`]);
    }
    assert.equal((await send(pro, { streams: [{ stream: { service: "sshd" }, values }] })).status, 204);
    // Per IP; the 280 failures against root (the sshd parser reads the user) raise one per-account alert besides.
    const rows = await app.db.prepare("SELECT source_ip, metadata FROM alerts WHERE alert_type = 'brute_force_attack' AND source_ip LIKE '192.0.2.%' AND dedup_key LIKE 'ip:%'").all();
    assert.equal(new Set(rows.results.map((r) => r.source_ip)).size, 40, "every IP that crossed the threshold has its alert (a cap of 32 candidates dropped some)");
    assert.equal(rows.results.length, 40, "one alert per IP");
    // Lines 5, 6 and 7 each cross the threshold: three occurrences, like three events would be.
    for (const r of rows.results) assert.equal(JSON.parse(r.metadata).occurrences, 3, r.source_ip);
    const api = await app.request("/alerts?alert_type=brute_force_attack&limit=100", { key: pro });
    assert.equal(api.body.data.filter((a) => a.source_ip?.startsWith("192.0.2.") && a.metadata.evidence.key === "ip").length, 40);
    assert.equal(await app.count("SELECT count(*) FROM alerts WHERE alert_type = 'brute_force_attack' AND dedup_key = 'actor:root'"), 1);
  });

  test("sshd logins of one user from Berlin and an hour later from Sydney raise impossible travel; an SDK login after them is judged against them", async () => {
    // Two real ranges in the IP tables, located as scripts/import-ipdb stores them (keys: "4" + 8 hex digits).
    await app.db.batch([
      app.db.prepare("INSERT INTO ip_location (id, country_code, city, latitude, longitude) VALUES (990101, 'DE', 'Berlin', 52.52, 13.405)"),
      app.db.prepare("INSERT INTO ip_city (ip_start, ip_end, location_id) VALUES ('42d5a1c00', '42d5a1cff', 990101)"),
      app.db.prepare("INSERT INTO ip_location (id, country_code, city, latitude, longitude) VALUES (990102, 'AU', 'Sydney', -33.8688, 151.2093)"),
      app.db.prepare("INSERT INTO ip_city (ip_start, ip_end, location_id) VALUES ('467041000', '4670410ff', 990102)"),
    ]);
    const t = Date.now() - 90 * MIN;
    const berlin = [[ns(t), "sshd[4242]: Accepted publickey for erin from 45.90.28.14 port 51514 ssh2: ED25519 SHA256:x"]];
    assert.equal((await send(pro, { streams: [{ stream: { service: "bastion" }, values: berlin }] })).status, 204);
    const quiet = (await app.request("/alerts?alert_type=impossible_travel", { key: pro })).body.data;
    assert.equal(quiet.filter((a) => a.actor_id === "erin").length, 0, "one login is no travel");

    const sydney = [[ns(t + 60 * MIN), "sshd[977]: Accepted password for erin from 103.4.16.9 port 40022 ssh2"]];
    assert.equal((await send(pro, { streams: [{ stream: { service: "bastion" }, values: sydney }] })).status, 204);
    const lines = await logRows(await orgId("LokiPro"), "user = 'erin'");
    assert.deepEqual(lines.map((l) => [l.type, l.parser, l.geo, l.city, l.vpn, l.is_tor, l.threat_score]), [
      ["login_success", "sshd", "DE", "Berlin", 0, 0, 0], ["login_success", "sshd", "AU", "Sydney", 0, 0, 0]]);
    const list = (await app.request("/alerts?alert_type=impossible_travel", { key: pro })).body.data.filter((a) => a.actor_id === "erin");
    assert.equal(list.length, 1, JSON.stringify(list));
    const [a] = list;
    assert.equal(a.source_ip, "103.4.16.9");
    assert.equal(a.trigger_event_id, `${lines[1].id}-${Math.floor(lines[1].ts / 1000)}`, "the trigger is the Sydney line");
    assert.equal(a.metadata.city, "Sydney");
    assert.match(a.description, /Berlin/);
    assert.match(a.description, /Sydney/);
    // Australia is a country erin was never seen in: a geo anomaly too.
    const geo = (await app.request("/alerts?alert_type=geo_anomaly", { key: pro })).body.data.filter((x) => x.actor_id === "erin");
    assert.equal(geo.length, 1, JSON.stringify(geo));
    assert.equal(geo[0].metadata.evidence.country, "AU");

    // An SDK login by erin from Berlin half an hour after the Sydney line: judged against the lines.
    const res = await app.collect(pro, { event: "auth.login_success", actor: "erin", user_ip: "45.90.28.15" });
    assert.equal(res.status, 202);
    await app.eventually(async () => {
      const travel = (await app.request("/alerts?alert_type=impossible_travel", { key: pro })).body.data.filter((x) => x.actor_id === "erin");
      return travel.length === 1 && travel[0].metadata.occurrences === 2;
    });
  });

  test("a backlog of login lines pushed hours late raises its alerts at their own times, and the last hour's dashboard shows them", async () => {
    await app.db.batch([
      app.db.prepare("INSERT OR IGNORE INTO ip_location (id, country_code, city, latitude, longitude) VALUES (990103, 'US', 'Ashburn', 39.0438, -77.4874)"),
      app.db.prepare("INSERT OR IGNORE INTO ip_city (ip_start, ip_end, location_id) VALUES ('434000000', '4340000ff', 990103)"),
      app.db.prepare("INSERT OR IGNORE INTO ip_location (id, country_code, city, latitude, longitude) VALUES (990104, 'SG', 'Singapore', 1.3521, 103.8198)"),
      app.db.prepare("INSERT OR IGNORE INTO ip_city (ip_start, ip_end, location_id) VALUES ('42b000000', '42b0000ff', 990104)"),
    ]);
    const t = Date.now() - 5 * 60 * MIN;
    const values = [
      [ns(t), "sshd[1]: Accepted publickey for gwen from 52.0.0.10 port 50000 ssh2"],
      [ns(t + 30 * MIN), "sshd[2]: Accepted publickey for gwen from 43.0.0.20 port 50001 ssh2"],
    ];
    assert.equal((await send(pro, { streams: [{ stream: { service: "backfill" }, values }] })).status, 204);
    const [alert] = (await app.request("/alerts?alert_type=impossible_travel", { key: pro })).body.data.filter((a) => a.actor_id === "gwen");
    assert.ok(alert, "a travel alert");
    assert.equal(Date.parse(alert.created_at), t + 30 * MIN, "created at the activity's time");
    assert.equal(alert.metadata.last_seen, new Date(t + 30 * MIN).toISOString());
    assert.ok(Date.now() - Date.parse(alert.metadata.raised_at) < 60_000, "raised just now");
    // The window ends at the current second: the next second's read holds the alert.
    await app.eventually(async () => {
      const dash = await app.request("/ui/mock-data?hours=1&service=backfill", { key: pro });
      return dash.body.anomalies.some((a) => a.id === alert.id) && dash.body.stats.totalAnomalies >= 1;
    });
  });

  test("GET /logs returns the lines as received with what was extracted; GET /logs/:id one of them", async () => {
    // A page reads at most 5,000 lines and this organisation has pushed more since: walk the
    // cursor, as a client would.
    const lines = [];
    let list;
    for (let path = "/logs?user=erin&service=bastion"; path; ) {
      list = await app.request(path, { key: pro });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      lines.push(...list.body.data);
      const next = list.body.pagination.next_cursor;
      path = next && `/logs?user=erin&service=bastion&cursor=${next}`;
    }
    assertPlanHeaders(list);
    const [sydney, berlin] = lines;
    assert.equal(lines.length, 2);
    assert.match(sydney.message, /^sshd\[977\]: Accepted password for erin from 103\.4\.16\.9/);
    assert.deepEqual([sydney.type, sydney.parser, sydney.source_ip, sydney.geo, sydney.location.city, sydney.network.is_tor, sydney.threat_score],
      ["login_success", "sshd", "103.4.16.9", "AU", "Sydney", false, 0]);
    assert.ok(Date.parse(sydney.timestamp) > Date.parse(berlin.timestamp), "newest first");
    assert.deepEqual(list.body.pagination, { limit: 50, has_more: false, next_cursor: null, scanned: list.body.pagination.scanned });
    assert.ok(list.body.pagination.scanned <= 5000);
    assert.equal(list.body.meta.redacted, false);
    const one = await app.request(`/logs/${berlin.id}`, { key: pro });
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.data, berlin);
    assertError(await app.request(`/logs/${berlin.id}`, { key: free }), 404, "NOT_FOUND");
    assertError(await app.request("/logs?type=login", { key: pro }), 400, "VALIDATION_ERROR");
    // Free reads its own lines, without location or network intelligence.
    const freeList = await app.request("/logs?limit=1", { key: free });
    assert.equal(freeList.status, 200);
    assert.equal(freeList.body.meta.redacted, true);
    assert.deepEqual([freeList.body.data[0].geo, freeList.body.data[0].network], [null, null]);
  });

  test("failed-login events and lines count together", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await app.collect(mixed, { event: "auth.login_failed", actor: `u${i}`, user_ip: "203.0.113.88" });
      assert.equal(res.status, 202);
    }
    const org = await orgId("LokiMixed");
    await app.eventually(async () => (await logRows(org, "event_id IS NOT NULL")).length === 3);
    const values = [[ns(Date.now()), "Failed password for admin from 203.0.113.88 port 1"], [ns(Date.now() + 1), "Failed password for admin from 203.0.113.88 port 2"]];
    assert.equal((await send(mixed, { streams: [{ values }] })).status, 204);
    const list = (await app.request("/alerts?alert_type=brute_force_attack", { key: mixed })).body.data;
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.equal(list[0].metadata.evidence.count, 5);
  });
});
