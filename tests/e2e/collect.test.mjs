// POST /collect, authentication, routing and the contract's bodies and headers, end to end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { everyValue, start } from "./harness.mjs";
import { newKey } from "../../scripts/lib/keys.mjs";

let app, key;
before(async () => {
  app = await start();
  key = await app.createKey({ org: "Acme", plan: "pro" });
});
after(() => app.dispose());

const EXAMPLE = {
  event: "auth.login_failed",
  actor: { id: "user_123", email: "u@example.com" },
  user_ip: "203.0.113.50",
  metadata: { method: "password", _sdk: "litesoc-python", _sdk_version: "2.6.0" },
};

function assertErrorBody(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.equal(res.body.success, false);
  assert.equal(res.body.error.code, code);
  assert.equal(res.body.code, code);
  assert.equal(typeof res.body.error.message, "string");
  assert.equal(res.body.message, res.body.error.message);
}

function assertTenantHeaders(res, plan = "pro") {
  assert.equal(res.headers.get("x-litesoc-plan"), plan);
  assert.match(res.headers.get("x-litesoc-retention"), /^\d+$/);
  assert.match(res.headers.get("x-litesoc-cutoff"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
}

describe("authentication", () => {
  test("a missing, empty or unknown key is 401 without tenant headers", async () => {
    for (const k of [undefined, "", "lsoc_live_unknownunknownunknown"]) {
      const res = await app.collect(k, EXAMPLE);
      assertErrorBody(res, 401, "UNAUTHORIZED");
      assert.equal(res.headers.get("x-litesoc-plan"), null);
    }
  });

  test("/health with a bad key is 401 with status error", async () => {
    const res = await app.request("/health", { key: "bad" });
    assertErrorBody(res, 401, "UNAUTHORIZED");
    assert.equal(res.body.status, "error");
  });

  test("Bearer is an alias and X-API-Key wins when both are sent", async () => {
    const bearer = await app.request("/health", { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(bearer.status, 200);
    const both = await app.request("/health", { key: "wrong", headers: { Authorization: `Bearer ${key}` } });
    assert.equal(both.status, 401);
    const lower = await app.request("/health", { headers: { "x-api-key": key } });
    assert.equal(lower.status, 200);
  });

  test("a revoked key stops working within TENANT_CACHE_SECONDS, at once with the cache off", async () => {
    const { revokeKeyStatement } = await import("../../scripts/lib/keys.mjs");
    const cached = await start({ bindings: { TENANT_CACHE_SECONDS: "2" } });
    const uncached = await start({ bindings: { TENANT_CACHE_SECONDS: "0" } });
    try {
      const k = await cached.createKey({ org: "Revokable" });
      assert.equal((await cached.request("/health", { key: k })).status, 200);
      await cached.db.prepare(revokeKeyStatement(k)).run();
      const revokedAt = Date.now();
      // The isolate's cache still holds the tenant: this is the bounded staleness.
      const stale = await cached.request("/health", { key: k });
      if (Date.now() - revokedAt < 1500) assert.equal(stale.status, 200, "served from the cache");
      await new Promise((r) => setTimeout(r, 2100 - (Date.now() - revokedAt)));
      assertErrorBody(await cached.request("/health", { key: k }), 401, "UNAUTHORIZED");

      const u = await uncached.createKey({ org: "Revokable" });
      assert.equal((await uncached.request("/health", { key: u })).status, 200);
      await uncached.db.prepare(revokeKeyStatement(u)).run();
      assertErrorBody(await uncached.request("/health", { key: u }), 401, "UNAUTHORIZED");
    } finally {
      await cached.dispose();
      await uncached.dispose();
    }
  });

  test("an unknown key is never cached: a key created after a failed attempt works at once", async () => {
    const { createKeyStatements } = await import("../../scripts/lib/keys.mjs");
    const k = "lsoc_live_" + "a".repeat(32);
    assertErrorBody(await app.request("/health", { key: k }), 401, "UNAUTHORIZED");
    for (const stmt of createKeyStatements({ org: "Late", plan: "pro", key: k })) await app.db.prepare(stmt).run();
    assert.equal((await app.request("/health", { key: k })).status, 200);
  });

  test("keys are stored only as SHA-256 hashes", async () => {
    const rows = (await app.db.prepare("SELECT key_hash, key_prefix FROM api_keys").all()).results;
    assert.ok(rows.length > 0);
    for (const r of rows) {
      assert.match(r.key_hash, /^[0-9a-f]{64}$/);
      assert.ok(!r.key_hash.includes(key) && !key.startsWith(r.key_hash));
      assert.ok(r.key_prefix.length <= 14);
    }
  });

  test("the Worker stores a BOOTSTRAP_API_KEY only as its SHA-256: no column of any table holds the key", async () => {
    const secret = newKey();
    // As `wrangler secret put` may store it, with a trailing newline: the key is the trimmed text.
    const boot = await start({ bindings: { BOOTSTRAP_API_KEY: `${secret}\n` } });
    try {
      assert.equal(await boot.count("SELECT count(*) FROM api_keys"), 0);
      // The Worker registers the key on its first use, then serves every path with it.
      assert.equal((await boot.request("/health", { key: secret })).status, 200);
      const res = await boot.request("/collect", {
        method: "POST", headers: { Authorization: `Bearer ${secret}` }, body: { ...EXAMPLE, metadata: { note: "bootstrap" } },
      });
      assert.equal(res.status, 202);
      await boot.eventually(async () => (await boot.count("SELECT count(*) FROM events")) === 1);
      await boot.settle();
      assert.equal((await boot.request("/events", { key: secret })).body.pagination.total, 1);

      const sha256 = createHash("sha256").update(secret, "utf8").digest("hex");
      const keys = (await boot.db.prepare("SELECT * FROM api_keys").all()).results;
      assert.equal(keys.length, 1);
      assert.equal(keys[0].key_hash, sha256, "lowercase hex SHA-256 of the key");
      assert.equal(keys[0].key_prefix, "bootstrap", "no part of a bootstrap key is shown");
      const values = await everyValue(boot.db);
      assert.ok(values.some((v) => v.table === "events") && values.some((v) => v.table === "log_hourly"), "the request's rows are checked too");
      const random = secret.slice("lsoc_live_".length);
      const holding = (needle) => values.filter((v) => v.text.includes(needle)).map((v) => `${v.table}.${v.column}`);
      assert.deepEqual(holding(random), [], "the key (its random part) is in no column");
      assert.deepEqual(holding(random.slice(0, 16)), [], "nor half of it");
      assert.deepEqual(holding(sha256), ["api_keys.key_hash"], "the hash only where keys are looked up");
    } finally {
      await boot.dispose();
    }
  });
});

describe("POST /collect accepts", () => {
  test("the contract example: 202 body, headers, and the row in D1 within seconds", async () => {
    const res = await app.collect(key, { ...EXAMPLE, severity: "info", timestamp: "1999-01-01T00:00:00Z" });
    assert.equal(res.status, 202);
    assert.equal(res.body.success, true);
    assert.equal(res.body.status, "queued");
    assert.equal(res.body.queued, 1);
    assert.equal(res.body.event_ids.length, 1);
    assert.match(res.body.event_ids[0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(res.body.error, undefined);
    assert.equal(res.body.quota.limit, 500000);
    assertTenantHeaders(res);
    assert.equal(res.headers.get("x-litesoc-quota-limit"), "500000");
    assert.equal(Number(res.headers.get("x-litesoc-quota-remaining")), res.body.quota.remaining);

    const id = res.body.event_ids[0];
    const row = await app.eventually(() => app.db.prepare("SELECT * FROM events WHERE id = ?").bind(id).first());
    assert.ok(row, "event stored within the deadline");
    assert.equal(row.severity, "medium", "server-assigned, client severity ignored");
    assert.equal(row.category, "auth");
    assert.equal(row.instant_alert, 0);
    assert.equal(row.actor_id, "user_123");
    assert.equal(row.user_ip, "203.0.113.50");
    assert.deepEqual(JSON.parse(row.metadata), EXAMPLE.metadata);
    assert.ok(Math.abs(row.created_at - Date.now()) < 60_000, "server time, not the client's 1999");
  });

  test("a batch of 100 is stored whole with instant flags and custom defaults", async () => {
    const events = Array.from({ length: 100 }, (_, i) => ({
      event: i % 2 ? "data.sensitive_access" : "billing.invoice_paid",
      actor: `actor-${i}`,
      user_ip: i % 3 ? "unknown" : null,
    }));
    const res = await app.collect(key, { events });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.queued, 100);
    assert.equal(new Set(res.body.event_ids).size, 100);
    const ids = JSON.stringify(res.body.event_ids);
    const q = "SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?))";
    assert.equal(await app.eventually(async () => (await app.count(q, ids)) === 100 || null), true);
    const crit = await app.count(
      "SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?)) AND severity='critical' AND instant_alert=1", ids);
    assert.equal(crit, 50);
    const info = await app.count(
      "SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?)) AND severity='info' AND instant_alert=0", ids);
    assert.equal(info, 50);
  });

  test("lenient SDK payloads and aliases", async () => {
    const res = await app.collect(key, {
      events: [
        { event_name: "Login.Success", actor: { email: "only@example.com" }, user_ip: "[REDACTED]" },
        { event: "auth.logout", actor: null, user_id: "u-top", ip_address: "2001:db8::1", metadata: "plain" },
      ],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const [a, b] = res.body.event_ids;
    const rowA = await app.eventually(() => app.db.prepare("SELECT * FROM events WHERE id = ?").bind(a).first());
    assert.equal(rowA.event_name, "auth.login_success");
    assert.equal(JSON.parse(rowA.metadata)._original_event, "login.success");
    assert.equal(rowA.actor_id, "only@example.com");
    assert.equal(rowA.user_ip, "[REDACTED]");
    const rowB = await app.eventually(() => app.db.prepare("SELECT * FROM events WHERE id = ?").bind(b).first());
    assert.equal(rowB.actor_id, "u-top");
    assert.equal(rowB.user_ip, "2001:db8::1");
    assert.deepEqual(JSON.parse(rowB.metadata), { _value: "plain" });
  });

  test("path variants route to /collect", async () => {
    for (const path of ["//collect", "/collect/", "/v1/collect", "/api/v1/collect", "/collect/batch"]) {
      const res = await app.request(path, { method: "POST", key, body: { event: "a.b" } });
      assert.equal(res.status, 202, path);
    }
  });
});

describe("POST /collect rejects", () => {
  const cases = [
    ["malformed JSON", "{\"event\":", "body", undefined],
    ["a non-object body", "[1,2]", "body", undefined],
    ["a missing event name", { actor: "x" }, "event", undefined],
    ["a name without a dot", { event: "login" }, "event", undefined],
    ["a name with bad characters", { event: "auth.log in" }, "event", undefined],
    ["a numeric user_ip", { event: "a.b", user_ip: 123 }, "user_ip", undefined],
    ["an over-long actor id", { event: "a.b", actor: { id: "x".repeat(256) } }, "actor.id", undefined],
    ["an empty batch", { events: [] }, "events", undefined],
    ["a batch of 101", { events: Array.from({ length: 101 }, () => ({ event: "a.b" })) }, "events", undefined],
    ["one bad item in a batch", { events: [{ event: "a.b" }, { event: "a.b" }, { event: "nope" }] }, "event", 2],
  ];
  for (const [name, body, field, index] of cases) {
    test(`${name}: 400 naming the field`, async () => {
      const before = await app.settle();
      const res = await app.collect(key, body);
      assertErrorBody(res, 400, "VALIDATION_ERROR");
      assertTenantHeaders(res);
      const d = res.body.error.details[0];
      assert.equal(d.field, field);
      assert.equal(d.index, index);
      assert.ok(d.message.length > 0);
      assert.equal(await app.settle({ quietMs: 1200 }), before, "nothing stored");
    });
  }

  test("a body over 1 MiB is 413, also when streamed without Content-Length", async () => {
    const big = JSON.stringify({ event: "a.b", metadata: { blob: "x".repeat(1024 * 1024) } });
    assertErrorBody(await app.collect(key, big), 413, "PAYLOAD_TOO_LARGE");
    const chunks = 40;
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < chunks; i++) c.enqueue(new TextEncoder().encode("x".repeat(32 * 1024)));
        c.close();
      },
    });
    const res = await app.mf.dispatchFetch("http://edgesoc.test/collect", {
      method: "POST", headers: { "X-API-Key": key }, body: stream, duplex: "half",
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "PAYLOAD_TOO_LARGE");
  });

  test("metadata nests at most 32 levels: 32 is stored, 33 and serde_json's edge (125, 126) are 400 naming metadata", async () => {
    // {"a":{"a":…}} with the outermost object as level 1.
    const nested = (levels) => JSON.parse("{\"a\":".repeat(levels - 1) + "{}" + "}".repeat(levels - 1));
    const before = await app.settle({ quietMs: 800 });
    const ok = await app.collect(key, { event: "admin.privilege_escalation", actor: "deep", metadata: nested(32) });
    assert.equal(ok.status, 202);
    const okBatch = await app.collect(key, { events: [{ event: "a.b" }, { event: "a.b", metadata: nested(32) }] });
    assert.equal(okBatch.status, 202);
    assert.equal(await app.settle({ quietMs: 1200 }), before + 3, "all three stored");
    const stored = await app.db.prepare("SELECT metadata FROM events WHERE id = ?").bind(ok.body.event_ids[0]).first();
    assert.deepEqual(JSON.parse(stored.metadata), nested(32));
    for (const levels of [33, 125, 126]) {
      const single = await app.collect(key, { event: "admin.privilege_escalation", metadata: nested(levels) });
      assertErrorBody(single, 400, "VALIDATION_ERROR");
      assert.deepEqual(single.body.error.details.map((d) => [d.index, d.field]), [[undefined, "metadata"]], `${levels}`);
      const batch = await app.collect(key, { events: [{ event: "a.b" }, { event: "a.b", metadata: nested(levels) }] });
      assertErrorBody(batch, 400, "VALIDATION_ERROR");
      // In a batch, 125 levels of metadata are past the JSON parser's limit of 128: the body.
      const where = levels === 33 ? [1, "metadata"] : [undefined, "body"];
      assert.deepEqual(batch.body.error.details.map((d) => [d.index, d.field]), [where], `${levels}`);
    }
    // Deeper than the JSON parser's own limit: still a 400, on the body.
    assertErrorBody(await app.collect(key, { event: "a.b", metadata: nested(140) }), 400, "VALIDATION_ERROR");
    assert.equal(await app.settle({ quietMs: 1200 }), before + 3, "nothing else stored");
  });

  test("an event over 32 KiB is 413 naming its index", async () => {
    const res = await app.collect(key, { events: [{ event: "a.b" }, { event: "a.b", metadata: { b: "x".repeat(33 * 1024) } }] });
    assertErrorBody(res, 413, "PAYLOAD_TOO_LARGE");
    assert.equal(res.body.error.details[0].index, 1);
  });
});

describe("routing and CORS", () => {
  test("unknown path is 404, wrong method 405 with Allow, both with the error body", async () => {
    assertErrorBody(await app.request("/nope", { key }), 404, "NOT_FOUND");
    for (const [path, method, allow] of [
      ["/collect", "GET", "POST, OPTIONS"],
      ["/health", "POST", "GET, HEAD, OPTIONS"],
      ["/alerts/6ba7b810-9dad-41d1-80b4-00c04fd430c8", "DELETE", "GET, HEAD, PATCH, OPTIONS"],
      ["/openapi.json", "POST", "GET, HEAD, OPTIONS"],
    ]) {
      const res = await app.request(path, { key, method, ...(method === "GET" ? {} : { body: {} }) });
      assertErrorBody(res, 405, "METHOD_NOT_ALLOWED");
      assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    }
    assert.equal((await app.request("/nope", { key })).headers.get("allow"), null);
  });

  test("every response says nosniff: successes, errors, the spec and preflights", async () => {
    const responses = [
      await app.collect(key, { event: "a.b" }),
      await app.request("/events", { key }),
      await app.request("/health", { key }),
      await app.request("/nope", { key }),
      await app.request("/events"), // 401
      await app.request("/openapi.json"),
      await app.request("/collect", { method: "OPTIONS" }),
    ];
    for (const res of responses) assert.equal(res.headers.get("x-content-type-options"), "nosniff", `${res.status}`);
  });

  test("OPTIONS preflight is 204 with the allowed methods and headers", async () => {
    const res = await app.request("/collect", { method: "OPTIONS" });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    // Every method a route answers (DELETE: destinations, suppressions, keys; PUT: origins and
    // members), so a browser on another origin can call each of them.
    assert.deepEqual(res.headers.get("access-control-allow-methods").split(/,\s*/).sort(), ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]);
    assert.match(res.headers.get("access-control-allow-headers"), /X-API-Key/);
  });

  test("a Free organisation gets 403 PLAN_RESTRICTED on alert endpoints", async () => {
    const free = await app.createKey({ org: "Freebie", plan: "free" });
    const res = await app.request("/alerts", { key: free });
    assertErrorBody(res, 403, "PLAN_RESTRICTED");
    assert.equal(res.body.error.required_plan, "pro");
    assertTenantHeaders(res, "free");
  });
});

describe("GET /health", () => {
  test("reports organisation, plan and this month's quota usage", async () => {
    const k = await app.createKey({ org: "Healthy", plan: "free" });
    await app.collect(k, { events: [{ event: "a.b" }, { event: "a.b" }, { event: "a.b" }] });
    const res = await app.request("/health", { key: k });
    assert.equal(res.status, 200);
    assert.equal(res.body.success, undefined, "bare object");
    assert.equal(res.body.status, "ok");
    assert.equal(res.body.authenticated, true);
    assert.equal(res.body.organization.name, "Healthy");
    assert.equal(res.body.plan, "free");
    assert.equal(res.body.retention_days, 7);
    assert.deepEqual(
      { limit: res.body.quota.limit, used: res.body.quota.used, remaining: res.body.quota.remaining },
      { limit: 10000, used: 3, remaining: 9997 });
    assert.match(res.body.quota.period_start, /-01T00:00:00\.000Z$/);
    assert.deepEqual(res.body.rate_limit, { limit: 100, window_seconds: 60 });
    assert.equal(res.headers.get("x-litesoc-quota-used"), "3");
  });

  test("custom plans report as enterprise and unlimited quota is null", async () => {
    const k = await app.createKey({ org: "Bespoke", plan: "custom" });
    const res = await app.request("/health", { key: k });
    assert.equal(res.body.plan, "enterprise");
    assert.equal(res.headers.get("x-litesoc-plan"), "enterprise");
    assert.equal(res.body.quota.limit, null);
    assert.equal(res.body.quota.remaining, null);
    assert.equal(res.headers.get("x-litesoc-quota-limit"), null);
    assert.equal(res.body.retention_days, 90);
  });
});
