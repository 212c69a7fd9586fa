// The dashboard's sign-in through the Worker in Miniflare (docs/api.md §2.7): a key exchanged once
// for an HttpOnly, Secure, SameSite=Strict session cookie; reads with the cookie alone; every change
// needs the session's CSRF token; the session has its key's scopes without ingest (a viewer cannot
// resolve); it ends on sign-out, with its key, and a forged cookie opens nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

const json = { "content-type": "application/json" };
let app, admin, viewer, ingest, other;
before(async () => {
  app = await start({ bindings: { TENANT_CACHE_SECONDS: "0" } });
  admin = await app.createKey({ org: "Signed", plan: "pro", name: "dana" });
  viewer = await app.createKey({ org: "Signed", plan: "pro", name: "intern", scopes: ["read"] });
  ingest = await app.createKey({ org: "Signed", plan: "pro", scopes: ["ingest"] });
  other = await app.createKey({ org: "Signed Other", plan: "pro" });
});
after(() => app?.dispose());

/** Signs in with `key`; returns {cookie (the Cookie header to send), csrf, res}. */
async function signIn(key, headers = {}) {
  const res = await app.request("/session", { method: "POST", body: { key }, headers: { ...json, ...headers } });
  const set = res.headers.get("set-cookie") ?? "";
  return { res, set, cookie: set.split(";")[0], csrf: res.body?.data?.csrf_token };
}
const as = (s, path, { method = "GET", body, csrf } = {}) => app.request(path, {
  method, body, headers: { Cookie: s.cookie, ...(body === undefined ? {} : json), ...(csrf ? { "X-CSRF-Token": csrf } : {}) },
});

async function anAlert(key) {
  assert.equal((await app.collect(key, { event: "admin.privilege_escalation", actor: { id: "mallory" }, user_ip: "203.0.113.51" })).status, 202);
  return app.eventually(async () => (await app.request("/alerts", { key })).body.data?.[0] ?? null);
}

