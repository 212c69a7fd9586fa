// Cloudflare Access sign-in through the Worker in Miniflare (docs/api.md §2.8), with a local JWKS
// (ACCESS_JWKS) and tokens signed here with RS256: a member's token signs them in with their role
// and e-mail as the actor; expired, wrong-audience, wrong-issuer, wrong-key, alg:none and tampered
// tokens, and non-members, get 401; a viewer cannot resolve; changes need the CSRF token.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { start } from "./harness.mjs";

const TEAM = "acme.cloudflareaccess.com";
const AUD = "edgesoc-app-aud";
const pair = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
const team = pair();
const stranger = pair();
const JWKS = { keys: [{ ...team.publicKey.export({ format: "jwk" }), kid: "team-1", alg: "RS256", use: "sig" }] };
const b64 = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** A token for `email`, changed by `over` ({header, claims, key, signature}). */
function token(email, over = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", kid: "team-1", typ: "JWT", ...over.header };
  const claims = { aud: [AUD], iss: `https://${TEAM}`, email, iat: now, nbf: now, exp: now + 600, sub: email, ...over.claims };
  const input = `${b64(header)}.${b64(claims)}`;
  const sig = over.signature ?? sign("RSA-SHA256", Buffer.from(input), (over.key ?? team).privateKey).toString("base64url");
  return `${input}.${sig}`;
}

let app, admin;
before(async () => {
  app = await start({ bindings: { TENANT_CACHE_SECONDS: "0", ACCESS_TEAM_DOMAIN: TEAM, ACCESS_AUD: AUD, ACCESS_JWKS: JSON.stringify(JWKS) } });
  admin = await app.createKey({ org: "Behind Access", plan: "pro" });
  const json = { "content-type": "application/json" };
  for (const [email, role] of [["lead@acme.example", "admin"], ["analyst@acme.example", "responder"], ["intern@acme.example", "viewer"]]) {
    assert.equal((await app.request(`/members/${encodeURIComponent(email)}`, { method: "PUT", key: admin, headers: json, body: { role } })).status, 200);
  }
});
after(() => app?.dispose());

const as = (t, path, opts = {}) => app.request(path, { ...opts, headers: { "Cf-Access-Jwt-Assertion": t, ...(opts.headers ?? {}) } });

test("a member's token signs them in with their role, and their e-mail is the actor", async () => {
  const t = token("Analyst@Acme.example");
  const me = await as(t, "/session");
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.deepEqual([me.body.data.via, me.body.data.role, me.body.data.actor], ["access", "responder", "analyst@acme.example"]);
  assert.deepEqual(me.body.data.scopes, ["read", "respond"]);
  assert.equal((await as(t, "/events")).status, 200);
  assert.equal((await as(t, "/keys")).status, 403, "a responder does not administer");

  assert.equal((await app.collect(admin, { event: "admin.privilege_escalation", actor: { id: "mallory" }, user_ip: "203.0.113.52" })).status, 202);
  const alert = await app.eventually(async () => (await app.request("/alerts", { key: admin })).body.data?.[0] ?? null);
  const body = { action: "resolve" };
  const noCsrf = await as(t, `/alerts/${alert.id}`, { method: "PATCH", body, headers: { "content-type": "application/json" } });
  assert.equal(noCsrf.status, 403);
  assert.equal(noCsrf.body.code, "CSRF_TOKEN_INVALID");
  const ok = await as(t, `/alerts/${alert.id}`, { method: "PATCH", body, headers: { "content-type": "application/json", "X-CSRF-Token": me.body.data.csrf_token } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.data.resolved_by, "analyst@acme.example", "a person, not a key");
  const [entry] = (await app.request("/audit?action=alert.resolve", { key: admin })).body.data;
  assert.deepEqual([entry.actor, entry.actor_kind], ["analyst@acme.example", "access"]);
  assert.equal((await app.request("/audit/verify", { key: admin })).body.data.valid, true);

  const viewer = token("intern@acme.example");
  const vme = await as(viewer, "/session");
  const res = await as(viewer, `/alerts/${alert.id}`, { method: "PATCH", body: { action: "reopen" }, headers: { "content-type": "application/json", "X-CSRF-Token": vme.body.data.csrf_token } });
  assert.equal(res.status, 403, "a viewer cannot change an alert");
  assert.equal(res.body.error.required_scope, "respond");
});

test("expired, foreign, forged and tampered tokens, and non-members, are 401", async () => {
  const now = Math.floor(Date.now() / 1000);
  const good = token("lead@acme.example");
  const [h, p, s] = good.split(".");
  const tampered = `${h}.${b64({ ...JSON.parse(Buffer.from(p, "base64url")), email: "lead@acme.example", role: "x", exp: now + 99999 })}.${s}`;
  const cases = {
    expired: token("lead@acme.example", { claims: { exp: now - 1 } }),
    "wrong audience": token("lead@acme.example", { claims: { aud: ["another-app"] } }),
    "wrong issuer": token("lead@acme.example", { claims: { iss: "https://evil.cloudflareaccess.com" } }),
    "another key, same kid": token("lead@acme.example", { key: stranger }),
    "unknown kid": token("lead@acme.example", { header: { kid: "team-9" } }),
    "alg none": `${b64({ alg: "none", kid: "team-1" })}.${p}.`,
    "alg HS256": token("lead@acme.example", { header: { alg: "HS256" } }),
    tampered,
    "not a member": token("someone@elsewhere.example"),
    garbage: "not.a.token",
  };
  for (const [name, t] of Object.entries(cases)) {
    const res = await as(t, "/events");
    assert.equal(res.status, 401, `${name}: ${res.status}`);
  }
  assert.equal((await as(good, "/events")).status, 200, "the good one still works");
  assert.equal((await app.request(`/members/${encodeURIComponent("lead@acme.example")}`, { method: "DELETE", key: admin })).status, 200);
  assert.equal((await as(token("lead@acme.example"), "/events")).status, 401, "removed: no longer signs in");
});
