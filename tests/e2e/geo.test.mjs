// Enrichment from the request's cf metadata, network flags, threat score, Free redaction, and
// the behavioural rules that need locations (impossible travel, geo anomaly) end to end. The
// cf object is injected per request through Miniflare, as Cloudflare's edge would attach it;
// no request header can set a location.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { start } from "./harness.mjs";

const BERLIN = { country: "DE", city: "Berlin", region: "Land Berlin", latitude: "52.52000", longitude: "13.40500", timezone: "Europe/Berlin", asn: 3320, asOrganization: "Deutsche Telekom AG", colo: "FRA" };
const POTSDAM = { ...BERLIN, city: "Potsdam", region: "Brandenburg", latitude: "52.39060", longitude: "13.06450" };
const PARIS = { country: "FR", city: "Paris", latitude: "48.85660", longitude: "2.35220", timezone: "Europe/Paris", asn: 3215, asOrganization: "Orange" };
const NEW_YORK = { country: "US", city: "New York", region: "New York", latitude: "40.71280", longitude: "-74.00600", timezone: "America/New_York", asn: 7922, asOrganization: "Comcast" };
const VPN_NY = { ...NEW_YORK, asn: 9009, asOrganization: "M247 Europe SRL" };

let app, pro, free;
before(async () => {
  app = await start();
  pro = await app.createKey({ org: "GeoPro", plan: "pro" });
  free = await app.createKey({ org: "GeoFree", plan: "free" });
});
after(() => app.dispose());

async function stored(id) {
  return app.eventually(() => app.db.prepare("SELECT * FROM events WHERE id = ?").bind(id).first());
}

async function alertsFor(actor) {
  await app.settle();
  const rows = await app.db.prepare("SELECT * FROM alerts WHERE actor_id = ? ORDER BY created_at").bind(actor).all();
  return rows.results;
}

const login = (actor, ip, extra = {}) => ({ event: "auth.login_success", actor, user_ip: ip, ...extra });

// Threat scores (crates/core/src/intel/score.rs): network signals (Tor 40, proxy 25, VPN 20,
// datacenter 15) + the event's severity (info 0, low 2, medium 5, …) + history (3 per failed
// login of the IP in 24 h, at most 15; 3 per failed login of the actor, at most 10; 10 per open
// alert of the IP or actor, at most 20). auth.login_success is low, auth.login_failed medium.
const LOW = 2, MEDIUM = 5, VPN = 20, DATACENTER = 15, OPEN_ALERT = 10;

/** Waits until `actor` has exactly the open alerts `types` (sorted), so the next event's score
 *  counts them. */
async function openAlerts(actor, types) {
  const sql = "SELECT group_concat(alert_type) AS t FROM (SELECT alert_type FROM alerts WHERE actor_id = ? AND status = 'open' ORDER BY alert_type)";
  const seen = await app.eventually(async () => {
    const t = (await app.db.prepare(sql).bind(actor).first()).t ?? "";
    return t === types.join(",") ? t : null;
  });
  assert.equal(seen, types.join(","), `${actor}'s open alerts`);
}

