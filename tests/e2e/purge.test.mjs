// The cron retention purge: per-plan cutoffs, chunked and resumable, safe to run twice, and
// using the trigger's scheduled time as "now".
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { orgIdFor } from "../../scripts/lib/keys.mjs";
import { start } from "./harness.mjs";

const DAY = 86_400_000;

async function seedRows(app, org, ageDays, n, now) {
  const rows = Array.from({ length: n }, () => ({
    id: randomUUID(), event_name: "a.b", category: "a", severity: "info",
    instant_alert: 0, metadata: {}, created_at: now - ageDays * DAY,
  }));
  await app.db.prepare(
    `INSERT INTO events (id, org_id, event_name, category, severity, instant_alert, metadata, created_at)
     SELECT json_extract(value,'$.id'), ?2, 'a.b', 'a', 'info', 0, '{}',
            json_extract(value,'$.created_at') FROM json_each(?1)`).bind(JSON.stringify(rows), orgIdFor(org)).run();
}

const count = (app, org) => app.count("SELECT count(*) FROM events WHERE org_id = ?", orgIdFor(org));

test("each plan keeps exactly its retention; a second run changes nothing", async () => {
  const app = await start();
  try {
    const now = Date.now();
    await app.createKey({ org: "F", plan: "free" });
    await app.createKey({ org: "P", plan: "pro" });
    await app.createKey({ org: "C", plan: "custom", retentionDays: 3 });
    for (const [org, ages] of [["F", [1, 6.9, 7.1, 20]], ["P", [1, 29.9, 30.1, 45]], ["C", [1, 2.9, 3.1, 10]]]) {
      for (const age of ages) await seedRows(app, org, age, 5, now);
    }
    const res = await app.scheduled(now);
    assert.equal(res.outcome, "ok");
    assert.deepEqual([await count(app, "F"), await count(app, "P"), await count(app, "C")], [10, 10, 10]);
    await app.scheduled(now);
    assert.deepEqual([await count(app, "F"), await count(app, "P"), await count(app, "C")], [10, 10, 10]);
    // The scheduled time is "now": ten days later Free and Custom are empty and Pro keeps only
    // its 1-day-old rows (its 29.9-day-old rows are now 39.9 days old).
    await app.scheduled(now + 10 * DAY);
    assert.deepEqual([await count(app, "F"), await count(app, "P"), await count(app, "C")], [0, 5, 0]);
  } finally {
    await app.dispose();
  }
});

test("chunked deletes resume across runs when the statement budget runs out", async () => {
  // 4 statements: the commit-record purge, then 3 chunks of 4 rows.
  const app = await start({ bindings: { PURGE_CHUNK_ROWS: "4", PURGE_MAX_STATEMENTS: "4" } });
  try {
    const now = Date.now();
    await app.createKey({ org: "Big", plan: "free" });
    await seedRows(app, "Big", 30, 25, now);
    await seedRows(app, "Big", 1, 3, now);
    await app.scheduled(now);
    assert.equal(await count(app, "Big"), 28 - 12, "3 statements x 4 rows");
    await app.scheduled(now);
    assert.equal(await count(app, "Big"), 28 - 24);
    await app.scheduled(now);
    assert.equal(await count(app, "Big"), 3, "only the fresh rows remain");
  } finally {
    await app.dispose();
  }
});

test("alerts, their trigger records and dashboard log items are purged with the events", async () => {
  const app = await start();
  try {
    const key = await app.createKey({ org: "Everything", plan: "free" });
    const res = await app.collect(key, { event: "data.bulk_delete", actor: "ex-employee", user_ip: "203.0.113.8" });
    assert.equal(res.status, 202);
    await app.settle();
    const org = orgIdFor("Everything");
    // `items`: the event's dashboard log item, held in its row (migrations/0019_events_stored_once.sql).
    const tables = ["events", "items", "alerts", "alert_triggers"];
    const counts = async () => Promise.all(tables.map((t) => app.count(`SELECT count(*) FROM ${t} WHERE org_id = ?`, org)));
    assert.deepEqual(await counts(), [1, 1, 1, 1], "one of each before");
    await app.scheduled(Date.now() + 6 * DAY);
    assert.deepEqual(await counts(), [1, 1, 1, 1], "inside Free's 7 days: kept");
    await app.scheduled(Date.now() + 8 * DAY);
    assert.deepEqual(await counts(), [0, 0, 0, 0], "past retention: all gone");
  } finally {
    await app.dispose();
  }
});

