// LiteSOC's own integrations end to end (docs/integrations.md): Auth0 log streams and Supabase
// database webhooks become events on the /collect path (quota, queue, enrichment, detection),
// and the litesoc-agent's heartbeat shows the host in GET /agents. Fixtures are written for
// this repository from Auth0's and Supabase's documented payload shapes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";
import { orgIdFor } from "../../scripts/lib/keys.mjs";

let app, pro, capped, other, ingestOnly;
const BERLIN = { country: "DE", city: "Berlin", latitude: "52.52000", longitude: "13.40500", timezone: "Europe/Berlin", asn: 3320, asOrganization: "Deutsche Telekom AG", colo: "FRA" };

/** An Auth0 log record as a custom webhook sends it. */
const auth0 = (type, { ip = "198.51.100.25", user = "auth0|61f0c0ffee", name = "alice@example.com", ...extra } = {}) => ({
  log_id: `900200${Math.random().toString().slice(2, 14)}`,
  data: {
    date: new Date().toISOString(), type, description: extra.description ?? "", connection: "Username-Password-Authentication",
    connection_id: "con_8Jk2", client_id: "aB3dE5fG7hI9", client_name: "Acme Portal", ip,
    user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15",
    user_id: user, user_name: name, strategy: "auth0", strategy_type: "database", ...extra,
  },
});

const post = (path, body, { key = pro, query = true, headers = {} } = {}) => app.request(query ? `${path}?api_key=${encodeURIComponent(key)}` : path, {
  method: "POST", headers: { "Content-Type": "application/json", ...headers }, body, ...(query || headers.Authorization ? {} : { key }),
});

