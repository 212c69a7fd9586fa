// Suppressions and detection settings end to end (docs/api.md §12): the API through the Worker,
// then attacks through /collect, the queue consumer and the Loki push with a suppression or a
// setting in force, alerts delivered (or not) to a webhook receiver on 127.0.0.1. Isolation
// across organisations is in isolation.test.mjs (section 5).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { receiver, start } from "./harness.mjs";

let app, rx;
before(async () => {
  app = await start();
  rx = await receiver();
});
after(async () => {
  await app.dispose();
  await rx.close();
});

const ns = (ms) => `${BigInt(Math.trunc(ms)) * 1_000_000n}`;
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const call = (method, path, key, body) => app.request(path, { method, key, body });
const suppress = (key, body) => call("POST", "/suppressions", key, body);
/** An organisation on Pro with a webhook taking every alert at `/hook-<tag>`. */
async function org(tag) {
  const key = await app.createKey({ org: `Sup ${tag}`, plan: "pro" });
  const hook = await call("POST", "/destinations", key, { name: tag, kind: "webhook", url: `${rx.url}/hook-${tag}` });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  return key;
}
const delivered = (tag) => rx.requests.filter((r) => r.path === `/hook-${tag}`).map((r) => JSON.parse(r.body).data.alert);
const failures = (n, ip, actor = "victim") =>
  ({ events: Array.from({ length: n }, (_, i) => ({ event: "auth.login_failed", actor: `${actor}${i}`, user_ip: ip })) });
const alerts = async (key, query = "") => (await call("GET", `/alerts${query}`, key)).body;

