// Rate limits and monthly quotas held in the OrgLimiter Durable Object, under concurrency; the
// object's state across restarts and from the layout before one row (crates/core/src/limits/
// store.rs); and what a call writes to its SQLite (one row, or none), read from the meter.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { start } from "./harness.mjs";
import { meterLog } from "../../bench/meter.mjs";
import { orgIdFor } from "../../scripts/lib/keys.mjs";

let app;
before(async () => {
  app = await start();
});
after(() => app.dispose());

const tally = (responses) =>
  responses.reduce((m, r) => ((m[r.status] = (m[r.status] || 0) + 1), m), {});

test("with limit L and N > L concurrent requests exactly L pass; the rest get 429 + Retry-After", async () => {
  const L = 25, N = 60;
  const key = await app.createKey({ org: "Limited", plan: "custom", rateLimit: L });
  const responses = await Promise.all(
    Array.from({ length: N }, (_, i) => app.collect(key, { event: "auth.login_success", actor: `a${i}` })));
  assert.deepEqual(tally(responses), { 202: L, 429: N - L });
  for (const r of responses.filter((r) => r.status === 429)) {
    assert.equal(r.body.error.code, "RATE_LIMITED");
    assert.equal(r.body.code, "RATE_LIMITED");
    const retry = r.headers.get("retry-after");
    assert.match(retry, /^[1-9]\d*$/, "whole seconds, at least 1");
    assert.ok(Number(retry) <= 60);
    assert.equal(r.body.error.retry_after, Number(retry));
    assert.equal(r.headers.get("x-ratelimit-limit"), String(L));
    assert.equal(r.headers.get("x-ratelimit-remaining"), "0");
    assert.equal(r.headers.get("x-litesoc-plan"), "enterprise", "tenant headers on errors too");
  }
  const remaining = responses.filter((r) => r.status === 202).map((r) => Number(r.headers.get("x-ratelimit-remaining")));
  assert.deepEqual(remaining.sort((a, b) => a - b), Array.from({ length: L }, (_, i) => i), "each admit saw a distinct count");
  // Rejected requests are not stored: exactly L events arrive.
  await app.settle();
  assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id = ?", orgIdFor("Limited")), L);
});

test("each rate budget (events, log pushes, everything else) counts across the endpoints and keys of an organisation, apart from the others", async () => {
  const key = await app.createKey({ org: "Shared", plan: "custom", rateLimit: 4 });
  const key2 = await app.createKey({ org: "Shared", plan: "custom", rateLimit: 4 });
  // Reads and management: one budget across endpoints and keys (an unknown path counts too).
  assert.equal((await app.request("/health", { key })).status, 200);
  assert.equal((await app.request("/nope", { key: key2 })).status, 404);
  assert.equal((await app.request("/events", { key: key2 })).status, 200);
  assert.equal((await app.request("/health", { key: key2 })).status, 200);
  const fifth = await app.request("/health", { key });
  assert.equal(fifth.status, 429);
  assert.match(fifth.headers.get("retry-after"), /^[1-9]\d*$/);
  // A shipper pushing one line per request has its own budget: it neither spends the reads'
  // nor is refused because of them, and its own overflow is a 429 it retries.
  const push = (k, i) => app.request("/loki/api/v1/push", {
    method: "POST", key: k, headers: { "Content-Type": "application/json" },
    body: { streams: [{ stream: { service: "budget" }, values: [[`${BigInt(Date.now() - 1000) * 1_000_000n}`, `line ${i}`]] }] },
  });
  for (let i = 0; i < 4; i++) assert.equal((await push(i % 2 ? key : key2, i)).status, 204, `push ${i}`);
  const fifthPush = await push(key, 4);
  assert.equal(fifthPush.status, 429);
  assert.equal(fifthPush.body.error.code, "RATE_LIMITED");
  assert.match(fifthPush.headers.get("retry-after"), /^[1-9]\d*$/);
  // The SDKs' events have theirs.
  for (let i = 0; i < 4; i++) assert.equal((await app.collect(i % 2 ? key : key2, { event: "a.b" })).status, 202);
  assert.equal((await app.collect(key, { event: "a.b" })).status, 429);
  // Another organisation is unaffected.
  const other = await app.createKey({ org: "Neighbour", plan: "custom", rateLimit: 4 });
  assert.equal((await app.request("/health", { key: other })).status, 200);
});