describe("enrichment", () => {
  test("the caller's own address takes location and ASN from cf", async () => {
    const res = await app.collectFrom(pro, login("alice", "198.51.100.10"), "198.51.100.10", BERLIN);
    const row = await stored(res.body.event_ids[0]);
    assert.deepEqual([row.country_code, row.city, row.latitude, row.longitude], ["DE", "Berlin", 52.52, 13.405]);
    assert.deepEqual([row.is_vpn, row.is_tor, row.is_proxy, row.is_datacenter], [0, 0, 0, 0]);
    assert.equal(row.threat_score, LOW, "a clean network, a low event, no history");
    const f = JSON.parse(row.forensics);
    assert.equal(f.location.timezone, "Europe/Berlin");
    assert.equal(f.network.asn, 3320);
    assert.equal(f.network.asn_org, "Deutsche Telekom AG");
    const api = await app.request(`/events/${row.id}`, { key: pro });
    assert.equal(api.body.data.city, "Berlin");
    assert.equal(api.body.data.forensics.location.country_code, "DE");
  });

  test("an event without user_ip describes the caller; a different user_ip never takes the caller's cf", async () => {
    const own = await app.collectFrom(pro, { event: "auth.logout", actor: "bob" }, "198.51.100.11", PARIS);
    const ownRow = await stored(own.body.event_ids[0]);
    assert.equal(ownRow.country_code, "FR");
    assert.equal(ownRow.threat_score, 0, "the caller's address is scored: auth.logout is info");
    const other = await app.collectFrom(pro, login("bob", "203.0.113.200"), "198.51.100.11", PARIS);
    const row = await stored(other.body.event_ids[0]);
    assert.equal(row.country_code, null, "cf describes the caller, not 203.0.113.200");
    assert.equal(row.is_datacenter, 0, "flags are still computed for the public address");
    assert.equal(row.threat_score, LOW);
  });

  test("datacenter and VPN signals come from the shipped lists and raise the score", async () => {
    const dc = await stored((await app.collectFrom(pro, login("carol", "104.131.7.7"), "198.51.100.12", BERLIN)).body.event_ids[0]);
    assert.equal(dc.is_datacenter, 1, "104.131.0.0/16 is DigitalOcean");
    const vpn = await stored((await app.collectFrom(pro, login("carol", "198.51.100.13"), "198.51.100.13", VPN_NY)).body.event_ids[0]);
    assert.equal(vpn.is_vpn, 1, "AS9009 hosts VPN servers");
    assert.equal(dc.threat_score, DATACENTER + LOW);
    // carol's first login, from a datacenter, raised a suspicious-network alert before this one.
    assert.equal(vpn.threat_score, VPN + LOW + OPEN_ALERT);
    // US was new for carol: the geo anomaly is open too, and the next login's score counts both.
    await openAlerts("carol", ["geo_anomaly", "suspicious_network"]);
    const plain = await stored((await app.collectFrom(pro, login("carol", "198.51.100.14"), "198.51.100.14", BERLIN)).body.event_ids[0]);
    assert.equal(plain.threat_score, LOW + 2 * OPEN_ALERT, "a clean network: only the severity and carol's open alerts");
    // Each flagged login scores above the same login from a clean network with the same open alerts.
    assert.ok(dc.threat_score > LOW && vpn.threat_score > LOW + OPEN_ALERT);
  });

  test("recent failed logins raise the threat score of the same IP", async () => {
    const first = await stored((await app.collectFrom(pro, { event: "auth.login_failed", actor: "dave", user_ip: "198.51.100.20" }, "198.51.100.20", BERLIN)).body.event_ids[0]);
    for (let i = 0; i < 3; i++) await app.collectFrom(pro, { event: "auth.login_failed", actor: "dave", user_ip: "198.51.100.20" }, "198.51.100.20", BERLIN);
    await app.settle();
    const later = await stored((await app.collectFrom(pro, { event: "auth.login_failed", actor: "dave", user_ip: "198.51.100.20" }, "198.51.100.20", BERLIN)).body.event_ids[0]);
    assert.equal(first.threat_score, MEDIUM, "no earlier failure");
    // Four earlier failures: 4 × 3 for the IP, and 4 × 3 capped at 10 for the actor; no alert yet
    // (brute force needs five).
    assert.equal(later.threat_score, MEDIUM + 12 + 10);
    assert.ok(later.threat_score > first.threat_score, `${later.threat_score} > ${first.threat_score}`);
  });

  test("private and placeholder addresses are not enriched; headers cannot forge a location", async () => {
    for (const ip of ["10.0.0.5", "unknown", "100.64.0.1"]) {
      const res = await app.collect(pro, login("erin", ip), {
        headers: { "CF-IPCountry": "KP", "X-Forwarded-For": "198.51.100.99", "CF-Connecting-IP": "10.0.0.5" },
      });
      const row = await stored(res.body.event_ids[0]);
      assert.deepEqual([row.country_code, row.latitude, row.threat_score, row.forensics, row.is_vpn], [null, null, null, null, null], ip);
    }
  });

  test("Free responses redact what is stored", async () => {
    const res = await app.collectFrom(free, login("frank", "198.51.100.30"), "198.51.100.30", BERLIN);
    const id = res.body.event_ids[0];
    const row = await stored(id);
    assert.equal(row.city, "Berlin");
    assert.equal(row.threat_score, LOW);
    const api = await app.request(`/events/${id}`, { key: free });
    assert.equal(api.body.data.city, null);
    assert.equal(api.body.data.forensics, null);
    assert.equal(api.body.data.threat_score, LOW, "the score is not redacted");
  });
});

