// Organisations over two D1 databases (crates/core/src/shards.rs, docs/CAPACITY.md): "Home" on
// DB, the primary, and "Away" on DB_1. Each organisation's events, alerts, raw lines, audit
// entries and deliveries are stored on its own database and read from there, through the same
// API as everyone's; keys and the organisations themselves stay on the primary; the purge and
// the crons visit both; an organisation registered on a database the Worker does not list is
// an error, never a read of an empty database.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { orgIdFor } from "../../scripts/lib/keys.mjs";
import { receiver, start } from "./harness.mjs";

const DAY = 86_400_000;
const HOME = orgIdFor("Home");
const AWAY = orgIdFor("Away");

let app, primary, db1, home, away, rx;
before(async () => {
  rx = await receiver();
  // No network-list sources: the hourly cron this file runs reaches nothing off the machine.
  app = await start({ shards: ["DB_1"], bindings: { DELIVERY_BACKOFF_SECONDS: "1", NETWORK_LIST_SOURCES: "{}" } });
  primary = await app.shard("DB");
  db1 = await app.shard("DB_1");
  home = await app.createKey({ org: "Home", plan: "pro" });
  away = await app.createKey({ org: "Away", plan: "pro", shard: "DB_1" });
});
after(async () => {
  await app?.dispose();
  await rx?.close();
});

/** Rows of `table` of organisation `org` on the primary and on DB_1. */
async function where(table, org) {
  const sql = `SELECT count(*) AS n FROM ${table} WHERE org_id = ?`;
  return {
    primary: (await primary.prepare(sql).bind(org).first()).n,
    db1: (await db1.prepare(sql).bind(org).first()).n,
  };
}

const burst = (actor) => ({
  events: [
    { event: "auth.login_failed", actor, user_ip: "203.0.113.5" },
    { event: "admin.privilege_escalation", actor, user_ip: "203.0.113.5" },
  ],
});

