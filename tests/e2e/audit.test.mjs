// The audit log through the Worker in Miniflare (docs/api.md §5.11, §5.6):
//  - every kind of change made through the API is an entry naming the calling key, its address,
//    the action, the target and what changed (never a secret);
//  - `resolved_by` and `acknowledged_by` name the caller; the body's text is kept as a note;
//  - the chain verifies, and an edited, deleted or inserted row in D1 is named by GET /audit/verify;
//  - pages, filters, NDJSON and CSV exports; organisations apart; the admin scope.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

const json = { "content-type": "application/json" };
const IP = "198.51.100.23";

let app, admin, other;
before(async () => {
  app = await start({ bindings: { TENANT_CACHE_SECONDS: "0" } });
  admin = await app.createKey({ org: "Audited", plan: "pro", name: "soc lead" });
  other = await app.createKey({ org: "Audited Other", plan: "pro", name: "other lead" });
});
after(() => app?.dispose());

const call = (method, path, { key = admin, body } = {}) =>
  app.request(path, { method, key, body, headers: { ...(body === undefined ? {} : json), "CF-Connecting-IP": IP } });

/** One alert of `key`'s organisation, raised by an instant-alert event. */
async function anAlert(key) {
  const sent = await app.collect(key, { event: "admin.privilege_escalation", actor: { id: "mallory" }, user_ip: "203.0.113.50" });
  assert.equal(sent.status, 202);
  return app.eventually(async () => (await app.request("/alerts", { key })).body.data?.[0] ?? null);
}

async function entries(key = admin, qs = "") {
  const res = await app.request(`/audit${qs}`, { key });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

describe("what the audit log records", () => {
  test("each change names the caller, its address, the action, the target and what changed", async () => {
    const alert = await anAlert(admin);
    const ack = await call("PATCH", `/alerts/${alert.id}`, { body: { action: "acknowledge", resolved_by: "dana" } });
    assert.equal(ack.status, 200);
    assert.match(ack.body.data.acknowledged_by, /^soc lead \(lsoc_live_.{4}\)$/, "the caller, not the body");
    const res = await call("PATCH", `/alerts/${alert.id}`, {
      body: { action: "resolve", resolution_type: "blocked_ip", internal_notes: "blocked", resolved_by: "someone@else" },
    });
    assert.equal(res.status, 200);
    assert.match(res.body.data.resolved_by, /^soc lead \(lsoc_live_.{4}\)$/);
    assert.equal(res.body.data.metadata.resolved_by_note, "someone@else", "the SDK's text kept as a note");
    assert.equal(res.body.data.metadata.internal_notes, "blocked");

    const sup = await call("POST", "/suppressions", { body: { scope: "ip", value: "203.0.113.9", reason: "scanner" } });
    assert.equal(sup.status, 201, JSON.stringify(sup.body));
    assert.equal((await call("DELETE", `/suppressions/${sup.body.data.id}`)).status, 200);
    const dst = await call("POST", "/destinations", { body: { name: "pager", kind: "pagerduty", routing_key: "R0UT1NGKEYSECRETVALUE0123456789a" } });
    assert.equal(dst.status, 201, JSON.stringify(dst.body));
    assert.equal((await call("PATCH", `/destinations/${dst.body.data.id}`, { body: { enabled: false } })).status, 200);
    assert.equal((await call("DELETE", `/destinations/${dst.body.data.id}`)).status, 200);
    assert.equal((await call("PATCH", "/settings/detection", { body: { brute_force_ip: { threshold: 7 } } })).status, 200);
    const key = await call("POST", "/keys", { body: { name: "shipper", scopes: ["ingest"] } });
    assert.equal(key.status, 201);
    assert.equal((await call("POST", `/keys/${key.body.data.id}/rotate`, { body: { overlap_seconds: 0 } })).status, 201);
    assert.equal((await call("DELETE", `/keys/${key.body.data.id}`)).status, 404, "rotated with no overlap: already gone");
    // A change that changes nothing records nothing.
    assert.equal((await call("DELETE", `/suppressions/${sup.body.data.id}`)).status, 404);
    assert.equal((await call("PATCH", "/alerts/00000000-0000-4000-8000-000000000000", { body: { action: "resolve" } })).status, 404);

    const log = (await entries(admin, "?limit=200")).data.reverse();
    assert.deepEqual(log.map((e) => e.action), [
      "alert.acknowledge", "alert.resolve", "suppression.create", "suppression.delete",
      "destination.create", "destination.update", "destination.delete", "settings.detection.update",
      "key.create", "key.rotate",
    ]);
    assert.deepEqual(log.map((e) => e.seq), log.map((_, i) => i + 1), "numbered from 1 without gaps");
    for (const e of log) {
      assert.match(e.actor, /^soc lead \(lsoc_live_.{4}\)$/);
      assert.equal(e.actor_kind, "key");
      assert.equal(e.ip, IP);
      assert.match(e.hash, /^[0-9a-f]{64}$/, "sealed");
    }
    assert.equal(log[0].target, alert.id);
    assert.deepEqual([log[1].detail.status, log[1].detail.resolution_type, log[1].detail.resolved_by_note], ["resolved", "blocked_ip", "someone@else"]);
    assert.equal(log[7].detail.brute_force_ip.threshold, 7);
    assert.deepEqual(log[8].detail.scopes, ["ingest"]);
    assert.doesNotMatch(JSON.stringify(log), /R0UT1NGKEYSECRET|lsoc_live_[A-Za-z0-9]{32}/, "no secret, no key");
  });

  test("another organisation's log is its own, and only admin keys read it", async () => {
    const theirs = await entries(other);
    assert.equal(theirs.data.length, 0);
    const reader = await app.createKey({ org: "Audited", plan: "pro", scopes: ["read", "respond"] });
    for (const path of ["/audit", "/audit/export", "/audit/verify"]) {
      const res = await app.request(path, { key: reader });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.error.required_scope, "admin");
    }
  });
});

