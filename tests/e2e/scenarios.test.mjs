// Replays tests/scenarios/detection.json: every labelled attack must raise exactly its alerts,
// and nothing benign may raise any (travel through a VPN is recorded at low severity, as the
// contract says). History steps are stored in D1 with past times; present steps go through
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
 *  included) and its dashboard log item, which detection reads for failed logins. */
async function seed(org, step, place, createdAt) {
  const id = randomUUID();
  const sev = { "auth.login_failed": "medium", "auth.login_success": "low", "security.rate_limit_exceeded": "medium" }[step.event] ?? "info";
  await app.db.prepare(
    `INSERT INTO events (id, org_id, event_name, category, severity, instant_alert, actor_id, user_ip, country_code,
       city, latitude, longitude, is_vpn, is_tor, is_proxy, is_datacenter, metadata, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, 0, 0, ?13, ?14)`)
    .bind(id, orgIdFor(org), step.event, step.event.split(".")[0], sev, step.actor, step.ip, place.country,
      place.city, Number(place.latitude), Number(place.longitude), place.vpn ? 1 : 0, JSON.stringify(step.metadata ?? {}), createdAt)
    .run();
  await app.db.prepare(
    `INSERT INTO logs (org_id, ts, hour, type, level, service, namespace, source_ip, user, geo, message, event_id, event_name)
     VALUES (?1, ?2, ?3, ?4, 'info', ?5, 'litesoc', ?6, ?7, ?8, ?9, ?10, ?9)`)
    .bind(orgIdFor(org), createdAt, createdAt - (createdAt % 3_600_000), LOG_TYPE[step.event] ?? "network_event",
      step.event.split(".")[0], step.ip, step.actor, place.country, step.event, id)
    .run();
}

for (const [i, scenario] of file.scenarios.entries()) {
  test(`[${scenario.label}] ${scenario.name}`, async () => {
    const org = `scenario-${i}`;
    const key = await app.createKey({ org, plan: "pro" });
    const now = Date.now();
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
    const rows = (await app.db.prepare("SELECT alert_type, severity FROM alerts WHERE org_id = ? ORDER BY alert_type")
      .bind(orgIdFor(org)).all()).results;
    const got = rows.map((r) => `${r.alert_type}/${r.severity}`).sort();
    const want = scenario.expect.map((e) => `${e.alert_type}/${e.severity}`).sort();
    assert.deepEqual(got, want);
  });
}