describe("the API", () => {
  let key;
  before(async () => {
    key = await app.createKey({ org: "Sup API", plan: "pro" });
  });

  test("create, read, list and delete, with canonical values and who created it and why", async () => {
    const made = await suppress(key, {
      scope: "cidr", value: "198.51.100.77/24", reason: "  our VPN egress  ", alert_types: ["brute_force", "impossible_travel"], expires_at: inAnHour(),
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const s = made.body.data;
    assert.match(s.id, /^sup_[0-9a-f]{32}$/);
    assert.deepEqual(
      [s.scope, s.value, s.reason, s.alert_types, s.status, s.created_by, s.deleted_at],
      ["cidr", "198.51.100.0/24", "our VPN egress", ["brute_force_attack", "impossible_travel"], "active", key.slice(0, 14), null],
    );
    for (const [scope, value, canonical] of [["ip", "2001:DB8::0:1", "2001:db8::1"], ["asn", "as13335", "AS13335"], ["asn", 3320, "AS3320"],
      ["actor", " svc-backup ", "svc-backup"], ["country", "nl", "NL"]]) {
      const r = await suppress(key, { scope, value, reason: "why" });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual([r.body.data.value, r.body.data.alert_types, r.body.data.expires_at], [canonical, null, null]);
    }
    const read = await call("GET", `/suppressions/${s.id.toUpperCase()}`, key);
    assert.deepEqual(read.body.data, s);
    const listed = (await call("GET", "/suppressions", key)).body;
    assert.equal(listed.data.length, 6);
    assert.equal(listed.data.at(-1).id, s.id, "newest first");
    assert.equal(listed.meta.max_limit, 500);
    assert.equal((await call("GET", "/suppressions?limit=2", key)).body.data.length, 2);

    const gone = await call("DELETE", `/suppressions/${s.id}`, key);
    assert.equal(gone.status, 200);
    assert.deepEqual([gone.body.data.status, gone.body.data.deleted_by], ["deleted", key.slice(0, 14)]);
    assert.equal((await call("DELETE", `/suppressions/${s.id}`, key)).status, 404, "deleted once");
    assert.equal((await call("GET", `/suppressions/${s.id}`, key)).body.data.status, "deleted", "the record stays readable");
    assert.equal((await call("GET", "/suppressions", key)).body.data.length, 5, "no longer active");
    const all = (await call("GET", "/suppressions?include=expired", key)).body.data;
    assert.equal(all.length, 6);
    for (const path of ["/suppressions/sup_0123", "/suppressions/dst_0123456789abcdef0123456789abcdef", "/suppressions/sup_00000000000000000000000000000000"]) {
      assert.equal((await call("GET", path, key)).status, 404, path);
    }
  });

  test("bad bodies and queries are 400s naming each field", async () => {
    const cases = [
      [{}, ["scope", "reason"]],
      [{ scope: "subnet", value: "x", reason: "r" }, ["scope"]],
      [{ scope: "ip", reason: "r" }, ["value"]],
      [{ scope: "ip", value: "203.0.113.300", reason: "r" }, ["value"]],
      [{ scope: "cidr", value: "10.0.0.0/7", reason: "r" }, ["value"]],
      [{ scope: "cidr", value: "2001:db8::/15", reason: "r" }, ["value"]],
      [{ scope: "asn", value: "AS4294967296", reason: "r" }, ["value"]],
      [{ scope: "actor", value: "a".repeat(256), reason: "r" }, ["value"]],
      [{ scope: "country", value: "XX", reason: "r" }, ["value"]],
      [{ scope: "ip", value: "203.0.113.1", reason: "r".repeat(501) }, ["reason"]],
      [{ scope: "ip", value: "203.0.113.1", reason: " " }, ["reason"]],
      [{ scope: "ip", value: "203.0.113.1", reason: "r", alert_types: ["ddos"] }, ["alert_types"]],
      [{ scope: "ip", value: "203.0.113.1", reason: "r", alert_types: [] }, ["alert_types"]],
      [{ scope: "ip", value: "203.0.113.1", reason: "r", expires_at: new Date(Date.now() - 1000).toISOString() }, ["expires_at"]],
      [{ scope: "ip", value: "203.0.113.1", reason: "r", expires_at: "next friday" }, ["expires_at"]],
    ];
    for (const [body, fields] of cases) {
      const res = await suppress(key, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(res.body.error.details.map((d) => d.field), fields, JSON.stringify(body));
    }
    assert.equal((await call("GET", "/suppressions?include=everything", key)).body.error.details[0].field, "include");
  });

  test("an organisation has at most 200 active suppressions; an ended one makes room", async () => {
    const full = await app.createKey({ org: "Sup Full", plan: "pro" });
    const ids = [];
    for (let i = 0; i < 200; i++) {
      const r = await suppress(full, { scope: "actor", value: `user${i}`, reason: "bulk" });
      assert.equal(r.status, 201, `${i}: ${JSON.stringify(r.body)}`);
      ids.push(r.body.data.id);
    }
    const refused = await suppress(full, { scope: "actor", value: "one-too-many", reason: "bulk" });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.details[0].field, "suppressions");
    assert.equal((await call("DELETE", `/suppressions/${ids[0]}`, full)).status, 200);
    assert.equal((await suppress(full, { scope: "actor", value: "one-too-many", reason: "bulk" })).status, 201);
  });
});

describe("what a suppression does", () => {
  test("an attack from a suppressed network is recorded, counted, never delivered, hidden until asked for, and alerts normally once the suppression expires", async () => {
    const [quiet, loud] = [await org("quiet"), await org("loud")];
    const expiresAt = Date.now() + 6000;
    const sup = await suppress(quiet, { scope: "cidr", value: "203.0.113.0/24", reason: "pentest vendor", expires_at: new Date(expiresAt).toISOString() });
    assert.equal(sup.status, 201, JSON.stringify(sup.body));
    // The same six failed logins from the network in both organisations.
    for (const key of [quiet, loud]) assert.equal((await app.collect(key, failures(6, "203.0.113.9"))).status, 202);
    await app.settle();
    assert.ok(await app.eventually(() => delivered("loud").length === 1), "the control organisation's alert is delivered");
    const hidden = await alerts(quiet);
    assert.deepEqual(hidden.data, [], "hidden from GET /alerts by default");
    assert.equal(hidden.pagination.total, 0);
    const shown = await alerts(quiet, "?status=suppressed");
    assert.equal(shown.data.length, 1);
    const [s] = shown.data;
    const [control] = (await alerts(loud)).data;
    assert.deepEqual([s.alert_type, s.status, s.suppressed_by, s.source_ip], ["brute_force_attack", "open", sup.body.data.id, "203.0.113.9"]);
    assert.equal(s.metadata.occurrences, control.metadata.occurrences, "counted as usual");
    assert.equal(control.suppressed_by, null);
    assert.equal((await alerts(quiet, "?status=open,suppressed")).data.length, 1);
    assert.equal((await alerts(quiet, "?status=open")).data.length, 0);
    assert.equal((await call("GET", `/alerts/${s.id}`, quiet)).body.data.suppressed_by, sup.body.data.id, "readable by id");
    const dash = (await call("GET", "/ui/mock-data", quiet)).body;
    assert.deepEqual([dash.anomalies, dash.stats.totalAnomalies], [[], 0], "not on the dashboard");
    assert.equal((await call("GET", "/ui/mock-data", loud)).body.stats.totalAnomalies, 1);
    assert.deepEqual(delivered("quiet"), [], "never delivered");

    // Once the suppression has expired, the same attack alerts and is delivered.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
    assert.equal((await call("GET", `/suppressions/${sup.body.data.id}`, quiet)).body.data.status, "expired");
    assert.equal((await app.collect(quiet, failures(6, "203.0.113.9", "later"))).status, 202);
    await app.settle();
    assert.ok(await app.eventually(() => delivered("quiet").length === 1), "delivered after expiry");
    const now = await alerts(quiet);
    assert.equal(now.data.length, 1);
    assert.equal(now.data[0].suppressed_by, null);
    assert.notEqual(now.data[0].id, s.id, "a new alert, not the suppressed one");
    assert.equal((await alerts(quiet, "?status=suppressed")).data.length, 1, "the suppressed one is kept");
  });

  test("mark safe and suppress in one call: the alert is safe, and the next alert from its address is suppressed", async () => {
    const key = await org("marked");
    const first = { event: "admin.privilege_escalation", actor: "deploy-bot", user_ip: "192.0.2.44" };
    assert.equal((await app.collect(key, first)).status, 202);
    const alert = await app.eventually(async () => (await alerts(key)).data[0]);
    assert.ok(alert, "alert raised");
    const res = await call("PATCH", `/alerts/${alert.id}`, key, {
      action: "mark_safe", resolved_by: "dana", suppress: { scope: "ip", expires_at: inAnHour(), reason: "CI runner" },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.data.status, res.body.data.action, res.body.data.resolved_by], ["safe", "mark_safe", key.slice(0, 14)]);
    assert.equal(res.body.data.metadata.resolved_by_note, "dana");
    const s = res.body.data.suppression;
    assert.deepEqual([s.scope, s.value, s.alert_types, s.reason, s.status], ["ip", "192.0.2.44", ["privilege_escalation"], "CI runner", "active"]);
    assert.equal((await call("GET", `/suppressions/${s.id}`, key)).body.data.id, s.id);
    // A scope the alert has no value for, and suppress without mark_safe: 400, nothing changes.
    const noCountry = await call("PATCH", `/alerts/${alert.id}`, key, { action: "mark_safe", suppress: { scope: "country" } });
    assert.deepEqual([noCountry.status, noCountry.body.error.details[0].field], [400, "suppress.scope"]);
    const notSafe = await call("PATCH", `/alerts/${alert.id}`, key, { action: "reopen", suppress: { scope: "ip" } });
    assert.deepEqual([notSafe.status, notSafe.body.error.details[0].field], [400, "suppress"]);
    assert.equal((await call("GET", "/suppressions", key)).body.data.length, 1);

    assert.equal((await app.collect(key, { ...first, actor: "deploy-bot-2" })).status, 202);
    const quiet = await app.eventually(async () => (await alerts(key, "?status=suppressed")).data[0]);
    assert.equal(quiet?.suppressed_by, s.id);
    await app.settle();
    assert.equal(delivered("marked").length, 1, "only the first alert was delivered");
  });

  test("Loki lines from a suppressed network are recorded as suppressed; others alert", async () => {
    const key = await org("lines");
    assert.equal((await suppress(key, { scope: "cidr", value: "198.51.100.0/24", reason: "bastion" })).status, 201);
    const push = async (ip) => {
      const now = Date.now();
      // One account per network: sshd lines carry their user (docs/dashboard.md §7.5), and twelve failures against
      // one account would raise a per-account alert besides the per-IP ones.
      const values = Array.from({ length: 6 }, (_, i) => [ns(now - (6 - i) * 1000), `sshd: Failed password for ops-${ip} from ${ip} port 22 ssh2`]);
      const res = await app.request("/loki/api/v1/push", { method: "POST", key, headers: { "Content-Type": "application/json" }, body: { streams: [{ stream: { job: "sshd" }, values }] } });
      assert.equal(res.status, 204);
    };
    await push("198.51.100.10");
    await push("192.0.2.10");
    const quiet = (await alerts(key, "?status=suppressed")).data;
    const loud = (await alerts(key)).data;
    assert.deepEqual(quiet.map((a) => a.source_ip), ["198.51.100.10"]);
    assert.deepEqual(loud.map((a) => a.source_ip), ["192.0.2.10"]);
    assert.ok(await app.eventually(() => delivered("lines").length === 1));
    assert.deepEqual(delivered("lines").map((a) => a.source_ip), ["192.0.2.10"]);
  });
});

describe("detection settings", () => {
  test("the documented defaults, validated changes as merge patches, and who changed them, when and why", async () => {
    const key = await app.createKey({ org: "Sup Settings", plan: "pro" });
    const first = (await call("GET", "/settings/detection", key)).body.data;
    const defaults = {
      brute_force_ip: { threshold: 5, window_minutes: 5 }, brute_force_account: { threshold: 10, window_minutes: 60 },
      travel: { min_speed_kmh: 805, min_distance_km: 500 }, agents: { stale_alert_minutes: 0 }, country_blocklist: [],
    };
    assert.deepEqual(first, { ...defaults, defaults, reason: null, updated_by: null, updated_at: null });
    const changed = await call("PATCH", "/settings/detection", key, {
      brute_force_account: { window_minutes: 30 }, travel: { min_speed_kmh: 1000 }, country_blocklist: ["kp", "IR", "kp"], reason: "tuning",
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const d = changed.body.data;
    assert.deepEqual(d.brute_force_account, { threshold: 10, window_minutes: 30 });
    assert.deepEqual(d.travel, { min_speed_kmh: 1000, min_distance_km: 500 });
    assert.deepEqual(d.country_blocklist, ["KP", "IR"]);
    assert.deepEqual([d.reason, d.updated_by], ["tuning", key.slice(0, 14)]);
    assert.ok(Math.abs(Date.parse(d.updated_at) - Date.now()) < 60_000);
    const reset = (await call("PATCH", "/settings/detection", key, { travel: { min_speed_kmh: null }, country_blocklist: null })).body.data;
    assert.deepEqual([reset.travel, reset.country_blocklist, reset.brute_force_account.window_minutes, reset.reason], [defaults.travel, [], 30, null]);
    for (const [body, field] of [
      [{ brute_force_ip: { threshold: 1 } }, "brute_force_ip.threshold"],
      [{ brute_force_ip: { threshold: 1001 } }, "brute_force_ip.threshold"],
      [{ brute_force_account: { window_minutes: 1441 } }, "brute_force_account.window_minutes"],
      [{ brute_force_account: { window_minutes: 2.5 } }, "brute_force_account.window_minutes"],
      [{ travel: { min_speed_kmh: 99.9 } }, "travel.min_speed_kmh"],
      [{ travel: { min_distance_km: 5001 } }, "travel.min_distance_km"],
      [{ travel: { max_speed: 5 } }, "travel.max_speed"],
      [{ country_blocklist: ["XX"] }, "country_blocklist"],
      [{ country_blocklist: Array.from({ length: 251 }, () => "DE") }, "country_blocklist"],
      [{ rate_limit: { threshold: 2 } }, "rate_limit"],
      [{}, "body"],
    ]) {
      const res = await call("PATCH", "/settings/detection", key, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(res.body.error.details.map((x) => x.field), [field], JSON.stringify(body));
    }
    assert.deepEqual((await call("GET", "/settings/detection", key)).body.data, reset, "refused patches change nothing");
  });

  test("a brute-force threshold lowered to 3 raises on the third failure, for events and for Loki lines", async () => {
    const key = await app.createKey({ org: "Sup Threshold", plan: "pro" });
    assert.equal((await call("PATCH", "/settings/detection", key, { brute_force_ip: { threshold: 3 } })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await app.collect(key, { event: "auth.login_failed", actor: `u${i}`, user_ip: "203.0.113.30" })).status, 202);
    await app.settle();
    assert.deepEqual((await alerts(key)).data, [], "two failures: nothing yet");
    assert.equal((await app.collect(key, { event: "auth.login_failed", actor: "u2", user_ip: "203.0.113.30" })).status, 202);
    const raised = await app.eventually(async () => (await alerts(key)).data[0]);
    assert.ok(raised, "the third failure raised");
    assert.deepEqual([raised.metadata.evidence.count, raised.metadata.evidence.threshold, raised.metadata.occurrences], [3, 3, 1]);

    const now = Date.now();
    const values = [0, 1, 2].map((i) => [ns(now - (3 - i) * 1000), "sshd: Failed password for admin from 192.0.2.30 port 22 ssh2"]);
    const push = await app.request("/loki/api/v1/push", { method: "POST", key, headers: { "Content-Type": "application/json" }, body: { streams: [{ stream: { job: "sshd" }, values }] } });
    assert.equal(push.status, 204);
    const fromLines = (await alerts(key)).data.find((a) => a.source_ip === "192.0.2.30");
    assert.equal(fromLines?.metadata.evidence.threshold, 3, "the push detects with the organisation's settings");
  });

  test("a country on the blocklist raises a high geo anomaly on any login from it, the first one included", async () => {
    const key = await app.createKey({ org: "Sup Blocklist", plan: "pro" });
    const patch = await call("PATCH", "/settings/detection", key, { country_blocklist: ["br"], reason: "no staff in Brazil" });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    const SAO_PAULO = { country: "BR", city: "Sao Paulo", latitude: "-23.55050", longitude: "-46.63330", timezone: "America/Sao_Paulo", asn: 28573, asOrganization: "Claro" };
    const BERLIN = { country: "DE", city: "Berlin", latitude: "52.52000", longitude: "13.40500", timezone: "Europe/Berlin", asn: 3320, asOrganization: "Deutsche Telekom AG" };
    // Berlin is not on the list: the actor's first login there raises nothing.
    assert.equal((await app.collectFrom(key, { event: "auth.login_success", actor: "bl-1", user_ip: "198.51.100.231" }, "198.51.100.231", BERLIN)).status, 202);
    assert.equal((await app.collectFrom(key, { event: "auth.login_success", actor: "bl-2", user_ip: "198.51.100.232" }, "198.51.100.232", SAO_PAULO)).status, 202);
    const raised = await app.eventually(async () => { const { data } = await alerts(key, "?alert_type=geo_anomaly"); return data.length ? data : null; });
    assert.equal(raised.length, 1, JSON.stringify(raised));
    const [a] = raised;
    assert.deepEqual([a.actor_id, a.severity, a.metadata.confidence], ["bl-2", "high", 90]);
    assert.equal(a.description, "Login from Brazil (BR), a country on your blocklist");
    assert.deepEqual([a.metadata.evidence.country, a.metadata.evidence.blocklisted], ["BR", true]);
  });
});
