// Alert delivery end to end: destinations through the API, alerts raised by /collect, and real
// HTTP deliveries to receivers on 127.0.0.1 (the network rule for tests: loopback only). The
// Standard Webhooks signature is checked with node:crypto here and with PyPI's
// `standardwebhooks` (an independent implementation) in tests/sdk/test_webhooks.py.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { receiver, start } from "./harness.mjs";

/** Standard Webhooks verification, written from the specification. */
function verify(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const expected = createHmac("sha256", key).update(signed).digest();
  return headers["webhook-signature"].split(" ").some((s) => {
    const [version, sig] = s.split(",");
    const got = Buffer.from(sig ?? "", "base64");
    return version === "v1" && got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const PAGERDUTY_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12";

let app, rx, pd, pro, other, free;
before(async () => {
  pd = await receiver();
  app = await start({
    email: true,
    bindings: {
      DELIVERY_BACKOFF_SECONDS: "1", DELIVERY_MAX_ATTEMPTS: "3", DELIVERY_TIMEOUT_MS: "400",
      PAGERDUTY_EVENTS_URL: `${pd.url}/v2/enqueue`, EMAIL_FROM: "alerts@edgesoc.test",
    },
  });
  pro = await app.createKey({ org: "Delivering", plan: "pro" });
  other = await app.createKey({ org: "Neighbour", plan: "pro" });
  free = await app.createKey({ org: "Frugal", plan: "free" });
  rx = await receiver();
});
after(async () => {
  await app.dispose();
  await rx.close();
  await pd.close();
});

const create = (key, body) => app.request("/destinations", { method: "POST", key, body });
const until = (fn, timeoutMs = 8000) => app.eventually(fn, { timeoutMs, intervalMs: 25 });

describe("destinations", () => {
  test("a new user adds a webhook, sends an instant-alert event, and a signed POST arrives within 2 s", async () => {
    const made = await create(pro, { name: "SOC hook", kind: "webhook", url: `${rx.url}/hook`, min_severity: "high" });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { id, secret } = made.body.data;
    assert.match(id, /^dst_[0-9a-f]{32}$/);
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(made.body.data.url, `${rx.url}/hook`);
    const before = rx.requests.length;
    const sent = await app.collect(pro, { event: "admin.privilege_escalation", actor: "mallory", user_ip: "203.0.113.66" });
    assert.equal(sent.status, 202);
    const accepted = Date.now();
    const got = await until(() => rx.requests.slice(before).find((r) => r.path === "/hook"));
    assert.ok(got, "the receiver got the alert");
    assert.ok(got.at - accepted <= 2000, `arrived ${got.at - accepted} ms after the 202`);
    assert.ok(verify(secret, got.headers, got.body), "Standard Webhooks signature");
    assert.ok(Math.abs(Number(got.headers["webhook-timestamp"]) * 1000 - Date.now()) < 60_000);
    const body = JSON.parse(got.body);
    assert.equal(body.type, "alert.raised");
    assert.equal(body.data.alert.alert_type, "privilege_escalation");
    assert.equal(body.data.alert.actor_id, "mallory");
    assert.equal(body.data.events[0].id, sent.body.event_ids[0]);
    assert.equal(body.data.links.alert, `http://edgesoc.test/?alert=${body.data.alert.id}`);
    // The same alert can be read through the API, and the delivery is in the log.
    const log = await until(async () => {
      const l = await app.request(`/destinations/${id}/deliveries`, { key: pro });
      return l.body.data?.length ? l : null;
    });
    assert.equal(log.body.data[0].outcome, "delivered");
    assert.equal(log.body.data[0].status, 200);
    assert.equal(log.body.data[0].delivery_status, "delivered");
    assert.equal(log.body.data[0].delivery_id, got.headers["webhook-id"]);
    await app.request(`/destinations/${id}`, { method: "DELETE", key: pro });
  });

  test("503 twice then 200: three attempts with one webhook-id and exactly one delivery", async () => {
    const { body: { data: d } } = await create(pro, { name: "flaky", kind: "webhook", url: `${rx.url}/flaky` });
    rx.script.push({ status: 503 }, { status: 503, headers: { "Retry-After": "1" } });
    const before = rx.requests.length;
    await app.collect(pro, { event: "security.suspicious_activity", actor: "flaky-actor", user_ip: "203.0.113.80" });
    const mine = () => rx.requests.slice(before).filter((r) => r.path === "/flaky");
    assert.ok(await until(() => mine().length >= 3, 12_000), `attempts: ${mine().length}`);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more arrives
    assert.equal(mine().length, 3);
    assert.equal(new Set(mine().map((r) => r.headers["webhook-id"])).size, 1, "one id on every retry");
    const log = (await app.request(`/destinations/${d.id}/deliveries`, { key: pro })).body.data;
    assert.deepEqual(log.map((a) => a.outcome), ["delivered", "retry", "retry"]);
    assert.deepEqual(log.map((a) => a.status), [200, 503, 503]);
    assert.ok(log[1].next_retry_at && log[2].next_retry_at);
    assert.equal(await app.count("SELECT count(*) FROM deliveries WHERE destination_id = ? AND status = 'delivered'", d.id), 1);
    await app.request(`/destinations/${d.id}`, { method: "DELETE", key: pro });
  });

  test("a receiver that hangs times out, is retried and lands in the dead-letter state", async () => {
    const { body: { data: d } } = await create(pro, { name: "hangs", kind: "webhook", url: `${rx.url}/hang` });
    rx.script.push({ hang: true }, { hang: true }, { hang: true });
    const before = rx.requests.length;
    await app.collect(pro, { event: "data.bulk_delete", actor: "hang-actor", user_ip: "203.0.113.81" });
    const dead = await until(async () => {
      const log = (await app.request(`/destinations/${d.id}/deliveries`, { key: pro })).body.data;
      return log.find((a) => a.outcome === "dead") ? log : null;
    }, 15_000);
    assert.ok(dead, "dead after the last attempt");
    assert.deepEqual(dead.map((a) => [a.outcome, a.error]), [["dead", "timed out"], ["retry", "timed out"], ["retry", "timed out"]]);
    assert.equal(rx.requests.slice(before).filter((r) => r.path === "/hang").length, 3);
    assert.equal(dead[0].delivery_status, "dead");
    await app.request(`/destinations/${d.id}`, { method: "DELETE", key: pro });
  });

  test("filters are honoured; a disabled or deleted destination gets nothing", async () => {
    const mk = async (path, extra) => (await create(pro, { name: path, kind: "webhook", url: `${rx.url}/${path}`, ...extra })).body.data;
    const travel = await mk("only-travel", { alert_types: ["impossible_travel"] });
    const critical = await mk("only-critical", { min_severity: "critical" });
    const off = await mk("disabled", {});
    const gone = await mk("deleted", {});
    assert.equal((await app.request(`/destinations/${off.id}`, { method: "PATCH", key: pro, body: { enabled: false } })).body.data.enabled, false);
    assert.equal((await app.request(`/destinations/${gone.id}`, { method: "DELETE", key: pro })).status, 200);
    const before = rx.requests.length;
    // A high-severity alert of another type: none of the four may hear it.
    await app.collect(pro, { event: "security.suspicious_activity", actor: "filter-actor", user_ip: "203.0.113.82" });
    // A critical one: only `only-critical` hears it.
    await app.collect(pro, { event: "data.sensitive_access", actor: "filter-actor", user_ip: "203.0.113.82" });
    await until(() => rx.requests.slice(before).some((r) => r.path === "/only-critical"));
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual([...new Set(rx.requests.slice(before).map((r) => r.path))], ["/only-critical"]);
    assert.equal((await app.request(`/destinations/${gone.id}`, { key: pro })).status, 404);
    for (const d of [travel, critical, off]) await app.request(`/destinations/${d.id}`, { method: "DELETE", key: pro });
  });

  test("refused targets are 400 naming the field; Free is 403 PLAN_RESTRICTED", async () => {
    for (const [body, field] of [
      [{ name: "x", kind: "webhook", url: "https://10.0.0.1/h" }, "url"],
      [{ name: "x", kind: "webhook", url: "https://169.254.169.254/latest/meta-data/" }, "url"],
      [{ name: "x", kind: "webhook", url: "https://metadata.google.internal/" }, "url"],
      [{ name: "x", kind: "webhook", url: "file:///etc/passwd" }, "url"],
      [{ name: "x", kind: "webhook", url: "http://example.com/h" }, "url"],
      [{ name: "x", kind: "slack", url: "https://[::ffff:192.168.0.1]/" }, "url"],
      [{ name: "x", kind: "pagerduty", routing_key: "nope" }, "routing_key"],
      [{ name: "x".repeat(101), kind: "webhook", url: "https://example.com/" }, "name"],
      [{ name: "x", kind: "sms", url: "https://example.com/" }, "kind"],
    ]) {
      const res = await create(pro, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.details[0].field, field, JSON.stringify(body));
    }
    const restricted = await create(free, { name: "x", kind: "webhook", url: "https://example.com/" });
    assert.equal(restricted.status, 403);
    assert.equal(restricted.body.error.code, "PLAN_RESTRICTED");
    assert.equal((await app.request("/destinations", { key: free })).status, 403);
  });

  test("in production mode (no DELIVERY_ALLOW_HTTP_LOOPBACK) plain http to loopback is refused", async () => {
    const prod = await start({ bindings: { DELIVERY_ALLOW_HTTP_LOOPBACK: "" } });
    try {
      const key = await prod.createKey({ org: "Prod", plan: "pro" });
      for (const url of [`${rx.url}/h`, "http://localhost:9/h", "https://127.0.0.1/h"]) {
        const res = await prod.request("/destinations", { method: "POST", key, body: { name: "x", kind: "webhook", url } });
        assert.equal(res.status, 400, url);
        assert.equal(res.body.error.details[0].field, "url");
      }
    } finally {
      await prod.dispose();
    }
  });

  test("another organisation can neither list, read, change, test, rotate, delete nor read the log of a destination", async () => {
    const { body: { data: d } } = await create(pro, { name: "private", kind: "webhook", url: `${rx.url}/private` });
    assert.ok(!(await app.request("/destinations", { key: other })).body.data.some((x) => x.id === d.id));
    for (const [method, path, body] of [
      ["GET", `/destinations/${d.id}`], ["PATCH", `/destinations/${d.id}`, { name: "mine" }],
      ["DELETE", `/destinations/${d.id}`], ["POST", `/destinations/${d.id}/test`],
      ["POST", `/destinations/${d.id}/rotate-secret`], ["GET", `/destinations/${d.id}/deliveries`],
    ]) {
      const res = await app.request(path, { method, key: other, ...(body ? { body } : {}) });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, "NOT_FOUND");
    }
    const still = await app.request(`/destinations/${d.id}`, { key: pro });
    assert.equal(still.body.data.name, "private");
    await app.request(`/destinations/${d.id}`, { method: "DELETE", key: pro });
  });

  test("the test button answers the receiver's status and latency and logs the attempt; rotation changes the secret", async () => {
    const made = (await create(pro, { name: "button", kind: "webhook", url: `${rx.url}/button` })).body.data;
    rx.script.push({ status: 418 });
    const t = await app.request(`/destinations/${made.id}/test`, { method: "POST", key: pro });
    assert.equal(t.status, 200);
    assert.equal(t.body.data.status, 418);
    assert.equal(t.body.data.delivered, false);
    assert.ok(Number.isInteger(t.body.data.latency_ms));
    const got = rx.requests.at(-1);
    assert.equal(JSON.parse(got.body).type, "alert.test");
    assert.ok(verify(made.secret, got.headers, got.body));
    const rotated = await app.request(`/destinations/${made.id}/rotate-secret`, { method: "POST", key: pro });
    assert.notEqual(rotated.body.data.secret, made.secret);
    await app.request(`/destinations/${made.id}/test`, { method: "POST", key: pro });
    const again = rx.requests.at(-1);
    assert.ok(verify(rotated.body.data.secret, again.headers, again.body));
    assert.ok(!verify(made.secret, again.headers, again.body), "the old secret no longer signs");
    const log = (await app.request(`/destinations/${made.id}/deliveries`, { key: pro })).body.data;
    assert.deepEqual(log.map((a) => a.status), [200, 418]);
    assert.ok(!JSON.stringify((await app.request("/destinations", { key: pro })).body).includes("whsec_"), "secrets are never listed");
    await app.request(`/destinations/${made.id}`, { method: "DELETE", key: pro });
  });
});

describe("PagerDuty, Slack, email and the alert workflow", () => {
  test("PagerDuty gets a trigger with the alert id as dedup_key, and a resolve when the alert is resolved", async () => {
    const d = (await create(pro, { name: "pd", kind: "pagerduty", routing_key: PAGERDUTY_KEY })).body.data;
    assert.equal(d.routing_key, "…EY12");
    const before = pd.requests.length;
    await app.collect(pro, { event: "admin.privilege_escalation", actor: "pd-actor", user_ip: "203.0.113.90" });
    const trigger = await until(() => pd.requests.slice(before).find((r) => JSON.parse(r.body).event_action === "trigger"));
    const t = JSON.parse(trigger.body);
    assert.equal(t.routing_key, PAGERDUTY_KEY);
    assert.equal(t.payload.severity, "critical");
    const alert = (await app.request(`/alerts/${t.dedup_key}`, { key: pro })).body.data;
    assert.equal(alert.actor_id, "pd-actor");
    // Acknowledge, then resolve: PagerDuty hears the resolve once.
    const ack = await app.request(`/alerts/${alert.id}`, { method: "PATCH", key: pro, body: { action: "acknowledge", resolved_by: "dana" } });
    assert.equal(ack.status, 200);
    assert.equal(ack.body.data.status, "acknowledged");
    assert.equal(ack.body.data.acknowledged_by, pro.slice(0, 14), "the caller, not the body");
    assert.ok(ack.body.data.acknowledged_at);
    const listed = (await app.request("/alerts?status=acknowledged", { key: pro })).body.data;
    assert.ok(listed.some((a) => a.id === alert.id));
    await app.request(`/alerts/${alert.id}`, { method: "PATCH", key: pro, body: { status: "resolved" } });
    const resolve = await until(() => pd.requests.slice(before).find((r) => JSON.parse(r.body).event_action === "resolve"));
    assert.deepEqual(JSON.parse(resolve.body), { routing_key: PAGERDUTY_KEY, event_action: "resolve", dedup_key: alert.id });
    await app.request(`/destinations/${d.id}`, { method: "DELETE", key: pro });
  });

  test("an acknowledged alert still absorbs new occurrences instead of opening another", async () => {
    await app.collect(pro, { event: "security.suspicious_activity", actor: "ack-actor", user_ip: "203.0.113.91" });
    const [a] = await app.eventually(async () => {
      const l = (await app.request("/alerts?actor_id=ack-actor", { key: pro })).body.data;
      return l.length ? l : null;
    });
    await app.request(`/alerts/${a.id}`, { method: "PATCH", key: pro, body: { status: "acknowledged" } });
    await app.collect(pro, { event: "security.suspicious_activity", actor: "ack-actor", user_ip: "203.0.113.91" });
    const after = await app.eventually(async () => {
      const l = (await app.request("/alerts?actor_id=ack-actor", { key: pro })).body.data;
      return l[0]?.metadata.occurrences === 2 ? l : null;
    });
    assert.equal(after.length, 1);
    assert.equal(after[0].status, "acknowledged");
  });

  test("Slack gets Block Kit with escaped text; email goes through the send_email binding", async () => {
    const slack = (await create(pro, { name: "slack", kind: "slack", url: `${rx.url}/slack` })).body.data;
    const mail = (await create(pro, { name: "mail", kind: "email", address: "soc@edgesoc.test" })).body.data;
    const before = rx.requests.length;
    await app.collect(pro, { event: "admin.privilege_escalation", actor: "<!channel> eve", user_ip: "203.0.113.92" });
    const got = await until(() => rx.requests.slice(before).find((r) => r.path === "/slack"));
    const body = JSON.parse(got.body);
    assert.equal(body.blocks[0].type, "header");
    assert.ok(!got.body.includes("<!channel>"), "no mention injected");
    assert.ok(got.body.includes("&lt;!channel&gt; eve"));
    const delivered = await until(async () => {
      const log = (await app.request(`/destinations/${mail.id}/deliveries`, { key: pro })).body.data;
      return log.find((a) => a.outcome === "delivered");
    });
    assert.ok(delivered, "the email binding accepted the message");
    for (const d of [slack, mail]) await app.request(`/destinations/${d.id}`, { method: "DELETE", key: pro });
  });
});