test("a batch reserves its whole size; concurrent batches never over-admit the quota", async () => {
  const Q = 250;
  const key = await app.createKey({ org: "Quota", plan: "custom", quota: Q });
  const batch = (n) => ({ events: Array.from({ length: n }, () => ({ event: "a.b" })) });
  const responses = await Promise.all(Array.from({ length: 12 }, () => app.collect(key, batch(30))));
  const t = tally(responses);
  assert.equal(t[202], 8, "8 × 30 = 240 fit in 250");
  assert.equal(t[403], 4);
  for (const r of responses.filter((r) => r.status === 403)) {
    assert.equal(r.body.error.code, "QUOTA_EXCEEDED");
    assert.match(r.headers.get("retry-after"), /^[1-9]\d*$/);
    assert.equal(r.body.error.retry_after, Number(r.headers.get("retry-after")));
  }
  // 10 remain: a batch of 11 is rejected whole, a batch of 10 fits exactly, then nothing does.
  const eleven = await app.collect(key, batch(11));
  assert.equal(eleven.status, 403);
  assert.match(eleven.body.error.message, /10 remaining/);
  const ten = await app.collect(key, batch(10));
  assert.equal(ten.status, 202);
  assert.equal(ten.body.quota.remaining, 0);
  assert.equal((await app.collect(key, { event: "a.b" })).status, 403);

  const health = await app.request("/health", { key });
  assert.equal(health.body.quota.used, Q);
  assert.equal(health.body.quota.remaining, 0);
  assert.equal(health.headers.get("x-litesoc-quota-remaining"), "0");
  await app.settle();
  assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id = ?", orgIdFor("Quota")), Q);
});

test("validation runs before the quota: a bad batch reserves nothing", async () => {
  const key = await app.createKey({ org: "Careful", plan: "custom", quota: 5 });
  const bad = await app.collect(key, { events: [{ event: "a.b" }, { event: "bad" }] });
  assert.equal(bad.status, 400);
  const health = await app.request("/health", { key });
  assert.equal(health.body.quota.used, 0);
});

test("a rate-limited batch consumes no quota, and the rate limit is answered before validation", async () => {
  const key = await app.createKey({ org: "Ordered", plan: "custom", rateLimit: 2, quota: 100 });
  const batch = { events: Array.from({ length: 10 }, () => ({ event: "a.b" })) };
  assert.equal((await app.collect(key, batch)).status, 202);
  assert.equal((await app.collect(key, batch)).status, 202);
  const limited = await app.collect(key, batch);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("x-litesoc-quota-used"), "20", "the refused batch reserved nothing");
  const invalid = await app.collect(key, { events: [] });
  assert.equal(invalid.status, 429, "429 comes before 400 (docs/api.md §1.4 order)");
  const huge = await app.collect(key, JSON.stringify({ event: "a.b", metadata: { x: "y".repeat(1_100_000) } }));
  assert.equal(huge.status, 429, "and before 413");
});

