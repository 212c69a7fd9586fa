// The IP-range tables end to end, without the Worker: Miniflare with one D1 database (in
// memory), the project's migrations, scripts/import-ipdb's library on the fixture cut from the
// real data (tests/fixtures/ipdb), then lookups with the same SQL the Worker uses. The Rust
// core holds identical SQL and key encoding (crates/core/src/intel/ipdb.rs tests compare the SQL).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { migrationStatements } from "../../scripts/lib/keys.mjs";
import {
  ASN_LOOKUP_SQL,
  CITY_LOOKUP_SQL,
  MAX_STATEMENT_BYTES,
  d1Target,
  importIpdb,
  insertStatements,
  ipKey,
  ipToBigInt,
  lookup,
  parseCsvLine,
  readAsnCsv,
  tidyCoordinate,
} from "../../scripts/lib/ipdb.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURE = join(ROOT, "tests/fixtures/ipdb");

/** Data rows of a fixture CSV (the city files have a header, the ASN files, like the data, none). */
const csvRows = (name) =>
  readFileSync(join(FIXTURE, name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("start_ip,")).length;

let mf, db, firstImport;

before(async () => {
  mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('') } }",
    compatibilityDate: "2026-04-20",
    d1Databases: { DB: "ipdb-test" },
  });
  db = await mf.getD1Database("DB");
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const stmt of migrationStatements(readFileSync(join(dir, file), "utf8"))) await db.prepare(stmt).run();
  }
  firstImport = await importIpdb(d1Target(db), { fixture: FIXTURE });
});

after(() => mf?.dispose());

describe("import", () => {
  test("imports every fixture row of the four datasets and records them", async () => {
    const want = {
      "city-ipv4": csvRows("city-ipv4.csv"),
      "city-ipv6": csvRows("city-ipv6.csv"),
      "asn-ipv4": csvRows("asn-ipv4.csv"),
      "asn-ipv6": csvRows("asn-ipv6.csv"),
    };
    assert.deepEqual(Object.fromEntries(firstImport.map((r) => [r.id, r.rows])), want);
    const count = async (sql) => Object.values(await db.prepare(sql).first())[0];
    assert.equal(await count("SELECT count(*) FROM ip_city"), want["city-ipv4"] + want["city-ipv6"]);
    assert.equal(await count("SELECT count(*) FROM ip_asn"), want["asn-ipv4"] + want["asn-ipv6"]);
    assert.equal(await count("SELECT count(*) FROM ip_location"), firstImport.reduce((n, r) => n + (r.locations ?? 0), 0));
    const recorded = (await db.prepare("SELECT dataset, version, rows FROM ip_import ORDER BY dataset").all()).results;
    assert.deepEqual(recorded.map((r) => [r.dataset, r.rows]), Object.entries(want).sort());
    assert.ok(recorded.every((r) => /^fixture:[0-9a-f]{16}$/.test(r.version)));
    // Every range is well formed: start <= end, same family, tagged fixed-width hex.
    const bad = await count(
      "SELECT count(*) FROM (SELECT ip_start, ip_end FROM ip_city UNION ALL SELECT ip_start, ip_end FROM ip_asn) " +
        "WHERE ip_start > ip_end OR length(ip_start) != length(ip_end) OR substr(ip_start, 1, 1) != substr(ip_end, 1, 1) " +
        "OR NOT ((ip_start GLOB '4*' AND length(ip_start) = 9) OR (ip_start GLOB '6*' AND length(ip_start) = 33))",
    );
    assert.equal(bad, 0);
  });

  test("a second run skips datasets already imported; --force replaces them without duplicates", async () => {
    const again = await importIpdb(d1Target(db), { fixture: FIXTURE });
    assert.ok(again.every((r) => r.skipped), JSON.stringify(again));
    const forced = await importIpdb(d1Target(db), { fixture: FIXTURE, force: true });
    assert.deepEqual(forced.map((r) => r.rows), firstImport.map((r) => r.rows));
    const { n } = await db.prepare("SELECT count(*) AS n FROM ip_city").first();
    assert.equal(n, csvRows("city-ipv4.csv") + csvRows("city-ipv6.csv"));
  });

  test("a changed dataset is replaced on its own, leaving the other family untouched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ipdb-fixture-"));
    try {
      cpSync(FIXTURE, dir, { recursive: true });
      const lines = readFileSync(join(dir, "asn-ipv6.csv"), "utf8").trim().split("\n");
      writeFileSync(join(dir, "asn-ipv6.csv"), lines.slice(0, 10).join("\n") + "\n");
      const res = await importIpdb(d1Target(db), { fixture: dir });
      assert.deepEqual(
        res.filter((r) => !r.skipped).map((r) => [r.id, r.rows]),
        [["asn-ipv6", 10]],
      );
      const count = async (prefix) =>
        (await db.prepare("SELECT count(*) AS n FROM ip_asn WHERE ip_start GLOB ?1").bind(prefix).first()).n;
      assert.equal(await count("6*"), 10);
      assert.equal(await count("4*"), csvRows("asn-ipv4.csv"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await importIpdb(d1Target(db), { fixture: FIXTURE }); // restore for the lookups below
    }
  });

  test("a missing schema is reported with the fix", async () => {
    const bare = new Miniflare({ modules: true, script: "export default { fetch() { return new Response('') } }", d1Databases: { DB: "bare" } });
    try {
      const bareDb = await bare.getD1Database("DB");
      await assert.rejects(importIpdb(d1Target(bareDb), { fixture: FIXTURE }), /apply migrations first/);
    } finally {
      await bare.dispose();
    }
  });
});

