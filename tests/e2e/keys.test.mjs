// Scoped keys and the key API through the Worker in Miniflare (docs/api.md §2.5, §5.10):
//  - every operation of the OpenAPI document (which tests/api/openapi.test.mjs holds equal to the
//    router) against a key of each scope: 403 INSUFFICIENT_SCOPE naming the scope exactly when
//    the key lacks the operation's `x-edgesoc-scope`;
//  - an ingest-only key sends events and log lines and reads nothing;
//  - POST/GET/DELETE /keys and rotation: the key shown once, never listed, revoked at once, the
//    last admin key kept, an overlap that ends, organisations apart, who made each key.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hashKey, orgIdFor } from "../../scripts/lib/keys.mjs";
import { start } from "./harness.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const spec = JSON.parse(readFileSync(`${ROOT}openapi/openapi.json`, "utf8"));
const SCOPES = ["ingest", "read", "respond", "admin"];
const EVENT = { event: "auth.login_failed", actor: { id: "u1" }, user_ip: "203.0.113.5" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let app;
before(async () => {
  // No key cache: a revocation or an expiry shows on the next request.
  app = await start({ bindings: { TENANT_CACHE_SECONDS: "0" } });
});
after(() => app?.dispose());

/** Every documented operation but the unauthenticated document itself. */
function operations() {
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    if (path === "/openapi.json") continue;
    for (const [method, op] of Object.entries(item)) {
      ops.push({ method: method.toUpperCase(), path, scope: op["x-edgesoc-scope"] });
    }
  }
  return ops;
}

const concrete = (path) => path.replace("{id}", "key_0123456789abcdef").replace("{email}", "nobody%40example.com");
const isScopeRefusal = (res) => res.status === 403 && res.body?.error?.code === "INSUFFICIENT_SCOPE";