const eventsOf = async (key, ids) => {
  await app.eventually(async () => (await app.count("SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids))) === ids.length);
  const out = [];
  for (const id of ids) {
    const res = await app.request(`/events/${id}`, { key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    out.push(res.body.data);
  }
  return out;
};

before(async () => {
  app = await start();
  pro = await app.createKey({ org: "IntegPro", plan: "pro" });
  capped = await app.createKey({ org: "IntegCapped", plan: "custom", quota: 3 });
  other = await app.createKey({ org: "IntegOther", plan: "pro" });
  ingestOnly = await app.createKey({ org: "IntegPro", plan: "pro", scopes: ["ingest"] });
});
after(() => app.dispose());

describe("POST /webhooks/auth0", () => {
  test("LiteSOC's own test request: 200, the events queued, the tenant headers", async () => {
    const res = await post("/webhooks/auth0", [{
      log_id: "test-log-123",
      data: { date: "2026-03-06T10:00:00.000Z", type: "s", description: "Successful login", connection: "Username-Password-Authentication",
        client_id: "test-client", client_name: "Test App", ip: "198.51.100.25", user_agent: "Mozilla/5.0 Test",
        user_id: "auth0|test123", user_name: "test@example.com" },
    }]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.success, true);
    assert.equal(res.body.queued, 1);
    assert.equal(res.headers.get("x-litesoc-plan"), "pro");
    assert.match(res.headers.get("x-ratelimit-remaining"), /^\d+$/);
    assert.match(res.headers.get("x-litesoc-quota-used"), /^\d+$/);
    const [e] = await eventsOf(pro, res.body.event_ids);
    assert.equal(e.event_name, "auth.login_success");
    assert.equal(e.severity, "low");
    assert.deepEqual([e.actor_id, e.actor_email, e.user_ip], ["auth0|test123", "test@example.com", "198.51.100.25"]);
    assert.equal(e.metadata.source, "auth0");
    assert.equal(e.metadata.user_agent, "Mozilla/5.0 Test", "the device for new-device detection");
    assert.equal(e.metadata.auth0.log_id, "test-log-123", "the original record is kept");
  });

  test("arrays, JSON lines and single objects; Bearer, X-API-Key or the query", async () => {
    const lines = [auth0("f"), auth0("slo"), auth0("fp")].map((r) => JSON.stringify(r)).join("\n") + "\n";
    const cases = [
      [post("/webhooks/auth0", [auth0("s"), auth0("fu")]), ["auth.login_success", "auth.login_failed"]],
      [post("/webhooks/auth0", lines, { query: false, headers: { Authorization: `Bearer ${pro}` } }), ["auth.login_failed", "auth.logout", "auth.login_failed"]],
      [post("/webhooks/auth0", auth0("limit_wc"), { query: false }), ["security.brute_force_detected"]],
      // Auth0's "Authorization Token" field given the bare key.
      [post("/webhooks/auth0", [auth0("s")], { query: false, headers: { Authorization: pro } }), ["auth.login_success"]],
      [post("/v1/webhooks/auth0", [auth0("pwd_leak")]), ["security.suspicious_activity"]],
    ];
    for (const [pending, names] of cases) {
      const res = await pending;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const events = await eventsOf(pro, res.body.event_ids);
      assert.deepEqual(events.map((e) => e.event_name), names);
    }
  });

  test("an unknown type is a custom event, never dropped; a malformed body is a 400 naming the problem", async () => {
    const res = await post("/webhooks/auth0", [auth0("zz_new_code")]);
    assert.equal(res.status, 200);
    const [e] = await eventsOf(pro, res.body.event_ids);
    assert.equal(e.event_name, "auth0.zz_new_code");
    assert.equal(e.severity, "info");
    for (const body of ["{not json", "[]", JSON.stringify([{ log_id: "x", data: { ip: "198.51.100.1" } }]), JSON.stringify([42])]) {
      const bad = await post("/webhooks/auth0", body);
      assert.equal(bad.status, 400, body);
      assert.equal(bad.body.error.code, "VALIDATION_ERROR");
      assert.ok(bad.body.error.details.length >= 1 && bad.body.error.details[0].field, JSON.stringify(bad.body));
    }
  });

  test("the enrichment is the SDK's: the same login through /collect and through Auth0", async () => {
    const sdk = await app.collectFrom(pro, { event: "auth.login_success", actor: { id: "auth0|enrich", email: "e@example.com" }, user_ip: "198.51.100.77" }, "198.51.100.77", BERLIN);
    const hook = await app.request(`/webhooks/auth0?api_key=${pro}`, { method: "POST", body: [auth0("s", { ip: "198.51.100.78", user: "auth0|enrich2", name: "f@example.com" })],
      headers: { "CF-Connecting-IP": "198.51.100.78" }, cf: BERLIN });
    assert.equal(hook.status, 200);
    const [a] = await eventsOf(pro, sdk.body.event_ids);
    const [b] = await eventsOf(pro, hook.body.event_ids);
    for (const k of ["country_code", "city", "latitude", "longitude", "is_vpn", "is_tor", "is_proxy", "is_datacenter"]) assert.deepEqual(b[k], a[k], k);
    assert.equal(b.country_code, "DE");
    assert.deepEqual(b.forensics.network.asn, a.forensics.network.asn);
  });

  test("a burst of Auth0 failures from one address raises a brute-force alert", async () => {
    const ip = "203.0.113.66";
    const res = await post("/webhooks/auth0", Array.from({ length: 6 }, (_, i) => auth0(i % 2 ? "fp" : "fu", { ip, user: `auth0|victim${i % 3}`, name: `v${i % 3}@example.com` })));
    assert.equal(res.status, 200);
    const alert = await app.eventually(async () => {
      const list = await app.request("/alerts?alert_type=brute_force_attack&limit=50", { key: pro });
      return list.body.data.find((a) => a.source_ip === ip);
    });
    assert.ok(alert, "brute force from the Auth0 failures");
    assert.match(alert.title, /Brute force from 203\.0\.113\.66/);
  });

  test("quota counts every record; keys in the query work only here", async () => {
    const res = await post("/webhooks/auth0", [auth0("s"), auth0("s"), auth0("s"), auth0("s")], { key: capped });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "QUOTA_EXCEEDED");
    assert.equal((await post("/webhooks/auth0", [auth0("s"), auth0("s")], { key: capped })).status, 200);
    for (const path of ["/collect", "/events", "/agents", "/ui/mock-data"]) {
      const r = await app.request(`${path}?api_key=${pro}`, { method: path === "/collect" ? "POST" : "GET", body: path === "/collect" ? { event: "auth.logout" } : undefined });
      assert.equal(r.status, 401, `${path} takes no key in the query`);
      const bare = await app.request(path, { method: path === "/collect" ? "POST" : "GET", headers: { Authorization: pro },
        body: path === "/collect" ? { event: "auth.logout" } : undefined });
      assert.equal(bare.status, 401, `${path} takes no bare key as Authorization`);
    }
    assert.equal((await post("/webhooks/auth0", [auth0("s")], { key: "lsoc_live_not_a_key_0000000000000000" })).status, 401);
  });
});

describe("POST /webhooks/supabase", () => {
  const change = (type, table, record, old_record = null, schema = "auth") => ({ type, table, schema, record, old_record });
  const user = { id: "2c1a0e8e-5b1f-4c3e-9a7d-0f1e2d3c4b5a", aud: "authenticated", role: "authenticated", email: "sam@example.com",
    encrypted_password: "$2a$10$abcdefghijklmnopqrstuv", confirmation_token: "tok123", created_at: "2026-12-07T08:00:00Z",
    last_sign_in_at: null, email_confirmed_at: null, raw_user_meta_data: { full_name: "Sam" } };

  test("LiteSOC's own test request, sign-ins, deletions and the audit log become events; secrets are redacted", async () => {
    const signin = { ...user, last_sign_in_at: "2026-12-07T09:00:00Z" };
    const audit = { instance_id: "00000000-0000-0000-0000-000000000000", id: "a7f3", ip_address: "198.51.100.90", created_at: "2026-12-07T09:01:00Z",
      payload: { action: "login", actor_id: user.id, actor_username: user.email, actor_via_sso: false, log_type: "account", traits: { provider: "email" } } };
    const cases = [
      [change("INSERT", "users", { id: "test-uuid-123", email: "supabase-test@example.com", created_at: "2026-03-06T10:00:00.000Z", email_confirmed_at: null }), "admin.user_created"],
      [change("UPDATE", "users", signin, user), "auth.login_success"],
      [change("DELETE", "users", null, user), "admin.user_deleted"],
      [change("INSERT", "audit_log_entries", audit), "auth.login_success"],
    ];
    for (const [body, name] of cases) {
      const res = await post("/webhooks/supabase", body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const events = await eventsOf(pro, res.body.event_ids);
      assert.ok(events.some((e) => e.event_name === name), `${name}: ${events.map((e) => e.event_name)}`);
      const text = JSON.stringify(events);
      assert.doesNotMatch(text, /\$2a\$10\$abcdefghijklmnopqrstuv|tok123/, "no password hash or token is stored");
    }
    const res = await post("/webhooks/supabase", change("INSERT", "audit_log_entries", audit));
    const [e] = await eventsOf(pro, res.body.event_ids);
    assert.deepEqual([e.actor_id, e.user_ip, e.metadata.source], [user.id, "198.51.100.90", "supabase"]);
  });

  test("another table is a custom event; a body of another shape is a 400 naming the field", async () => {
    const res = await post("/webhooks/supabase", change("INSERT", "orders", { id: 7 }, null, "public"));
    assert.equal(res.status, 200);
    const [e] = await eventsOf(pro, res.body.event_ids);
    assert.match(e.event_name, /^supabase\./);
    for (const [body, field] of [[{ table: "users", schema: "auth", record: {} }, "type"], [{ type: "INSERT", schema: "auth", record: {} }, "table"], ["[1]", "body"]]) {
      const bad = await post("/webhooks/supabase", typeof body === "string" ? body : body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.error.details[0].field, field, JSON.stringify(bad.body));
    }
  });

  test("organisations never see each other's webhook events", async () => {
    const res = await post("/webhooks/supabase", change("INSERT", "users", { id: "iso-user", email: "iso@example.com" }), { key: other });
    const ids = res.body.event_ids;
    await eventsOf(other, ids);
    assert.equal((await app.request(`/events/${ids[0]}`, { key: pro })).status, 404);
    assert.equal(await app.count("SELECT count(*) FROM events WHERE id = ? AND org_id = ?", ids[0], orgIdFor("IntegOther")), 1);
  });
});

describe("the litesoc-agent", () => {
  const beat = (key, body) => app.request("/agent/heartbeat", { method: "POST", key, body, headers: { "User-Agent": "litesoc-agent/1.4.2" } });

  test("a heartbeat is acknowledged as the agent expects and shows the host online", async () => {
    const res = await beat(ingestOnly, { hostname: "web-1", ip_address: "10.0.0.5", agent_version: "1.4.2",
      recent_logs: ["Failed password for root from 203.0.113.9 port 22 ssh2", "<img src=x onerror=alert(1)>"] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { success: true, update: { available: false } });
    assert.equal(res.headers.get("x-litesoc-plan"), "pro");
    assert.equal((await beat(ingestOnly, { hostname: "web-1", ip_address: "10.0.0.5", agent_version: "1.4.2" })).status, 200);
    const list = await app.request("/agents", { key: pro });
    assert.equal(list.status, 200);
    const web = list.body.data.find((a) => a.hostname === "web-1");
    assert.equal(web.status, "online");
    assert.equal(web.heartbeats, 2);
    assert.equal(web.agent_version, "1.4.2");
    assert.equal(web.recent_logs.length, 2, "a beat without lines keeps the last ones");
    assert.equal(list.body.stale_after_seconds, 360);
    assert.equal((await app.request("/agents", { key: ingestOnly })).status, 403, "an ingest-only key reads nothing");
  });

  test("an agent silent for longer than its idle cadence allows is stale", async () => {
    await beat(pro, { hostname: "db-1", agent_version: "1.4.2" });
    await app.db.prepare("UPDATE agents SET last_seen = ? WHERE org_id = ? AND hostname = 'db-1'").bind(Date.now() - 7 * 60_000, orgIdFor("IntegPro")).run();
    const db = (await app.request("/agents", { key: pro })).body.data.find((a) => a.hostname === "db-1");
    assert.equal(db.status, "stale");
    assert.ok(db.seconds_since_seen >= 420);
    await beat(pro, { hostname: "db-1" });
    assert.equal((await app.request("/agents", { key: pro })).body.data.find((a) => a.hostname === "db-1").status, "online", "back with its next beat");
  });

  test("an organisation that asks is alerted once when an agent goes silent, through detection", async () => {
    const patch = await app.request("/settings/detection", { method: "PATCH", key: pro, body: { agents: { stale_alert_minutes: 10 }, reason: "page us" } });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    assert.equal(patch.body.data.agents.stale_alert_minutes, 10);
    for (const key of [pro, other]) await beat(key, { hostname: "gone-1", ip_address: "10.0.0.77", agent_version: "1.4.2" });
    const silence = Date.now() - 11 * 60_000;
    await app.db.prepare("UPDATE agents SET last_seen = ? WHERE hostname = 'gone-1'").bind(silence).run();
    await beat(pro, { hostname: "alive-1" });
    const missed = (org) => app.count("SELECT count(*) FROM events WHERE org_id = ? AND event_name = 'agent.heartbeat_missed'", orgIdFor(org));
    await app.scheduled(Date.now(), "*/5 * * * *");
    assert.ok(await app.eventually(async () => (await missed("IntegPro")) === 1), "one event for the silent agent");
    const alert = await app.eventually(async () => (await app.request("/alerts?alert_type=suspicious_activity&limit=50", { key: pro })).body.data
      .find((a) => a.title === "Agent stopped reporting: gone-1"));
    assert.ok(alert, "the alert");
    assert.equal(alert.severity, "low");
    assert.deepEqual([alert.metadata.evidence.hostname, alert.metadata.evidence.silent_minutes], ["gone-1", 10]);
    const [e] = (await app.request(`/events?event_type=agent.heartbeat_missed`, { key: pro })).body.data;
    assert.deepEqual([e.actor_id, e.metadata.hostname, e.metadata.silent_minutes, e.metadata.agent_version], ["gone-1", "gone-1", 11, "1.4.2"]);
    // Once per silence; none for the organisation that did not ask, none for a live agent.
    await app.scheduled(Date.now(), "*/5 * * * *");
    await app.settle({ quietMs: 500 });
    assert.equal(await missed("IntegPro"), 1);
    assert.equal(await missed("IntegOther"), 0);
    // Back, then silent again: a new silence, a new event.
    await beat(pro, { hostname: "gone-1" });
    await app.db.prepare("UPDATE agents SET last_seen = ? WHERE org_id = ? AND hostname = 'gone-1'").bind(Date.now() - 10.5 * 60_000, orgIdFor("IntegPro")).run();
    await app.scheduled(Date.now(), "*/5 * * * *");
    assert.ok(await app.eventually(async () => (await missed("IntegPro")) === 2));
  });

  test("bad heartbeats are 400s naming the field, a bad key 401, and agents are per organisation", async () => {
    for (const [body, field] of [[{}, "hostname"], [{ hostname: "h", recent_logs: "x" }, "recent_logs"], [{ hostname: 5 }, "hostname"]]) {
      const res = await beat(pro, body);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.details[0].field, field);
    }
    assert.equal((await beat("lsoc_live_not_a_key_0000000000000000", { hostname: "x" })).status, 401);
    const theirs = (await app.request("/agents", { key: other })).body.data.map((a) => a.hostname);
    assert.deepEqual(theirs, ["gone-1"], "only their own agent");
  });
});