test("each organisation's events and alerts are stored on its own database and read from there", async () => {
  const made = await app.request("/destinations", {
    method: "POST", key: away, body: { name: "away hook", kind: "webhook", url: `${rx.url}/away` },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  for (const [key, actor] of [[home, "home-user"], [away, "away-user"]]) {
    const res = await app.collect(key, burst(actor));
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
  await app.eventually(async () => {
    const [h, a] = [await where("alerts", HOME), await where("alerts", AWAY)];
    return h.primary === 1 && a.db1 === 1;
  });
  assert.deepEqual(await where("events", HOME), { primary: 2, db1: 0 });
  assert.deepEqual(await where("events", AWAY), { primary: 0, db1: 2 });
  assert.deepEqual(await where("alerts", AWAY), { primary: 0, db1: 1 });

  for (const [key, actor] of [[home, "home-user"], [away, "away-user"]]) {
    const events = await app.request("/events", { key });
    assert.equal(events.status, 200);
    assert.deepEqual(events.body.data.map((e) => e.actor.id), [actor, actor]);
    assert.equal(events.body.pagination.total, 2);
    const alerts = await app.request("/alerts", { key });
    assert.deepEqual(alerts.body.data.map((a) => a.actor_id), [actor]);
    const byId = await app.request(`/events/${events.body.data[0].id}`, { key: key === home ? away : home });
    assert.equal(byId.status, 404, "another organisation's event, on another database, is not found");
  }
  // The alert of the organisation on DB_1 reaches its destination (the delivery message names
  // the organisation, which routes it to DB_1).
  const got = await app.eventually(() => rx.requests.find((r) => r.path === "/away"), { timeoutMs: 8000 });
  assert.equal(JSON.parse(got.body).data.alert.actor_id, "away-user");
  assert.deepEqual(await where("deliveries", AWAY), { primary: 0, db1: 1 });
});

test("the dashboard, raw lines and the audit log of an organisation on DB_1 are DB_1's", async () => {
  const ns = `${BigInt(Date.now()) * 1_000_000n}`;
  const pushed = await app.request("/loki/api/v1/push", {
    method: "POST", key: away, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ streams: [{ stream: { service: "sshd" }, values: [[ns, "Failed password for root from 198.51.100.9 port 22 ssh2"]] }] }),
  });
  assert.equal(pushed.status, 204, JSON.stringify(pushed.body));
  assert.deepEqual(await where("logs", AWAY), { primary: 0, db1: 1 });

  const dash = await app.request("/ui/mock-data", { key: away });
  assert.equal(dash.status, 200);
  const text = JSON.stringify(dash.body);
  assert.ok(text.includes("away-user"), "the dashboard shows the organisation's own events");
  assert.ok(!text.includes("home-user"), "and nothing of the primary's organisation");

  // A key made through the API: the key on the primary, its audit entry on DB_1.
  const key = await app.request("/keys", { method: "POST", key: away, body: { name: "ci", scopes: ["ingest"] } });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  assert.equal(await app.count("SELECT count(*) FROM api_keys WHERE org_id = ?", AWAY), 2);
  assert.equal((await db1.prepare("SELECT count(*) AS n FROM api_keys").first()).n, 0);
  assert.deepEqual(await where("audit_log", AWAY), { primary: 0, db1: 2 });
  const audit = await app.request("/audit", { key: away });
  assert.deepEqual(audit.body.data.map((e) => e.action).sort(), ["destination.create", "key.create"]);
  const verified = await app.request("/audit/verify", { key: away });
  assert.equal(verified.status, 200);
  assert.equal(verified.body.data.valid, true, JSON.stringify(verified.body));
  assert.equal(verified.body.data.checked, 2);
  // The new key works, and its requests go to DB_1.
  const sent = await app.collect(key.body.data.key, { event: "auth.logout", actor: "away-ci" });
  assert.equal(sent.status, 202);
  await app.eventually(async () => (await where("events", AWAY)).db1 === 3);
});

test("a change whose audit entry DB_1 cannot take at once is answered, its entry kept on the primary until DB_1 takes it", async () => {
  const outbox = () => app.count("SELECT count(*) FROM audit_outbox WHERE org_id = ?", AWAY);
  const before = (await where("audit_log", AWAY)).db1;
  // DB_1's log is out of reach (renamed away) while a key is made and another revoked.
  await db1.prepare("ALTER TABLE audit_log RENAME TO audit_log_away").run();
  let made, revoked;
  try {
    made = await app.request("/keys", { method: "POST", key: away, body: { name: "deploy", scopes: ["ingest"] } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    revoked = await app.request(`/keys/${made.body.data.id}`, { method: "DELETE", key: away });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(await outbox(), 2, "both entries wait in the primary's outbox");
  } finally {
    await db1.prepare("ALTER TABLE audit_log_away RENAME TO audit_log").run();
  }
  // The hourly cron appends them (and a read of the log would have), once each, in order.
  const res = await app.scheduled(Date.now(), "41 * * * *");
  assert.equal(res.outcome, "ok");
  assert.equal(await outbox(), 0);
  const audit = await app.request("/audit", { key: away });
  assert.deepEqual(audit.body.data.slice(0, 2).map((e) => e.action), ["key.revoke", "key.create"]);
  assert.equal((await where("audit_log", AWAY)).db1, before + 2);
  const verified = await app.request("/audit/verify", { key: away });
  assert.equal(verified.body.data.valid, true, JSON.stringify(verified.body));
});

test("the purge empties each organisation's rows on its own database", async () => {
  const res = await app.scheduled(Date.now() + 200 * DAY);
  assert.equal(res.outcome, "ok");
  for (const table of ["events", "logs", "alerts", "deliveries"]) {
    assert.deepEqual(await where(table, AWAY), { primary: 0, db1: 0 }, table);
    assert.deepEqual(await where(table, HOME), { primary: 0, db1: 0 }, table);
  }
  assert.equal(await app.count("SELECT count(*) FROM orgs WHERE id IN (?, ?)", HOME, AWAY), 2, "organisations stay");
});

test("an organisation registered on a database the Worker does not list is refused, not read empty", async () => {
  const stray = await app.createKey({ org: "Stray", plan: "pro" });
  await app.db.prepare("UPDATE orgs SET shard = 'DB_9' WHERE id = ?").bind(orgIdFor("Stray")).run();
  const res = await app.request("/events", { key: stray });
  assert.equal(res.status, 500, JSON.stringify(res.body));
  assert.equal(res.body.success, false);
  const sent = await app.collect(stray, { event: "auth.logout", actor: "stray-user" });
  assert.equal(sent.status, 500, "events that could not be stored are not accepted");
  assert.deepEqual(await where("events", orgIdFor("Stray")), { primary: 0, db1: 0 });
});