describe("the scope of every route", () => {
  test("each operation refuses exactly the keys without its scope, naming it", async () => {
    const ops = operations();
    assert.ok(ops.length >= 28, `${ops.length} operations`);
    for (const op of ops) assert.ok(SCOPES.includes(op.scope), `${op.method} ${op.path}: x-edgesoc-scope ${op.scope}`);
    const keys = {};
    for (const s of SCOPES) keys[s] = await app.createKey({ org: "Matrix", plan: "enterprise", scopes: [s] });
    keys.every = await app.createKey({ org: "Matrix", plan: "enterprise" });
    for (const op of ops) {
      for (const [held, key] of Object.entries(keys)) {
        // POST /session takes its key in the body (docs/api.md §2.7).
        const body = op.path === "/session" && op.method === "POST" ? { key }
          : op.path.startsWith("/collect") ? EVENT : op.method === "GET" || op.method === "DELETE" ? undefined : {};
        const res = await app.request(concrete(op.path), {
          method: op.method, key, body, headers: body === undefined ? {} : { "content-type": "application/json" },
        });
        const refused = isScopeRefusal(res);
        const allowed = held === "every" || held === op.scope;
        assert.equal(refused, !allowed, `${op.method} ${op.path} with a ${held} key: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        if (refused) {
          assert.equal(res.body.error.required_scope, op.scope);
          assert.equal(res.body.message, `This key lacks the ${op.scope} scope`);
          assert.equal(res.headers.get("x-litesoc-plan"), "enterprise", "the tenant headers ride along");
        }
      }
    }
  });

  test("an ingest-only key sends events and log lines but reads nothing", async () => {
    const key = await app.createKey({ org: "Ingest only", plan: "pro", scopes: ["ingest"] });
    assert.equal((await app.collect(key, EVENT)).status, 202);
    assert.equal((await app.collect(key, { events: [EVENT, EVENT] })).status, 202);
    const push = { streams: [{ stream: { job: "sshd" }, values: [[`${Date.now()}000000`, "Failed password for root from 203.0.113.9 port 22"]] }] };
    const pushed = await app.request("/loki/api/v1/push", { method: "POST", key, body: push, headers: { "content-type": "application/json" } });
    assert.equal(pushed.status, 204);
    for (const path of ["/events", "/events?actor_id=u1", "/alerts", "/ui/mock-data", "/health", "/suppressions", "/destinations", "/keys"]) {
      const res = await app.request(path, { key });
      assert.ok(isScopeRefusal(res), `${path}: ${res.status}`);
      assert.doesNotMatch(JSON.stringify(res.body), /u1|203\.0\.113/, `${path} leaks nothing`);
    }
    const patch = await app.request("/alerts/00000000-0000-4000-8000-000000000000", { method: "PATCH", key, body: { status: "resolved" } });
    assert.ok(isScopeRefusal(patch));
  });

  test("a read-only key reads and cannot send, respond or administer", async () => {
    const key = await app.createKey({ org: "Reader", plan: "pro", scopes: ["read"] });
    assert.equal((await app.request("/events", { key })).status, 200);
    assert.equal((await app.request("/health", { key })).status, 200);
    const sent = await app.collect(key, EVENT);
    assert.ok(isScopeRefusal(sent));
    assert.equal(sent.body.error.required_scope, "ingest");
    assert.equal(await app.count("SELECT count(*) FROM events WHERE org_id = ?", orgIdFor("Reader")), 0);
  });
});

describe("the key API", () => {
  const json = { "content-type": "application/json" };

  test("a key is shown once, listed without its secret, used, and revoked at once", async () => {
    const admin = await app.createKey({ org: "Keys A", plan: "free", name: "ops laptop" });
    const made = await app.request("/keys", { method: "POST", key: admin, headers: json, body: { name: "web app", scopes: ["ingest"] } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { id, key, prefix, scopes, created_by } = made.body.data;
    assert.match(id, /^key_[0-9a-f]{16}$/);
    assert.match(key, /^lsoc_live_[A-Za-z0-9]{32}$/);
    assert.equal(prefix, key.slice(0, 14));
    assert.deepEqual(scopes, ["ingest"]);
    assert.match(created_by, /^ops laptop \(lsoc_live_.{4}\)$/, "who made it");
    assert.equal((await app.collect(key, EVENT)).status, 202, "the new key works at once");

    // Recorded as used (after the answer), to the hour.
    let listed;
    for (let i = 0; i < 50; i++) {
      listed = await app.request("/keys", { key: admin });
      if (listed.body.data.find((k) => k.id === id)?.last_used_at) break;
      await sleep(50);
    }
    assert.equal(listed.status, 200);
    const text = JSON.stringify(listed.body);
    assert.ok(!text.includes(key) && !text.includes(hashKey(key)), "never the key or its hash");
    const row = listed.body.data.find((k) => k.id === id);
    assert.equal(row.name, "web app");
    assert.ok(row.last_used_at, "last use recorded");
    assert.equal(row.key, undefined);

    const revoked = await app.request(`/keys/${id}`, { method: "DELETE", key: admin });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.data.revoked, true);
    assert.equal((await app.collect(key, EVENT)).status, 401, "revoked: refused");
    assert.equal((await app.request(`/keys/${id}`, { method: "DELETE", key: admin })).status, 404, "once");
    assert.ok(!(await app.request("/keys", { key: admin })).body.data.some((k) => k.id === id));
  });

  test("bad bodies name their field; unknown ids are 404", async () => {
    const admin = await app.createKey({ org: "Keys B", plan: "pro" });
    const bad = await app.request("/keys", { method: "POST", key: admin, headers: json, body: { scopes: ["read", "root"] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].field, "scopes[1]");
    const rot = await app.request("/keys/key_0123456789abcdef/rotate", { method: "POST", key: admin, headers: json, body: {} });
    assert.equal(rot.status, 404);
    const over = await app.request("/keys/key_0123456789abcdef/rotate", { method: "POST", key: admin, headers: json, body: { overlap_seconds: 99999999 } });
    assert.equal(over.status, 400);
    assert.equal((await app.request("/keys/nope", { method: "DELETE", key: admin })).status, 404);
  });

  test("the last admin key cannot be revoked; another admin key lets it go", async () => {
    const admin = await app.createKey({ org: "Keys C", plan: "pro", scopes: ["admin"] });
    const ingest = await app.request("/keys", { method: "POST", key: admin, headers: json, body: { scopes: ["ingest"] } });
    assert.equal(ingest.status, 201);
    const mine = (await app.request("/keys", { key: admin })).body.data.find((k) => k.prefix === admin.slice(0, 14));
    const refused = await app.request(`/keys/${mine.id}`, { method: "DELETE", key: admin });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, "CONFLICT");
    const second = await app.request("/keys", { method: "POST", key: admin, headers: json, body: { name: "second admin", scopes: ["admin", "read"] } });
    assert.equal((await app.request(`/keys/${mine.id}`, { method: "DELETE", key: second.body.data.key })).status, 200);
    assert.equal((await app.request("/keys", { key: admin })).status, 401);
  });

  test("a rotation keeps the old key for its overlap and no longer", async () => {
    const admin = await app.createKey({ org: "Keys D", plan: "pro" });
    const app1 = await app.request("/keys", { method: "POST", key: admin, headers: json, body: { name: "shipper", scopes: ["ingest"] } });
    const { id, key: oldKey } = app1.body.data;
    const kept = await app.request(`/keys/${id}/rotate`, { method: "POST", key: admin, headers: json, body: { overlap_seconds: 3600 } });
    assert.equal(kept.status, 201, JSON.stringify(kept.body));
    assert.equal(kept.body.data.name, "shipper");
    assert.deepEqual(kept.body.data.scopes, ["ingest"]);
    assert.equal(kept.body.data.rotated_from.id, id);
    const expires = Date.parse(kept.body.data.rotated_from.expires_at);
    assert.ok(Math.abs(expires - (Date.now() + 3_600_000)) < 60_000, kept.body.data.rotated_from.expires_at);
    assert.equal((await app.collect(oldKey, EVENT)).status, 202, "old key inside its overlap");
    assert.equal((await app.collect(kept.body.data.key, EVENT)).status, 202, "new key");
    // Rotating the new key with no overlap ends it at once.
    const now = await app.request(`/keys/${kept.body.data.id}/rotate`, { method: "POST", key: admin, headers: json, body: { overlap_seconds: 0 } });
    assert.equal(now.status, 201);
    assert.equal((await app.collect(kept.body.data.key, EVENT)).status, 401);
    assert.equal((await app.collect(now.body.data.key, EVENT)).status, 202);
  });

  test("organisations never see or touch each other's keys", async () => {
    const a = await app.createKey({ org: "Keys E", plan: "pro" });
    const b = await app.createKey({ org: "Keys F", plan: "pro" });
    const made = await app.request("/keys", { method: "POST", key: a, headers: json, body: { scopes: ["read"] } });
    const id = made.body.data.id;
    const listed = (await app.request("/keys", { key: b })).body.data;
    assert.ok(!listed.some((k) => k.id === id) && listed.length === 1);
    assert.equal((await app.request(`/keys/${id}`, { method: "DELETE", key: b })).status, 404);
    assert.equal((await app.request(`/keys/${id}/rotate`, { method: "POST", key: b, headers: json, body: {} })).status, 404);
    assert.equal((await app.request("/events", { key: made.body.data.key })).status, 200, "untouched");
  });
});