test("with more organisations than one run's budget covers, consecutive runs reach every one", async () => {
  // Three organisations per run: the commit-record purge, then one round (one D1 batch over
  // every purge target, crates/core/src/retention.rs) for each of three organisations.
  const app = await start({ bindings: { PURGE_MAX_STATEMENTS: "4" } });
  try {
    const now = Date.now();
    const orgs = Array.from({ length: 7 }, (_, i) => `Tenant ${i}`);
    for (const org of orgs) {
      await app.createKey({ org, plan: "free" });
      await seedRows(app, org, 20, 3, now);
    }
    const remaining = async () => (await Promise.all(orgs.map((o) => count(app, o)))).filter((n) => n > 0).length;
    assert.equal(await remaining(), 7);
    let runs = 0;
    while ((await remaining()) > 0 && runs < 10) {
      await app.scheduled(now);
      runs++;
    }
    assert.equal(await remaining(), 0, "every organisation purged");
    assert.ok(runs >= 3 && runs <= 5, `took ${runs} runs`);
  } finally {
    await app.dispose();
  }
});

test("suppressions that ended are purged with the plan's retention; open-ended ones stay", async () => {
  const app = await start();
  try {
    const now = Date.now();
    const key = await app.createKey({ org: "Tuned", plan: "pro" });
    const made = [];
    for (const body of [
      { scope: "ip", value: "203.0.113.1", reason: "until deleted" },
      { scope: "ip", value: "203.0.113.2", reason: "expires soon", expires_at: new Date(now + 60_000).toISOString() },
      { scope: "ip", value: "203.0.113.3", reason: "deleted" },
    ]) {
      const res = await app.request("/suppressions", { method: "POST", key, body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      made.push(res.body.data.id);
    }
    assert.equal((await app.request(`/suppressions/${made[2]}`, { method: "DELETE", key })).status, 200);
    const left = () => app.count("SELECT count(*) FROM suppressions WHERE org_id = ?", orgIdFor("Tuned"));
    await app.scheduled(now + 29 * DAY);
    assert.equal(await left(), 3, "inside Pro's 30 days after they ended: kept");
    await app.scheduled(now + 31 * DAY);
    assert.equal(await left(), 1, "the expired and the deleted one are gone");
    assert.equal(await app.count("SELECT count(*) FROM suppressions WHERE id = ?", made[0]), 1);
  } finally {
    await app.dispose();
  }
});

test("agents silent for longer than retention are purged; others stay", async () => {
  const app = await start();
  try {
    const now = Date.now();
    const key = await app.createKey({ org: "Hosts", plan: "free" });
    for (const hostname of ["old-box", "live-box"]) {
      assert.equal((await app.request("/agent/heartbeat", { method: "POST", key, body: { hostname } })).status, 200);
    }
    await app.db.prepare("UPDATE agents SET last_seen = ?, first_seen = ? WHERE hostname = 'old-box'").bind(now - 8 * DAY, now - 9 * DAY).run();
    await app.scheduled(now);
    const left = (await app.request("/agents", { key })).body.data.map((a) => a.hostname);
    assert.deepEqual(left, ["live-box"], "Free keeps 7 days");
  } finally {
    await app.dispose();
  }
});

test("old commit records of split requests are purged even when organisations use up the budget", async () => {
  const app = await start({ bindings: { PURGE_CHUNK_ROWS: "2", PURGE_MAX_STATEMENTS: "2" } });
  try {
    const now = Date.now();
    await app.createKey({ org: "Busy", plan: "free" });
    await seedRows(app, "Busy", 30, 10, now);
    const insert = "INSERT INTO held_commits (hold, org_id, committed_at) VALUES (?, ?, ?)";
    await app.db.prepare(insert).bind(randomUUID(), orgIdFor("Busy"), now - 2 * DAY).run();
    await app.db.prepare(insert).bind(randomUUID(), orgIdFor("Busy"), now - 60_000).run();
    await app.scheduled(now);
    assert.equal(await count(app, "Busy"), 10 - 2, "the budget ran out on the organisation's rows");
    assert.equal(await app.count("SELECT count(*) FROM held_commits"), 1, "the old record is gone, the fresh one kept");
  } finally {
    await app.dispose();
  }
});