describe("lookup", () => {
  const location = (row) => row && [row.country_code, row.region, row.city, row.latitude, row.longitude];
  const network = (row) => row && [row.asn, row.org];

  test("IPv4 addresses get city and ASN", async () => {
    const cases = {
      "8.8.8.8": [["US", "California", "Mountain View", 37.422, -122.085], [15169, "Google LLC"]],
      "1.1.1.1": [["AU", "New South Wales", "Sydney", -33.8688, 151.209], [13335, "Cloudflare, Inc."]],
      "81.2.69.160": [["GB", "England", "London", 51.5143, -0.0912244], [20712, "Andrews & Arnold Ltd"]],
      // IPv4-mapped IPv6 is the same address.
      "::ffff:8.8.8.8": [["US", "California", "Mountain View", 37.422, -122.085], [15169, "Google LLC"]],
    };
    for (const [ip, [loc, net]] of Object.entries(cases)) {
      const { city, asn } = await lookup(db, ip);
      assert.deepEqual([location(city), network(asn)], [loc, net], ip);
    }
  });

  test("IPv6 addresses get city and ASN", async () => {
    const google = await lookup(db, "2001:4860:4860::8888");
    assert.deepEqual(location(google.city), ["CA", "Quebec", "Montreal", 45.5019, -73.5674]);
    assert.deepEqual(network(google.asn), [15169, "Google LLC"]);
    const cloudflare = await lookup(db, "2606:4700:4700::1111");
    assert.equal(cloudflare.city?.country_code, "CA");
    assert.deepEqual(network(cloudflare.asn), [13335, "Cloudflare, Inc."]);
  });

  test("addresses outside every range get nothing", async () => {
    // In a gap between fixture ranges (documentation ranges are in no dataset), below the
    // first range, above the last one, and an IPv6 key whose nearest lower row is IPv4.
    for (const ip of ["203.0.113.50", "198.51.100.7", "0.0.0.1", "255.255.255.254", "::1", "2001:db8::1", "ffff::1"]) {
      const { key, city, asn } = await lookup(db, ip);
      assert.ok(key, ip);
      assert.deepEqual([city, asn], [null, null], ip);
    }
  });

  test("the raw SQL returns the probe row only when it covers the key", async () => {
    // Gap: the row before 203.0.113.50 exists but ends earlier; the SQL drops it.
    const key = ipKey("203.0.113.50");
    const probe = await db.prepare("SELECT ip_start, ip_end FROM ip_city WHERE ip_start <= ?1 ORDER BY ip_start DESC LIMIT 1").bind(key).first();
    assert.ok(probe && probe.ip_end < key, JSON.stringify(probe));
    assert.equal((await db.prepare(CITY_LOOKUP_SQL).bind(key).all()).results.length, 0);
    assert.equal((await db.prepare(ASN_LOOKUP_SQL).bind(key).all()).results.length, 0);
  });

  test("a lookup is one index probe, not a scan", async () => {
    for (const ip of ["8.8.8.8", "203.0.113.50", "2001:4860:4860::8888", "ffff::1"]) {
      const key = ipKey(ip);
      const city = await db.prepare(CITY_LOOKUP_SQL).bind(key).all();
      const asn = await db.prepare(ASN_LOOKUP_SQL).bind(key).all();
      // The probed range (+ its location row for city).
      assert.ok(city.meta.rows_read <= 2, `${ip}: city read ${city.meta.rows_read} rows`);
      assert.ok(asn.meta.rows_read <= 1, `${ip}: asn read ${asn.meta.rows_read} rows`);
    }
    const plan = (await db.prepare("EXPLAIN QUERY PLAN " + CITY_LOOKUP_SQL).bind("408080808").all()).results;
    assert.ok(plan.some((r) => /SEARCH .*ip_city USING PRIMARY KEY \(ip_start<\?\)/.test(r.detail)), JSON.stringify(plan));
    assert.ok(!plan.some((r) => /SCAN (ip_city|ip_location|l)\b/.test(r.detail)), JSON.stringify(plan));
  });
});

