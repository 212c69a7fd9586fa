// Per-organisation authorized origins through the Worker in Miniflare (docs/api.md §2.6): an
// empty list keeps every origin allowed (CORS *); a list refuses a browser Origin it does not
// hold with 403 ORIGIN_NOT_AUTHORIZED before anything is stored, names a listed origin in CORS,
// and never touches requests without Origin (SDKs, shippers) or another organisation.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

const APP = "https://app.example.com";
const EVIL = "https://evil.example";
const EVENT = { event: "auth.login_success", actor: { id: "o1" }, user_ip: "203.0.113.7" };

let app, admin, other;
before(async () => {
  app = await start({ bindings: { TENANT_CACHE_SECONDS: "0" } });
  admin = await app.createKey({ org: "Origins", plan: "pro" });
  other = await app.createKey({ org: "Origins Other", plan: "pro" });
});
after(() => app?.dispose());

const from = (origin, path, opts = {}) =>
  app.request(path, { ...opts, headers: { ...(opts.headers ?? {}), ...(origin ? { Origin: origin } : {}) } });

test("an empty list allows every origin, as before", async () => {
  const got = await app.request("/settings/origins", { key: admin });
  assert.deepEqual(got.body.data, { origins: [], max: 50, enforced: false });
  const res = await from(EVIL, "/events", { key: admin });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});

test("a list refuses other origins before anything is stored, and names its own in CORS", async () => {
  const set = await app.request("/settings/origins", { method: "PUT", key: admin, body: { origins: [APP, "http://localhost:5173"] }, headers: { "content-type": "application/json" } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual(set.body.data.origins, [APP, "http://localhost:5173"]);

  const refused = await from(EVIL, "/collect", { method: "POST", key: admin, body: EVENT });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, "ORIGIN_NOT_AUTHORIZED");
  assert.equal(refused.body.message, "Origin not authorized");
  assert.equal((await from("null", "/events", { key: admin })).status, 403, "an opaque origin is not listed");
  await app.settle();
  assert.equal(await app.count("SELECT count(*) FROM events WHERE actor_id = 'o1'"), 0, "nothing stored");

  const ok = await from(APP, "/collect", { method: "POST", key: admin, body: EVENT });
  assert.equal(ok.status, 202);
  assert.equal(ok.headers.get("access-control-allow-origin"), APP);
  assert.match(ok.headers.get("vary") ?? "", /Origin/);
  const server = await app.collect(admin, EVENT);
  assert.equal(server.status, 202, "no Origin: an SDK or a shipper");
  assert.equal(server.headers.get("access-control-allow-origin"), "*");

  const theirs = await from(EVIL, "/events", { key: other });
  assert.equal(theirs.status, 200, "another organisation keeps its own (empty) list");

  const audit = (await app.request("/audit?action=settings.origins.update", { key: admin })).body.data;
  assert.deepEqual(audit[0].detail, { origins: [APP, "http://localhost:5173"] });

  const cleared = await app.request("/settings/origins", { method: "PUT", key: admin, body: { origins: [] }, headers: { "content-type": "application/json" } });
  assert.equal(cleared.body.data.enforced, false);
  assert.equal((await from(EVIL, "/events", { key: admin })).status, 200, "cleared: every origin again");
});

test("bad lists are 400 naming the member; only admin keys change them", async () => {
  const bad = await app.request("/settings/origins", { method: "PUT", key: admin, body: { origins: [APP, "https://app.example.com/path"] }, headers: { "content-type": "application/json" } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.details[0].field, "origins[1]");
  const reader = await app.createKey({ org: "Origins", plan: "pro", scopes: ["read"] });
  const res = await app.request("/settings/origins", { method: "PUT", key: reader, body: { origins: [] }, headers: { "content-type": "application/json" } });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.required_scope, "admin");
  const pre = await app.request("/settings/origins", { method: "OPTIONS", headers: { Origin: APP, "Access-Control-Request-Method": "PUT" } });
  assert.match(pre.headers.get("access-control-allow-methods"), /PUT/);
});