describe("behavioural detection with locations", () => {
  test("Berlin then New York seconds later is impossible travel, with evidence", async () => {
    await app.collectFrom(pro, login("traveller", "198.51.100.40"), "198.51.100.40", BERLIN);
    await app.settle();
    await app.collectFrom(pro, login("traveller", "198.51.100.41"), "198.51.100.41", NEW_YORK);
    const alerts = await alertsFor("traveller");
    const travel = alerts.filter((a) => a.alert_type === "impossible_travel");
    assert.equal(travel.length, 1, JSON.stringify(alerts.map((a) => a.alert_type)));
    assert.equal(travel[0].severity, "high");
    const ev = JSON.parse(travel[0].metadata).evidence;
    assert.ok(ev.distance_km > 6300 && ev.distance_km < 6450, `distance ${ev.distance_km}`);
    assert.ok(ev.speed_kmh > 805);
    assert.equal(ev.from.city, "Berlin");
    assert.equal(ev.to.city, "New York");
    assert.equal(ev.downgraded, false);
    assert.equal(JSON.parse(travel[0].metadata).confidence, 90);
    const geo = alerts.filter((a) => a.alert_type === "geo_anomaly");
    assert.equal(geo.length, 1, "US is new for this actor");
    assert.deepEqual(JSON.parse(geo[0].metadata).evidence.known_countries, ["DE"]);
  });

  test("through a VPN the travel alert is downgraded to low", async () => {
    await app.collectFrom(pro, login("vpnuser", "198.51.100.50"), "198.51.100.50", BERLIN);
    await app.settle();
    await app.collectFrom(pro, login("vpnuser", "198.51.100.51"), "198.51.100.51", VPN_NY);
    const travel = (await alertsFor("vpnuser")).filter((a) => a.alert_type === "impossible_travel");
    assert.equal(travel.length, 1);
    assert.equal(travel[0].severity, "low");
    const meta = JSON.parse(travel[0].metadata);
    assert.equal(meta.confidence, 40);
    assert.equal(meta.evidence.downgraded, true);
  });

  test("benign: a same-city hop and a first-ever login raise nothing", async () => {
    await app.collectFrom(pro, login("commuter", "198.51.100.60"), "198.51.100.60", BERLIN);
    await app.settle();
    await app.collectFrom(pro, login("commuter", "198.51.100.61"), "198.51.100.61", POTSDAM);
    assert.deepEqual(await alertsFor("commuter"), []);
  });

  test("behavioural rules do not run for Free organisations", async () => {
    await app.collectFrom(free, login("freetraveller", "198.51.100.70"), "198.51.100.70", BERLIN);
    await app.settle();
    await app.collectFrom(free, login("freetraveller", "198.51.100.71"), "198.51.100.71", NEW_YORK);
    assert.deepEqual(await alertsFor("freetraveller"), []);
  });
});

describe("the IP-range table (DB-IP fixture)", () => {
  before(async () => {
    const { importIpdb, d1Target } = await import("../../scripts/lib/ipdb.mjs");
    const target = d1Target(app.db);
    await importIpdb(target, { fixture: new URL("../fixtures/ipdb/", import.meta.url).pathname });
    await target.flush();
  });

  test("a user_ip that is not the caller's own is located through the table", async () => {
    const res = await app.collectFrom(pro, login("gina", "81.2.69.160"), "198.51.100.200", BERLIN);
    const row = await stored(res.body.event_ids[0]);
    assert.deepEqual([row.country_code, row.city], ["GB", "London"]);
    assert.equal(row.threat_score, LOW, "gina's first event");
    assert.ok(Math.abs(row.latitude - 51.5143) < 1e-6);
    assert.equal(JSON.parse(row.forensics).location.region, "England");
  });

  test("the table's ASN feeds the network flags: Google's AS15169 is a datacenter", async () => {
    const res = await app.collectFrom(pro, login("gina", "8.8.8.8"), "198.51.100.200", BERLIN);
    const row = await stored(res.body.event_ids[0]);
    assert.equal(row.is_datacenter, 1);
    assert.equal(row.threat_score, DATACENTER + LOW);
    assert.equal(JSON.parse(row.forensics).network.asn, 15169);
    assert.equal(JSON.parse(row.forensics).network.asn_org, "Google LLC");
  });

  test("an address outside every range stays unlocated but flagged and scored", async () => {
    // London, then a Google address in Mountain View seconds later: gina has open alerts (the
    // travel, the new country and the datacenter network), which count up to their cap.
    await openAlerts("gina", ["geo_anomaly", "impossible_travel", "suspicious_network"]);
    const res = await app.collectFrom(pro, login("gina", "203.0.113.250"), "198.51.100.200", BERLIN);
    const row = await stored(res.body.event_ids[0]);
    assert.equal(row.country_code, null);
    assert.equal(row.is_tor, 0);
    assert.equal(row.threat_score, LOW + 2 * OPEN_ALERT);
  });
});
