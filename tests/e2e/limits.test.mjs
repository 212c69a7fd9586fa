// Rate limits and monthly quotas held in the OrgLimiter Durable Object, under concurrency.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

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
  assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id IN (SELECT id FROM orgs WHERE name='Limited')"), L);
});

test("the limit counts requests across all endpoints and all keys of an organisation", async () => {
  const key = await app.createKey({ org: "Shared", plan: "custom", rateLimit: 4 });
  const key2 = await app.createKey({ org: "Shared", plan: "custom", rateLimit: 4 });
  assert.equal((await app.request("/health", { key })).status, 200);
  assert.equal((await app.request("/nope", { key: key2 })).status, 404);
  assert.equal((await app.collect(key2, { event: "a.b" })).status, 202);
  assert.equal((await app.request("/health", { key: key2 })).status, 200);
  const fifth = await app.request("/health", { key });
  assert.equal(fifth.status, 429);
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
  assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id IN (SELECT id FROM orgs WHERE name='Quota')"), Q);
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
