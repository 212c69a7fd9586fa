// What an analyst reads on an alert, through the real Worker (POST /collect → queue →
// consumer → GET /alerts): every travel hop, who a burst tried and from where, the compromise a
// success after a burst suggests and its link to the burst, and named places (docs/api.md §10).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

let app;
before(async () => {
  app = await start();
});
after(() => app.dispose());

// Cloudflare's `cf` carries a country code and a time zone, never a country name. (Leaving the
// zone out here would not test its derivation: Miniflare fills in its own default zone. The
// derivation from coordinates is tested natively, crates/core/src/intel/places/.)
const PLACES = {
  berlin: { country: "DE", city: "Berlin", latitude: "52.52000", longitude: "13.40500", timezone: "Europe/Berlin", asn: 3320, asOrganization: "Deutsche Telekom AG" },
  new_york: { country: "US", city: "New York", latitude: "40.71280", longitude: "-74.00600", timezone: "America/New_York", asn: 7922, asOrganization: "Comcast" },
  sao_paulo: { country: "BR", city: "Sao Paulo", latitude: "-23.55050", longitude: "-46.63330", timezone: "America/Sao_Paulo", asn: 28573, asOrganization: "Claro" },
};

/** The organisation's alerts of `type` through the API, once `n` of them exist. */
async function alertsOf(key, type, n = 1) {
  return app.eventually(async () => {
    const res = await app.request(`/alerts?alert_type=${type}`, { key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data.length >= n ? res.body.data : null;
  });
}

test("a three-city chain keeps every hop, with named places, on one alert", async () => {
  const key = await app.createKey({ org: "chain", plan: "pro" });
  const hops = [["198.51.100.201", "berlin"], ["198.51.100.202", "new_york"], ["198.51.100.203", "sao_paulo"]];
  for (const [ip, place] of hops) {
    const res = await app.collectFrom(key, { event: "auth.login_success", actor: "chain-1", user_ip: ip }, ip, PLACES[place]);
    assert.equal(res.status, 202);
    await app.settle({ quietMs: 600 }); // each login in its own queue batch: later hops update the stored alert
  }
  const alert = await app.eventually(async () => {
    const [a] = (await alertsOf(key, "impossible_travel")) ?? [];
    return a?.metadata?.evidence?.hops?.length === 2 ? a : null;
  });
  assert.ok(alert, "the second hop was appended to the open alert");
  const ev = alert.metadata.evidence;
  assert.deepEqual(ev.hops.map((h) => [h.from.city, h.to.city]), [["Berlin", "New York"], ["New York", "Sao Paulo"]]);
  assert.equal(ev.hops[0].from.country_name, "Germany");
  assert.equal(ev.hops[1].to.country_name, "Brazil");
  assert.equal(ev.hops[1].to.timezone, "America/Sao_Paulo");
  assert.equal(ev.hops[1].to.asn, 28573);
  assert.equal(ev.event_ids.length, 3);
  assert.match(alert.description, /^Berlin, DE to New York, US: .*; New York, US to Sao Paulo, BR: /);
  assert.equal(alert.metadata.occurrences, 2);
  for (const k of ["first_seen", "last_seen", "raised_at"]) assert.match(alert.metadata[k], /^\d{4}-\d\d-\d\dT/, k);
  assert.ok(alert.metadata.first_seen < alert.metadata.last_seen);

  // The events' own forensics name the place the `cf` object gave only as a code.
  const events = await app.request("/events?actor_id=chain-1", { key });
  const location = events.body.data.find((e) => e.user_ip === "198.51.100.201").forensics.location;
  assert.equal(location.country_name, "Germany");
  assert.equal(location.timezone, "Europe/Berlin");
});

test("a burst names every account it tried, and the success after it is a linked compromise", async () => {
  const key = await app.createKey({ org: "stuffing", plan: "pro" });
  const ip = "198.51.100.210";
  const failures = ["ana", "ben", "ana", "cat", "ana", "ben"].map((actor) => ({ event: "auth.login_failed", actor, user_ip: ip }));
  assert.equal((await app.collectFrom(key, { events: failures }, ip, PLACES.berlin)).status, 202);
  await app.settle({ quietMs: 600 });
  const ok = await app.collectFrom(key, { event: "auth.login_success", actor: "ana", user_ip: ip }, ip, PLACES.berlin);
  assert.equal(ok.status, 202);

  const [compromise] = await alertsOf(key, "account_compromise");
  const [brute] = await alertsOf(key, "brute_force_attack");
  assert.equal(compromise.severity, "critical");
  assert.equal(compromise.actor_id, "ana");
  assert.equal(compromise.metadata.evidence.failures, 6);
  assert.equal(compromise.metadata.evidence.success_event_id, ok.body.event_ids[0]);
  assert.deepEqual(compromise.metadata.related_alert_ids, [brute.id]);
  const linked = await app.eventually(async () => {
    const res = await app.request(`/alerts/${brute.id}`, { key });
    return res.body.data?.metadata?.related_alert_ids?.length ? res.body.data : null;
  });
  assert.deepEqual(linked.metadata.related_alert_ids, [compromise.id]);

  const ev = linked.metadata.evidence;
  assert.equal(ev.key, "ip");
  assert.deepEqual(ev.accounts, [{ actor_id: "ana", count: 3 }, { actor_id: "ben", count: 2 }, { actor_id: "cat", count: 1 }]);
  assert.equal(ev.accounts_total, 3);
  assert.equal(ev.event_ids.length, 6);
  assert.ok(ev.first_failure_at <= ev.last_failure_at);
});