/** A fresh directory for an instance whose Durable Objects and D1 outlive a restart. */
async function withPersisted(fn) {
  const dir = mkdtempSync(join(tmpdir(), "edgesoc-limiter-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until `log.lines` holds `n` lines (workerd's stdout trails the answers). */
async function lines(log, n) {
  for (let i = 0; i < 100 && log.lines.length < n; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(log.lines.length, n, JSON.stringify(log.lines));
  return log.lines.slice(-1)[0];
}

test("the window and the month's usage survive a restart: the row is written before the reply", () =>
  withPersisted(async (dir) => {
    const app = await start({ persist: dir });
    try {
      const key = await app.createKey({ org: "Restarted", plan: "custom", rateLimit: 4, quota: 50 });
      const five = { events: Array.from({ length: 5 }, () => ({ event: "a.b" })) };
      for (let i = 0; i < 3; i++) assert.equal((await app.collect(key, five)).status, 202);
      await app.restart();
      const health = await app.request("/health", { key });
      assert.equal(health.status, 200);
      assert.equal(health.body.quota.used, 15, "every reservation kept");
      assert.equal(health.headers.get("x-ratelimit-remaining"), "3", "reads count in their own budget");
      const fourth = await app.collect(key, five);
      assert.equal(fourth.headers.get("x-ratelimit-remaining"), "0", "3 requests before, this one the 4th");
      const limited = await app.collect(key, five);
      assert.equal(limited.status, 429, "the window kept its requests");
      assert.equal(limited.headers.get("x-litesoc-quota-used"), "20");
    } finally {
      await app.dispose();
    }
  }));

/** The object as the code before the one-row layout kept it (its schema verbatim): a row per
 *  second's bucket in `rate_buckets`, a row per month in `quota`. A stand-in Worker with the same
 *  class name writes them into `dir`, where the real Worker then finds them, as after a deploy. */
async function seedOldLayout(dir, org, { buckets, quota }) {
  const script = `
    export class OrgLimiter {
      constructor(state) { this.sql = state.storage.sql; }
      async fetch(req) {
        const { buckets, quota } = await req.json();
        this.sql.exec("CREATE TABLE IF NOT EXISTS rate_buckets (sec INTEGER PRIMARY KEY, count INTEGER NOT NULL)");
        this.sql.exec("CREATE TABLE IF NOT EXISTS quota (month TEXT PRIMARY KEY, used INTEGER NOT NULL)");
        for (const [sec, count] of buckets) this.sql.exec("INSERT INTO rate_buckets (sec, count) VALUES (?, ?)", sec, count);
        for (const [month, used] of quota) this.sql.exec("INSERT INTO quota (month, used) VALUES (?, ?)", month, used);
        return new Response("seeded");
      }
    }
    export default {
      fetch(req, env) { return env.LIMITER.get(env.LIMITER.idFromName(new URL(req.url).searchParams.get("org"))).fetch(req); },
    };`;
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2026-04-20",
    durableObjects: { LIMITER: { className: "OrgLimiter", useSQLite: true } },
    durableObjectsPersist: dir,
  });
  try {
    const res = await mf.dispatchFetch(`http://seed/?org=${org}`, { method: "POST", body: JSON.stringify({ buckets, quota }) });
    assert.equal(await res.text(), "seeded");
  } finally {
    await mf.dispose();
  }
}

test("an object from before the one-row layout keeps its month's usage and its window", () =>
  withPersisted(async (dir) => {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    const month = new Date(now).toISOString().slice(0, 7);
    const last = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    await seedOldLayout(dir, orgIdFor("Deployed"), {
      // 3 requests in the window (the test runs well within its 60 s), 50 that left it.
      buckets: [[sec - 2, 2], [sec, 1], [sec - 120, 50]],
      quota: [[last, 999], [month, 90]],
    });
    const log = meterLog({ tag: "limiter" });
    const app = await start({ persist: dir, bindings: { EDGESOC_D1_METER: "1" }, runtimeStdio: log.runtimeStdio });
    try {
      const key = await app.createKey({ org: "Deployed", plan: "custom", rateLimit: 6, quota: 100 });
      const first = await app.collect(key, { event: "a.b" });
      assert.equal(first.status, 202);
      assert.equal(first.headers.get("x-litesoc-quota-used"), "91", "this month's 90 carried over, last month's not");
      assert.equal(first.headers.get("x-ratelimit-remaining"), "2", "the 3 requests in the window count, the old ones not");
      const carried = await lines(log, 1);
      assert.equal(carried.rows_written, 4, "once: the table (2), the carried row (1), this call's row (1)");
      const ten = await app.collect(key, { events: Array.from({ length: 10 }, () => ({ event: "a.b" })) });
      assert.equal(ten.status, 403);
      assert.match(ten.body.error.message, /9 remaining/);
      assert.equal((await lines(log, 2)).rows_written, 1, "after the carry-over, one row a call");
      // Restarted, the object reads its row (the old tables are gone, nothing is carried twice).
      await app.restart();
      const health = await app.request("/health", { key });
      assert.equal(health.status, 200);
      assert.equal(health.body.quota.used, 91);
      assert.equal(health.headers.get("x-ratelimit-remaining"), "5", "reads count in their own budget");
      const sixth = await app.collect(key, { event: "a.b" });
      assert.equal(sixth.headers.get("x-ratelimit-remaining"), "0", "the carried 3, and 2 before the restart");
      assert.equal((await app.collect(key, { event: "a.b" })).status, 429);
    } finally {
      await app.dispose();
    }
  }));

test("a limiter call writes one SQLite row, or none when it changes nothing (the meter's count)", async () => {
  const log = meterLog({ tag: "limiter" });
  const app = await start({ bindings: { EDGESOC_D1_METER: "1" }, runtimeStdio: log.runtimeStdio });
  try {
    const key = await app.createKey({ org: "Metered", plan: "custom", rateLimit: 3, quota: 100 });
    assert.equal((await app.collect(key, { event: "a.b" })).status, 202);
    const first = await lines(log, 1);
    assert.equal(first.rows_written, 3, "a new object's first call also creates its table (2 rows, once)");
    assert.equal((await app.collect(key, { events: [{ event: "a.b" }, { event: "a.b" }] })).status, 202);
    assert.deepEqual(await lines(log, 2), { op: "admit", items: 1, statements: 1, rows_read: 0, rows_written: 1 });
    await new Promise((r) => setTimeout(r, 1000)); // a new second: a new bucket, still one row
    assert.equal((await app.request("/health", { key })).status, 200);
    assert.equal((await lines(log, 3)).rows_written, 1, "a read's bucket, in its own budget");
    assert.equal((await app.collect(key, { event: "a.b" })).status, 202);
    assert.equal((await lines(log, 4)).rows_written, 1);
    const limited = await app.collect(key, { event: "a.b" });
    assert.equal(limited.status, 429);
    assert.equal((await lines(log, 5)).rows_written, 0, "refused: nothing changed, nothing written");

    // Concurrent requests share calls (group commit): each call writes one row, whatever it decides.
    const bulk = await app.createKey({ org: "Bulk", plan: "custom", quota: 1000 });
    const before = log.lines.length;
    const responses = await Promise.all(Array.from({ length: 20 }, () => app.collect(bulk, { event: "a.b" })));
    assert.deepEqual(tally(responses), { 202: 20 });
    const items = () => log.lines.slice(before).reduce((n, l) => n + l.items, 0);
    for (let i = 0; i < 100 && items() < 20; i++) await new Promise((r) => setTimeout(r, 20));
    const calls = log.lines.slice(before);
    assert.equal(items(), 20, "every request decided once");
    assert.equal(calls.slice(1).reduce((n, l) => n + l.rows_written, 0), calls.length - 1, JSON.stringify(calls));
    // Unlimited rate, nothing reserved: a read of the limits writes nothing.
    assert.equal((await app.request("/health", { key: bulk })).status, 200);
    assert.equal((await lines(log, before + calls.length + 1)).rows_written, 0);
  } finally {
    await app.dispose();
  }
});

test("a refund writes one row and gives the reservation back", async () => {
  const log = meterLog({ tag: "limiter" });
  const app = await start({ bindings: { EDGESOC_D1_METER: "1", EDGESOC_FAULTS: "queue_send" }, runtimeStdio: log.runtimeStdio });
  try {
    const key = await app.createKey({ org: "Refunded", plan: "custom", rateLimit: 10, quota: 100 });
    const res = await app.collect(key, { events: Array.from({ length: 10 }, () => ({ event: "a.b" })) });
    assert.equal(res.status, 500, "the queue refused every send");
    assert.equal(res.headers.get("x-ratelimit-remaining"), "9", "the refused request still counted against the rate");
    await lines(log, 2);
    const [admit, refund] = log.lines;
    assert.equal(admit.op, "admit");
    assert.deepEqual(refund, { op: "refund", items: 1, statements: 1, rows_read: 0, rows_written: 1 });
    const health = await app.request("/health", { key });
    assert.equal(health.body.quota.used, 0, "refunded");
  } finally {
    await app.dispose();
  }
});