describe("signing in", () => {
  test("a key becomes an HttpOnly, Secure, SameSite=Strict cookie and a CSRF token, once", async () => {
    const s = await signIn(admin);
    assert.equal(s.res.status, 201, JSON.stringify(s.res.body));
    for (const part of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=28800"]) assert.ok(s.set.includes(part), s.set);
    assert.match(s.cookie, /^edgesoc_session=[0-9a-f]{64}\.[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(s.res.body).includes(admin), "the key is not echoed");
    assert.deepEqual([s.res.body.data.role, s.res.body.data.via, s.res.body.data.actor], ["admin", "session", `dana (${admin.slice(0, 14)})`]);
    assert.deepEqual(s.res.body.data.scopes, ["read", "respond", "admin"], "never ingest");
    const stored = await app.db.prepare("SELECT * FROM sessions").all();
    assert.ok(!JSON.stringify(stored.results).includes(s.cookie.split("=")[1].split(".")[0]), "D1 holds the id's hash only");

    const events = await as(s, "/events");
    assert.equal(events.status, 200, "the cookie alone reads");
    const me = await as(s, "/session");
    assert.deepEqual([me.body.data.via, me.body.data.csrf_token], ["session", s.csrf]);
    const sent = await as(s, "/collect", { method: "POST", body: { event: "auth.login_success", actor: "x" }, csrf: s.csrf });
    assert.equal(sent.status, 403, "a session does not ingest");
    assert.equal(sent.body.error.required_scope, "ingest");
  });

  test("bad keys, ingest-only keys and forged cookies open nothing", async () => {
    assert.equal((await signIn("lsoc_live_not_a_key")).res.status, 401);
    const noRead = await signIn(ingest);
    assert.equal(noRead.res.status, 403);
    assert.equal(noRead.res.body.error.required_scope, "read");
    assert.equal(noRead.set, "", "no cookie");
    assert.equal((await signIn(undefined)).res.status, 400);
    const s = await signIn(admin);
    const [id, sig] = s.cookie.split("=")[1].split(".");
    const forged = { cookie: `edgesoc_session=${id.replace(/^./, (c) => (c === "a" ? "b" : "a"))}.${sig}` };
    assert.equal((await as(forged, "/events")).status, 401, "another id under the same signature");
    assert.equal((await as({ cookie: `edgesoc_session=${id}.${"0".repeat(64)}` }, "/events")).status, 401, "a wrong signature");
    assert.equal((await as({ cookie: `edgesoc_session=${id}` }, "/events")).status, 401, "unsigned");
  });
});

describe("changes made with a session", () => {
  test("need the session's CSRF token, name the person's key, and are audited as a session", async () => {
    const alert = await anAlert(admin);
    const s = await signIn(admin);
    const none = await as(s, `/alerts/${alert.id}`, { method: "PATCH", body: { action: "resolve" } });
    assert.equal(none.status, 403);
    assert.equal(none.body.code, "CSRF_TOKEN_INVALID");
    const other = await signIn(admin);
    assert.equal((await as(s, `/alerts/${alert.id}`, { method: "PATCH", body: { action: "resolve" }, csrf: other.csrf })).status, 403, "another session's token");
    assert.equal((await app.request(`/alerts/${alert.id}`, { key: admin })).body.data.status, "open", "nothing changed");
    const ok = await as(s, `/alerts/${alert.id}`, { method: "PATCH", body: { action: "resolve" }, csrf: s.csrf });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.resolved_by, `dana (${admin.slice(0, 14)})`);
    const log = (await app.request("/audit?action=alert.resolve", { key: admin })).body.data;
    assert.deepEqual([log[0].actor_kind, log[0].target], ["session", alert.id]);
    const signIns = (await app.request("/audit?action=session.create", { key: admin })).body.data;
    assert.ok(signIns.length >= 2 && signIns.every((e) => e.actor.startsWith("dana (")));
  });

  test("a viewer reads but cannot resolve", async () => {
    const alert = (await app.request("/alerts", { key: admin })).body.data[0];
    const s = await signIn(viewer);
    assert.equal(s.res.body.data.role, "viewer");
    assert.equal((await as(s, "/alerts")).status, 200);
    const res = await as(s, `/alerts/${alert.id}`, { method: "PATCH", body: { action: "reopen" }, csrf: s.csrf });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.required_scope, "respond");
  });
});

describe("a session ends", () => {
  test("on sign-out, with its key, and never reaches another organisation", async () => {
    const s = await signIn(admin);
    assert.equal((await as(s, "/session", { method: "DELETE" })).status, 403, "sign-out is a change: CSRF");
    const out = await as(s, "/session", { method: "DELETE", csrf: s.csrf });
    assert.equal(out.status, 200);
    assert.match(out.headers.get("set-cookie"), /edgesoc_session=;.*Max-Age=0/);
    assert.equal((await as(s, "/events")).status, 401, "signed out");

    const temp = await app.request("/keys", { method: "POST", key: admin, headers: json, body: { name: "temp", scopes: ["read"] } });
    const t = await signIn(temp.body.data.key);
    assert.equal((await as(t, "/events")).status, 200);
    assert.equal((await app.request(`/keys/${temp.body.data.id}`, { method: "DELETE", key: admin })).status, 200);
    assert.equal((await as(t, "/events")).status, 401, "the key revoked: its session ends");

    const mine = await signIn(other);
    const theirs = (await as(mine, "/events?limit=200")).body.data;
    assert.ok(theirs.every((e) => e.actor_id !== "mallory"), "another organisation's session sees its own events only");
  });

  test("an organisation's origin list applies to signing in", async () => {
    assert.equal((await app.request("/settings/origins", { method: "PUT", key: other, headers: json, body: { origins: ["https://soc.example"] } })).status, 200);
    assert.equal((await signIn(other, { Origin: "https://evil.example" })).res.status, 403);
    assert.equal((await signIn(other, { Origin: "https://soc.example" })).res.status, 201);
  });
});
