// The queue consumer: idempotent storage under redelivery, explicit acks, poison messages,
// and the bootstrap key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { start } from "./harness.mjs";

function message(event, id = randomUUID()) {
  return { id, timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 1, event }) };
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

test("a malformed message is acked and dropped; its good neighbours are stored", async () => {
  const app = await start();
  try {
    const good = record("org_p");
    const res = await app.queue([
      { id: "bad-json", timestamp: new Date(), attempts: 1, body: "{not json" },
      { id: "bad-shape", timestamp: new Date(), attempts: 1, body: JSON.stringify({ v: 1, event: { id: 5 } }) },
      { id: "not-text", timestamp: new Date(), attempts: 1, body: { v: 1 } },
      { ...message(good), id: "good" },
    ]);
    assert.equal(res.outcome, "ok");
    assert.deepEqual([...res.explicitAcks].sort(), ["bad-json", "bad-shape", "good", "not-text"]);
    assert.equal(res.retryMessages.length, 0);
    assert.equal(await app.count("SELECT count(*) FROM events"), 1);
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
