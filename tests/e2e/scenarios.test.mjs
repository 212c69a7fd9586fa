// Replays tests/scenarios/detection.json: every labelled attack must raise exactly its alerts,
// and nothing benign may raise any (travel through a VPN is recorded at low severity, as the
// contract says; a suppressed attack is recorded as suppressed). The same file is played
// natively by crates/core/src/detect/scenarios_tests.rs. History steps are stored in D1 with past times; present steps go through
// POST /collect with cf metadata, the queue and the consumer's detection.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { orgIdFor } from "../../scripts/lib/keys.mjs";
import { start } from "./harness.mjs";

const file = JSON.parse(readFileSync(new URL("../scenarios/detection.json", import.meta.url), "utf8"));
let app;
before(async () => {
  app = await start();
});
after(() => app.dispose());

const LOG_TYPE = { "auth.login_failed": "login_failure", "auth.login_success": "login_success" };

/** Stores a past event as the consumer would have: the event row (severity and location
 *  included) holding its dashboard log item (migrations/0019_events_stored_once.sql: the type
 *  detection reads failed logins by; NULL item columns are the event's own values), numbered
 *  after every stored item as the consumer numbers them. */
async function seed(org, step, place, createdAt) {
  const id = randomUUID();
  const sev = { "auth.login_failed": "medium", "auth.login_success": "low", "security.rate_limit_exceeded": "medium" }[step.event] ?? "info";
  await app.db.prepare(
    `INSERT INTO events (rowid, id, org_id, event_name, category, severity, instant_alert, actor_id, user_ip, country_code,
       city, latitude, longitude, is_vpn, is_tor, is_proxy, is_datacenter, metadata, created_at, item_type, item_level)
     VALUES ((SELECT max(coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0))) + 1,
       ?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, 0, 0, ?13, ?14, ?15, 'info')`)
    .bind(id, orgIdFor(org), step.event, step.event.split(".")[0], sev, step.actor, step.ip, place.country,
      place.city, Number(place.latitude), Number(place.longitude), place.vpn ? 1 : 0, JSON.stringify(step.metadata ?? {}), createdAt,
      LOG_TYPE[step.event] ?? "network_event")
    .run();
}

/** The scenario's settings and suppressions, through the API as a team would set them. A
 *  suppression that has already ended cannot be created through the API (its expiry must be in
 *  the future), so one is stored as if created a day ago. */
async function configure(key, org, scenario, now) {
  if (scenario.settings) {
    const res = await app.request("/settings/detection", { method: "PATCH", key, body: scenario.settings });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  for (const { expires_in_minutes: minutes, ...body } of scenario.suppressions ?? []) {
    const expires = minutes === undefined ? null : now + minutes * 60_000;
    if (expires !== null && expires <= now) {
      const created = now - 24 * 3_600_000;
      await app.db.prepare(
        `INSERT INTO suppressions (id, org_id, scope, value, alert_types, reason, created_by, created_at, expires_at, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'scenario', ?7, ?8, ?8)`)
        .bind(`sup_${randomUUID().replaceAll("-", "")}`, orgIdFor(org), body.scope, body.value,
          body.alert_types ? JSON.stringify(body.alert_types) : null, body.reason, created, expires)
        .run();
      continue;
    }
    if (expires !== null) body.expires_at = new Date(expires).toISOString();
    const res = await app.request("/suppressions", { method: "POST", key, body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
}

for (const [i, scenario] of file.scenarios.entries()) {
  test(`[${scenario.label}] ${scenario.name}`, async () => {
    const org = `scenario-${i}`;
    const key = await app.createKey({ org, plan: "pro" });
    const now = Date.now();
    await configure(key, org, scenario, now);
    for (const step of scenario.steps) {
      const place = file.places[step.place];
      assert.ok(place, `unknown place ${step.place}`);
      if (step.ago_minutes > 0) {
        await seed(org, step, place, now - step.ago_minutes * 60_000);
      } else {
        const { vpn, datacenter, ...cf } = place;
        const body = { event: step.event, actor: step.actor, user_ip: step.ip, metadata: step.metadata };
        const res = await app.collectFrom(key, body, step.ip, cf);
        assert.equal(res.status, 202, JSON.stringify(res.body));
        if (vpn) {
          // The VPN signal must come from the shipped ASN list, not from the scenario file.
          const id = res.body.event_ids[0];
          const row = await app.eventually(() => app.db.prepare("SELECT is_vpn FROM events WHERE id = ?").bind(id).first());
          assert.equal(row.is_vpn, 1, "the exit's ASN is flagged as VPN");
        }
        if (datacenter) {
          const id = res.body.event_ids[0];
          const row = await app.eventually(() => app.db.prepare("SELECT is_datacenter FROM events WHERE id = ?").bind(id).first());
          assert.equal(row.is_datacenter, 1, "the address's ASN is flagged as a datacenter by the shipped list");
        }
      }
    }
    await app.settle();
    const rows = (await app.db.prepare("SELECT alert_type, severity, suppressed_by FROM alerts WHERE org_id = ? ORDER BY alert_type")
      .bind(orgIdFor(org)).all()).results;
    const got = rows.map((r) => `${r.alert_type}/${r.severity}${r.suppressed_by ? "/suppressed" : ""}`).sort();
    const want = scenario.expect.map((e) => `${e.alert_type}/${e.severity}${e.suppressed ? "/suppressed" : ""}`).sort();
    assert.deepEqual(got, want);
  });
}
