// The queue consumer: idempotent storage under redelivery, explicit acks, poison messages,
// and the bootstrap key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { orgIdFor } from "../../scripts/lib/keys.mjs";
import { start } from "./harness.mjs";

/** A queue message as `/collect` packs it (crates/core/src/ingest/message.rs). */
function message(event, id = randomUUID(), plan = "pro") {
  return { id, timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 2, plan, cf: null, events: [event] }) };
}

function record(orgId, overrides = {}) {
  return {
    id: randomUUID(), org_id: orgId, event_name: "auth.login_failed", category: "auth", severity: "medium",
    instant_alert: false, actor_id: "u1", actor_email: null, user_ip: "203.0.113.9", server_ip: null,
    country_code: null, city: null, latitude: null, longitude: null, is_vpn: null, is_tor: null, is_proxy: null,
    is_datacenter: null, threat_score: null, forensics: null, metadata: { k: "v" }, created_at: Date.now(),
    ...overrides,
  };
}

test("redelivering a message never duplicates a row, and every message is acked", async () => {
  const app = await start();
  try {
    const events = Array.from({ length: 7 }, () => record("org_x"));
    const first = await app.queue(events.map((e) => message(e)));
    assert.equal(first.outcome, "ok");
    assert.equal(first.explicitAcks.length, 7);
    assert.equal(first.retryMessages.length, 0);
    // The same events again (new delivery ids, as Queues redeliver), plus one new one.
    const extra = record("org_x");
    const second = await app.queue([...events, extra].map((e) => message(e)));
    assert.equal(second.explicitAcks.length, 8);
    assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id='org_x'"), 8);
  } finally {
    await app.dispose();
  }
});

test("injected consumer failure after the insert: retried, redelivered, row count stays exact", async () => {
  const faulty = await start({ bindings: { EDGESOC_FAULTS: "consumer_fail_after_insert" } });
  try {
    const events = Array.from({ length: 5 }, () => record("org_f"));
    const msgs = events.map((e) => message(e));
    const first = await faulty.queue(msgs);
    assert.equal(first.retryMessages.length, 5, "the consumer asked for redelivery");
    assert.equal(first.explicitAcks.length, 0);
    assert.equal(await faulty.count("SELECT count(*) FROM events WHERE org_id='org_f'"), 5);
    for (let i = 0; i < 3; i++) await faulty.queue(msgs); // redeliveries
    assert.equal(await faulty.count("SELECT count(*) FROM events WHERE org_id='org_f'"), 5);
  } finally {
    await faulty.dispose();
  }
});

test("through the real queue: 202-accepted events are stored exactly once despite redeliveries", async () => {
  const faulty = await start({ bindings: { EDGESOC_FAULTS: "consumer_fail_after_insert" } });
  try {
    const key = await faulty.createKey({ org: "Retried" });
    let accepted = 0;
    for (let i = 0; i < 4; i++) {
      const res = await faulty.collect(key, { events: Array.from({ length: 5 }, () => ({ event: "a.b" })) });
      assert.equal(res.status, 202);
      accepted += res.body.queued;
    }
    // Every delivery is retried by the fault, so the queue redelivers until max_retries; the
    // stored count must reach the accepted count and never exceed it.
    await faulty.eventually(async () => (await faulty.count("SELECT count(*) FROM events")) === accepted);
    await new Promise((r) => setTimeout(r, 2500)); // several redeliveries later
    assert.equal(await faulty.count("SELECT count(*) FROM events"), accepted);
    assert.equal(await faulty.count("SELECT count(DISTINCT id) FROM events"), accepted);
  } finally {
    await faulty.dispose();
  }
});

test("a message the consumer cannot decode is an incident: recorded once, refunded, shown in /health", async () => {
  const app = await start();
  try {
    const key = await app.createKey({ org: "Lossy", plan: "free" });
    assert.equal((await app.collect(key, { events: [{ event: "a.b" }, { event: "a.b" }, { event: "a.b" }] })).status, 202);
    await app.settle();
    const org = orgIdFor("Lossy");
    // What a bug between /collect and the consumer would send: events of Lossy's whose metadata
    // nests past the decoder's limit.
    const deep = "[".repeat(200) + "1" + "]".repeat(200);
    const lost = [randomUUID(), randomUUID()];
    const body = `{"v":2,"plan":"free","cf":null,"events":[${lost.map((id) =>
      `{"id":"${id}","org_id":"${org}","event_name":"admin.privilege_escalation","created_at":${Date.now()},"metadata":{"m":${deep}}}`).join(",")}]}`;
    const poison = { id: "poison-1", timestamp: new Date(), attempts: 1, body };
    const res = await app.queue([poison]);
    assert.deepEqual(res.explicitAcks, ["poison-1"]);
    assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id = ?", org), 3);

    const health = await app.request("/health", { key });
    assert.equal(health.status, 200);
    assert.equal(health.body.incidents.total, 1);
    assert.equal(health.body.incidents.events, 2);
    const [incident] = health.body.incidents.recent;
    assert.equal(incident.kind, "undecodable_message");
    assert.deepEqual(incident.event_ids, lost);
    assert.match(incident.detail, /recursion limit/);
    assert.equal(health.body.quota.used, 1, "3 accepted, 2 lost and refunded");

    // The queue redelivers it: still one incident, refunded once.
    const again = await app.queue([poison]);
    assert.deepEqual(again.explicitAcks, ["poison-1"]);
    const after = await app.request("/health", { key });
    assert.equal(after.body.incidents.total, 1);
    assert.equal(after.body.quota.used, 1);
    // Another organisation sees none of it.
    const other = await app.createKey({ org: "Clean", plan: "free" });
    assert.deepEqual((await app.request("/health", { key: other })).body.incidents, { total: 0, events: 0, recent: [] });
  } finally {
    await app.dispose();
  }
});

