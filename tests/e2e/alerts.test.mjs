// Detection in the queue consumer and the alerts API, end to end: events go in through
// POST /collect, the real queue runs the consumer, alerts come out of GET /alerts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { start } from "./harness.mjs";

let app, pro, other, free;
before(async () => {
  app = await start();
  pro = await app.createKey({ org: "AlertPro", plan: "pro" });
  other = await app.createKey({ org: "AlertOther", plan: "pro" });
  free = await app.createKey({ org: "AlertFree", plan: "free" });
});
after(() => app.dispose());

const alerts = async (key, qs = "") => (await app.request(`/alerts${qs}`, { key })).body;

async function alertsEventually(key, qs, n) {
  return app.eventually(async () => {
    const body = await alerts(key, qs);
    return body.data.length >= n ? body.data : null;
  });
}

describe("detection through the queue", () => {
  test("a brute-force burst from one IP raises one alert that counts the burst", async () => {
    const ids = [];
    for (let i = 0; i < 6; i++) {
      const res = await app.collect(pro, { event: "auth.login_failed", actor: `victim${i}`, user_ip: "198.51.100.77" });
      assert.equal(res.status, 202);
      ids.push(res.body.event_ids[0]);
    }
    await app.settle();
    const list = await alerts(pro, "?alert_type=brute_force");
    assert.equal(list.data.length, 1, JSON.stringify(list.data));
    const a = list.data[0];
    assert.equal(a.alert_type, "brute_force_attack");
    assert.equal(a.severity, "high");
    assert.equal(a.status, "open");
    assert.equal(a.source_ip, "198.51.100.77");
    assert.equal(a.trigger_event_id, ids[4], "the fifth failure crosses the threshold");
    const { accounts, event_ids, first_failure_at, last_failure_at, ...counts } = a.metadata.evidence;
    assert.deepEqual(counts, { count: 6, threshold: 5, window_minutes: 5, key: "ip", accounts_total: 6,
      source_ips: [{ ip: "198.51.100.77", count: 6 }], source_ips_total: 1 });
    assert.deepEqual(accounts.map((x) => x.actor_id), ["victim0", "victim1", "victim2", "victim3", "victim4", "victim5"]);
    assert.deepEqual(event_ids, ids, "every failure behind it, oldest first");
    assert.ok(first_failure_at < last_failure_at);
    assert.equal(a.metadata.occurrences, 2);
    assert.deepEqual(a.metadata.trigger_event_ids, [ids[4], ids[5]]);
    assert.equal(a.metadata.confidence, 75, "70 at the threshold, +5 for one more");
    assert.match(a.created_at, /Z$/);
  });

  test("a brute-force flood is one alert per key counting every failure, and a quiet key beside it still alerts", async () => {
    // 500 failures in 5 requests: the consumer sees queue batches of up to 250 events, reads
    // each key's history once per batch and folds the batch's candidates per key.
    const key = await app.createKey({ org: "AlertFlood", plan: "pro" });
    const flood = { event: "auth.login_failed", actor: "flooded", user_ip: "198.51.100.200" };
    for (let r = 0; r < 5; r++) {
      const res = await app.collect(key, { events: Array.from({ length: 100 }, () => flood) });
      assert.equal(res.status, 202);
    }
    const quiet = [];
    for (let i = 0; i < 5; i++) {
      quiet.push((await app.collect(key, { event: "auth.login_failed", actor: `quiet${i}`, user_ip: "198.51.100.201" })).body.event_ids[0]);
    }
    await app.settle();
    const list = (await alerts(key, "?alert_type=brute_force&limit=10")).data;
    assert.equal(list.length, 3, JSON.stringify(list.map((a) => a.title)));
    const ip = list.find((a) => a.title === "Brute force from 198.51.100.200");
    const account = list.find((a) => a.title === "Brute force against account flooded");
    // The events of one request share their acceptance time but keep their order (ids ascend in
    // request order): the n-th failure counts n, so all but the first 4 cross the per-IP
    // threshold of 5 and all but the first 9 the per-account threshold of 10.
    assert.equal(ip.metadata.occurrences, 496);
    assert.equal(account.metadata.occurrences, 491);
    assert.equal(ip.metadata.trigger_event_ids.length, 20);
    assert.equal(ip.metadata.evidence.count, 500, "the newest failure's evidence counts them all");
    const quietAlert = list.find((a) => a.title === "Brute force from 198.51.100.201");
    assert.ok(quietAlert, JSON.stringify(list.map((a) => a.title)));
    assert.equal(quietAlert.metadata.evidence.count, 5);
    assert.equal(quietAlert.trigger_event_id, quiet[4]);
    const triggers = await app.db.prepare("SELECT count(*) AS n FROM alert_triggers WHERE dedup_key IN ('ip:198.51.100.200', 'actor:flooded')").first();
    assert.equal(triggers.n, 496 + 491, "every trigger recorded once");
  });

  test("four failures stay below the threshold: no alert", async () => {
    for (let i = 0; i < 4; i++) await app.collect(other, { event: "auth.login_failed", actor: `x${i}`, user_ip: "198.51.100.5" });
    await app.settle();
    assert.equal((await alerts(other, "?alert_type=brute_force_attack")).data.length, 0);
  });

  test("an instant event raises its alert on every plan, Free included", async () => {
    const res = await app.collect(free, { event: "data.sensitive_access", actor: "insider", user_ip: "203.0.113.40" });
    const id = res.body.event_ids[0];
    const row = await app.eventually(() =>
      app.db.prepare("SELECT * FROM alerts WHERE trigger_event_id = ?").bind(id).first());
    assert.ok(row, "stored for the Free organisation");
    assert.equal(row.alert_type, "data_exfiltration");
    assert.equal(row.severity, "critical");
    const meta = JSON.parse(row.metadata);
    assert.equal(meta.confidence, 100);
    assert.deepEqual(meta.evidence, { event_name: "data.sensitive_access", event_id: id });
    assert.equal((await app.request("/alerts", { key: free })).status, 403, "but Free cannot read them");
  });

  test("redelivering the trigger never creates a second alert nor double-counts", async () => {
    const res = await app.collect(pro, { event: "admin.privilege_escalation", actor: "mallory", user_ip: "203.0.113.66" });
    const id = res.body.event_ids[0];
    const [alert] = await alertsEventually(pro, "?actor_id=mallory", 1);
    assert.equal(alert.alert_type, "privilege_escalation");
    const before = await app.db.prepare("SELECT * FROM events WHERE id = ?").bind(id).first();
    // The message production sent, delivered twice more: enriched, stored and detected again.
    const res2 = await app.queue([await app.acceptedMessage(id), await app.acceptedMessage(id)]);
    assert.equal(res2.retryMessages.length, 0);
    assert.equal(res2.explicitAcks.length, 2);
    const after = await alerts(pro, "?actor_id=mallory");
    assert.equal(after.data.length, 1);
    assert.equal(after.data[0].metadata.occurrences, 1);
    assert.deepEqual(await app.db.prepare("SELECT * FROM events WHERE id = ?").bind(id).first(), before, "the row is unchanged");
    assert.equal(await app.count("SELECT count(*) FROM items WHERE event_id = ?", id), 1);
  });
});