describe("reading and verifying the log", () => {
  test("pages and filters", async () => {
    const first = await entries(admin, "?limit=3");
    assert.equal(first.data.length, 3);
    const next = await entries(admin, `?limit=3&before=${first.next_before}`);
    assert.equal(next.data[0].seq, first.data[2].seq - 1);
    const alerts = await entries(admin, "?action=alert.");
    assert.ok(alerts.data.length >= 2 && alerts.data.every((e) => e.action.startsWith("alert.")));
    assert.equal((await entries(admin, "?action=alert")).data.length, 0, "exact unless it ends in a dot");
    assert.equal((await app.request("/audit?before=-1", { key: admin })).status, 400);
  });

  test("exports as NDJSON and CSV, in order, with the next position", async () => {
    const nd = await app.request("/audit/export", { key: admin });
    assert.equal(nd.status, 200);
    assert.match(nd.headers.get("content-type"), /application\/x-ndjson/);
    const lines = nd.body.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((e) => e.seq), lines.map((_, i) => i + 1));
    assert.equal(nd.headers.get("x-next-after"), null);
    const part = await app.request("/audit/export?after=5", { key: admin });
    assert.equal(part.body.trim().split("\n").map((l) => JSON.parse(l))[0].seq, 6);
    const csv = await app.request("/audit/export?format=csv", { key: admin });
    assert.match(csv.headers.get("content-type"), /text\/csv/);
    const rows = csv.body.trim().split("\r\n");
    assert.equal(rows[0], "seq,at,actor,actor_kind,ip,action,target,detail,hash");
    assert.equal(rows.length, lines.length + 1);
    assert.equal((await app.request("/audit/export?format=xml", { key: admin })).status, 400);
  });

  test("verification holds, then names an edited, a deleted and an inserted row", async () => {
    const ok = await app.request("/audit/verify", { key: admin });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.valid, true, JSON.stringify(ok.body));
    const n = ok.body.data.checked;
    assert.ok(n >= 10);
    assert.equal(ok.body.data.head.seq, n);
    const org = await app.count("SELECT org_id FROM api_keys WHERE name = 'soc lead'");
    const verdict = async () => (await app.request("/audit/verify", { key: admin })).body.data;

    // Edited: someone changes who resolved the alert.
    await app.db.prepare("UPDATE audit_log SET actor = 'nobody' WHERE org_id = ? AND seq = 2").bind(org).run();
    let v = await verdict();
    assert.equal(v.valid, false);
    assert.equal(v.first_broken.seq, 2);
    assert.match(v.first_broken.reason, /does not match its hash/);
    await app.db.prepare("UPDATE audit_log SET actor = (SELECT actor FROM audit_log WHERE org_id = ?1 AND seq = 1) WHERE org_id = ?1 AND seq = 2").bind(org).run();
    assert.equal((await verdict()).valid, true, "restored");

    // Inserted: the log renumbered around a forged entry.
    await app.db.prepare("UPDATE audit_log SET seq = seq + 1000 WHERE org_id = ? AND seq >= 4").bind(org).run();
    await app.db.prepare("UPDATE audit_log SET seq = seq - 999 WHERE org_id = ? AND seq > 1000").bind(org).run();
    await app.db.prepare(
      "INSERT INTO audit_log (org_id, seq, at, actor, actor_kind, ip, action, target, detail, hash) " +
      "SELECT org_id, 4, at, actor, actor_kind, ip, 'key.create', NULL, '{}', hash FROM audit_log WHERE org_id = ? AND seq = 3",
    ).bind(org).run();
    v = await verdict();
    assert.equal(v.valid, false);
    assert.equal(v.first_broken.seq, 4);

    // Deleted: the forged entry removed again leaves a gap.
    await app.db.prepare("DELETE FROM audit_log WHERE org_id = ? AND seq = 4").bind(org).run();
    v = await verdict();
    assert.equal(v.valid, false);
    assert.equal(v.first_broken.seq, 4);
    assert.match(v.first_broken.reason, /missing/);
    assert.equal((await app.request("/audit/verify", { key: other })).body.data.valid, true, "the other organisation's chain is untouched");
  });
});