describe("keys and SQL generation", () => {
  test("keys match the Rust ip_key", () => {
    assert.equal(ipKey("8.8.8.8"), "408080808");
    assert.equal(ipKey("::ffff:8.8.8.8"), "408080808");
    assert.equal(ipKey("::FFFF:0808:0808"), "408080808");
    assert.equal(ipKey("81.2.69.160"), "4510245a0");
    assert.equal(ipKey("::8.8.8.8"), "600000000000000000000000008080808");
    assert.equal(ipKey("64:ff9b::8.8.8.8"), "60064ff9b000000000000000008080808");
    assert.equal(ipKey("2001:4860:4860::8888"), "620014860486000000000000000008888");
    assert.equal(ipKey("::1"), "600000000000000000000000000000001");
    assert.equal(ipKey("FFFF::ABCD"), "6ffff000000000000000000000000abcd");
    for (const bad of ["", "unknown", "1.2.3", "1.2.3.256", "fe80::1%eth0", "::g", null]) assert.equal(ipKey(bad), null, String(bad));
  });

  test("statements stay under D1's 100 KB and bind no parameters", () => {
    const rows = Array.from({ length: 5000 }, (_, i) => [BigInt(0xffff00000000 + i * 2), BigInt(0xffff00000000 + i * 2 + 1), i, `Org ${"é'x".repeat(40)} ${i}`]);
    const stmts = [...insertStatements("ip_asn", ["ip_start", "ip_end", "asn", "org"], rows)];
    assert.ok(stmts.length > 1);
    for (const s of stmts) {
      assert.ok(Buffer.byteLength(s) <= MAX_STATEMENT_BYTES && MAX_STATEMENT_BYTES < 100_000);
      assert.ok(!s.includes("?") && !s.includes("\n"));
    }
    const values = stmts.join(",").match(/\('4/g).length;
    assert.equal(values, rows.length);
    assert.ok(stmts[0].includes("'Org é''xé''x"), "quotes are doubled");
  });

  test("CSV quoting and the ASN reader", async () => {
    assert.deepEqual(parseCsvLine('1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."'), ["1.0.0.0", "1.0.0.255", "13335", "Cloudflare, Inc."]);
    assert.deepEqual(parseCsvLine('a,"LLC ""SPUTNIK""",'), ["a", 'LLC "SPUTNIK"', ""]);
    const dir = mkdtempSync(join(tmpdir(), "ipdb-csv-"));
    try {
      // Overlap as in the real asn-ipv4.csv (214.95.0.0-215.0.255.255 then 215.0.0.0-...).
      writeFileSync(join(dir, "a.csv"), "10.0.0.0,10.0.1.255,1,A\n10.0.1.0,10.0.1.255,2,B\n10.0.2.0,10.0.2.255,2,B\n");
      const rows = [];
      for await (const r of readAsnCsv(join(dir, "a.csv"), 4)) rows.push(r);
      const ip = ipToBigInt;
      assert.deepEqual(rows, [
        [ip("10.0.0.0"), ip("10.0.0.255"), 1, "A"], // trimmed where the later range starts
        [ip("10.0.1.0"), ip("10.0.2.255"), 2, "B"], // adjacent identical ranges merged
      ]);
      writeFileSync(join(dir, "b.csv"), "2001:db8::,2001:db8::ff,1,A\n");
      await assert.rejects(async () => { for await (const _ of readAsnCsv(join(dir, "b.csv"), 4)); }, /is not IPv4/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("float32 coordinates are stored as their shortest decimal", () => {
    assert.equal(tidyCoordinate(Math.fround(37.422)), 37.422);
    assert.equal(tidyCoordinate(Math.fround(-0.0912244)), -0.0912244);
    assert.equal(tidyCoordinate(51.51430130004883), 51.5143);
    assert.equal(tidyCoordinate(1.23456789012345), 1.23456789012345); // a real double stays
    assert.equal(tidyCoordinate(NaN), null);
  });
});