describe("the alerts API", () => {
  let alertId;
  before(async () => {
    const res = await app.collect(pro, { event: "security.suspicious_activity", actor: "eve", user_ip: "203.0.113.99" });
    [{ id: alertId }] = await alertsEventually(pro, "?actor_id=eve", 1);
    assert.ok(res.body.event_ids[0]);
  });

  test("list envelope, filters and 400s", async () => {
    const all = await app.request("/alerts?limit=1000", { key: pro });
    assert.equal(all.status, 200);
    assert.equal(all.body.pagination.limit, 500);
    assert.equal(all.body.meta.max_limit, 500);
    assert.ok(all.body.data.length >= 3);
    const crit = await alerts(pro, "?severity=critical&status=active");
    assert.ok(crit.data.length >= 2 && crit.data.every((a) => a.severity === "critical" && a.status === "open"));
    const byType = await alerts(pro, "?alert_type=suspicious_activity");
    assert.deepEqual(byType.data.map((a) => a.id), [alertId]);
    for (const [qs, field] of [["status=closed", "status"], ["severity=info", "severity"], ["alert_type=ddos", "alert_type"], ["limit=x", "limit"]]) {
      const res = await app.request(`/alerts?${qs}`, { key: pro });
      assert.equal(res.status, 400, qs);
      assert.equal(res.body.error.details[0].field, field);
    }
  });

  test("get by id, and 404 for malformed, unknown and other organisations' ids", async () => {
    const res = await app.request(`/alerts/${alertId}`, { key: pro });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.id, alertId);
    assert.equal(res.body.meta.plan, "pro");
    for (const [id, key] of [["nope", pro], [randomUUID(), pro], [alertId, other]]) {
      assert.equal((await app.request(`/alerts/${id}`, { key })).status, 404, id);
      assert.equal((await app.request(`/alerts/${id}`, { key, method: "PATCH", body: { status: "resolved" } })).status, 404);
    }
    assert.equal((await app.request(`/alerts/${alertId}`, { key: pro })).body.data.status, "open", "untouched by the foreign PATCH");
  });

  test("PATCH resolve (SDK style), mark safe (seed style) and reopen", async () => {
    const resolved = await app.request(`/alerts/${alertId}`, {
      key: pro, method: "PATCH",
      body: { action: "resolve", resolution_type: "blocked_ip", internal_notes: "blocked at the edge", resolved_by: "soc@acme" },
    });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    const r = resolved.body.data;
    assert.equal(r.status, "resolved");
    assert.equal(r.action, "resolve");
    assert.equal(r.resolution_type, "blocked_ip");
    assert.equal(r.resolved_by, pro.slice(0, 14), "the caller, not the body (docs/api.md §5.6)");
    assert.equal(r.metadata.resolved_by_note, "soc@acme", "the body's text kept as a note");
    assert.match(r.resolved_at, /Z$/);
    assert.equal(r.metadata.internal_notes, "blocked at the edge");
    assert.ok(r.updated_at >= r.created_at);

    const safe = (await app.request(`/alerts/${alertId}`, { key: pro, method: "PATCH", body: { status: "safe" } })).body.data;
    assert.deepEqual([safe.status, safe.action, safe.resolution_type, safe.resolved_at, safe.resolved_by],
      ["safe", "mark_safe", null, null, pro.slice(0, 14)]);
    assert.equal(safe.metadata.internal_notes, "blocked at the edge", "notes survive a status change");

    const reopened = (await app.request(`/alerts/${alertId}`, { key: pro, method: "PATCH", body: { status: "open" } })).body.data;
    assert.deepEqual([reopened.status, reopened.action, reopened.resolved_by], ["open", "reopen", null]);
  });

  test("PATCH validation names the field", async () => {
    for (const [body, field] of [[{}, "status"], [{ status: "closed" }, "status"], [{ status: "safe", action: "resolve" }, "action"],
      [{ action: "resolve", resolution_type: "nuked" }, "resolution_type"], [{ status: "resolved", internal_notes: "x".repeat(2001) }, "internal_notes"]]) {
      const res = await app.request(`/alerts/${alertId}`, { key: pro, method: "PATCH", body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.details[0].field, field);
    }
  });
});

test("failed-login events and raw log lines count together: four lines, then one event", async () => {
  const key = await app.createKey({ org: "Mixed", plan: "pro" });
  const now = BigInt(Date.now()) * 1_000_000n;
  const values = [0, 1, 2, 3].map((i) => [String(now - BigInt(60 - i) * 1_000_000_000n),
    `sshd[99]: Failed password for invalid user admin from 198.51.100.123 port 4${i}22 ssh2`]);
  const push = await app.request("/loki/api/v1/push", {
    method: "POST", key, headers: { "Content-Type": "application/json" },
    body: { streams: [{ stream: { service: "sshd", namespace: "edge" }, values }] },
  });
  assert.equal(push.status, 204);
  assert.equal((await alerts(key, "?alert_type=brute_force")).data.length, 0, "four failures: below the threshold");
  const res = await app.collect(key, { event: "auth.login_failed", actor: "admin", user_ip: "198.51.100.123" });
  const [alert] = await alertsEventually(key, "?alert_type=brute_force", 1);
  assert.equal(alert.trigger_event_id, res.body.event_ids[0], "the event is the fifth failure from the IP");
  assert.equal(alert.metadata.evidence.count, 5);
});