test("a malformed message is acked and recorded; its good neighbours are stored", async () => {
  const app = await start();
  try {
    const good = record("org_p");
    const res = await app.queue([
      { id: "bad-json", timestamp: new Date(), attempts: 1, body: "{not json" },
      { id: "bad-shape", timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 2, events: [{ id: 5 }] }) },
      { id: "old-version", timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 1, event: record("org_p") }) },
      { id: "not-text", timestamp: new Date(), attempts: 1, body: { v: 2 } },
      { ...message(good), id: "good" },
    ]);
    assert.equal(res.outcome, "ok");
    assert.deepEqual([...res.explicitAcks].sort(), ["bad-json", "bad-shape", "good", "not-text", "old-version"]);
    assert.equal(res.retryMessages.length, 0);
    assert.equal(await app.count("SELECT count(*) FROM events"), 1);
    // Not even an organisation can be read from them: recorded without one, for the operator.
    assert.equal(await app.count("SELECT count(*) FROM incidents WHERE org_id = ''"), 4);
  } finally {
    await app.dispose();
  }
});

// Split requests (crates/core/src/ingest/hold.rs): a held message is stored only once its request
// has committed, for its own organisation; until then it is put back, and once too old for any
// commit to come it is dropped.
test("held messages wait for their split request's commit, and are dropped when none can come", async () => {
  const app = await start();
  try {
    const held = (hold, org, ageMs = 0) => {
      const event = record(org);
      const body = JSON.stringify({ v: 2, plan: "pro", cf: null, hold, events: [event] });
      return { id: `m-${hold}-${ageMs}`, timestamp: new Date(Date.now() - ageMs), attempts: 1, body, event };
    };
    await app.db.prepare("INSERT INTO held_commits (hold, org_id, committed_at) VALUES ('h-other', 'org_other', ?)").bind(Date.now()).run();
    const waiting = held("h-1", "org_x");
    const stale = held("h-2", "org_x", 25_000);
    const foreign = held("h-other", "org_x");
    const plain = { ...message(record("org_x")), id: "plain" };
    const res = await app.queue([waiting, stale, foreign, plain]);
    assert.equal(res.outcome, "ok");
    assert.deepEqual([...res.explicitAcks].sort(), [stale.id, "plain"].sort());
    assert.deepEqual(res.retryMessages.map((r) => [r.msgId, r.delaySeconds]).sort(), [[foreign.id, 5], [waiting.id, 5]].sort());
    assert.equal(await app.count("SELECT count(*) FROM events"), 1, "only the message without a hold");

    await app.db.prepare("INSERT INTO held_commits (hold, org_id, committed_at) VALUES ('h-1', 'org_x', ?)").bind(Date.now()).run();
    const again = await app.queue([{ ...waiting, id: "m-h-1-again" }]);
    assert.deepEqual(again.explicitAcks, ["m-h-1-again"]);
    assert.equal(await app.count("SELECT count(*) FROM events WHERE id = ?", waiting.event.id), 1);
    assert.equal(await app.count("SELECT count(*) FROM events WHERE id = ?", stale.event.id), 0);
  } finally {
    await app.dispose();
  }
});

test("a request too large for one queue send commits after its last send and is stored whole, once", async () => {
  const app = await start();
  try {
    const key = await app.createKey({ org: "Big", plan: "pro" });
    // 100 events of ~3 KB: about 300 KB packed, more than one sendBatch carries (200 KiB).
    const events = Array.from({ length: 100 }, (_, i) => ({ event: "data.export", actor: `u${i}`, metadata: { seq: i, pad: "x".repeat(3000) } }));
    const res = await app.collect(key, { events });
    assert.equal(res.status, 202, JSON.stringify(res.body).slice(0, 300));
    const ids = res.body.event_ids;
    assert.equal(ids.length, 100);
    assert.equal(await app.count("SELECT count(*) FROM held_commits WHERE hold = ?", ids[0]), 1, "committed before the 202");
    await app.eventually(async () => (await app.count("SELECT count(*) FROM events")) === 100, { timeoutMs: 20000 });
    await app.settle();
    assert.equal(await app.count("SELECT count(*) FROM events"), 100);
    assert.equal(await app.count("SELECT count(DISTINCT json_extract(metadata, '$.seq')) FROM events"), 100);
    assert.equal(await app.count(`SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids)), 100);
  } finally {
    await app.dispose();
  }
});

test("BOOTSTRAP_API_KEY registers itself for a default organisation when no key exists", async () => {
  const secret = "lsoc_live_bootstrapbootstrap1234";
  const app = await start({ bindings: { BOOTSTRAP_API_KEY: secret, BOOTSTRAP_PLAN: "free" } });
  try {
    assert.equal((await app.request("/health", { key: "lsoc_live_somethingelse00000" })).status, 401);
    const res = await app.request("/health", { key: secret });
    assert.equal(res.status, 200);
    assert.equal(res.body.organization.name, "Default");
    assert.equal(res.body.plan, "free");
    assert.equal(await app.count("SELECT count(*) FROM api_keys"), 1);
    assert.equal(await app.count("SELECT count(*) FROM api_keys WHERE key_hash = ?", secret), 0, "stored hashed");
    // Once any key exists, the bootstrap path is closed to other secrets but keeps working for its own.
    assert.equal((await app.request("/health", { key: secret })).status, 200);
  } finally {
    await app.dispose();
  }
});
