//! The IP-range tables in D1 (`migrations/0003_ip_table.sql`, loaded by `scripts/import-ipdb`)
//! that give location and ASN for a public `user_ip` that is not the caller's own address
//! (docs/api.md §7.2, step 3). Data: DB-IP City Lite and the ip-location-db ASN
//! table, CC BY 4.0 ("IP Geolocation by DB-IP", <https://db-ip.com>).
//!
//! The adapter binds `?1` = [`ip_key`] to [`CITY_LOOKUP_SQL`] and [`ASN_LOOKUP_SQL`] (one D1
//! batch, one indexed probe each), deserializes at most one row of each into [`CityRow`] and
//! [`AsnRow`], and passes them to [`location_from_rows`].

use serde::Deserialize;
use std::net::IpAddr;

/// The range with the greatest start at or below `?1`, if its end covers `?1`, with its location.
/// The `LIMIT 1` subquery keeps it one probe even when the key falls in a gap (SQLite does not
/// flatten it, so the `ip_end` filter cannot turn into a backwards scan). Identical to
/// `CITY_LOOKUP_SQL` in `scripts/lib/ipdb.mjs` (a test compares them).
pub const CITY_LOOKUP_SQL: &str = concat!(
    "SELECT r.ip_start, r.ip_end, l.country_code, l.region, l.city, l.latitude, l.longitude ",
    "FROM (SELECT ip_start, ip_end, location_id FROM ip_city WHERE ip_start <= ?1 ORDER BY ip_start DESC LIMIT 1) AS r ",
    "JOIN ip_location AS l ON l.id = r.location_id WHERE r.ip_end >= ?1"
);

/// The ASN range covering `?1`, probed the same way. Identical to `ASN_LOOKUP_SQL` in
/// `scripts/lib/ipdb.mjs`.
pub const ASN_LOOKUP_SQL: &str = concat!(
    "SELECT r.ip_start, r.ip_end, r.asn, r.org ",
    "FROM (SELECT ip_start, ip_end, asn, org FROM ip_asn WHERE ip_start <= ?1 ORDER BY ip_start DESC LIMIT 1) AS r ",
    "WHERE r.ip_end >= ?1"
);

/// [`CITY_LOOKUP_SQL`] for many keys at once: `?1` is a JSON array of keys; each answer row
/// carries its `key`. One statement per request whatever the number of addresses, so a batch
/// of 100 events stays far inside D1's per-invocation query budget.
pub const CITY_BATCH_LOOKUP_SQL: &str = concat!(
    "SELECT j.value AS key, r.ip_start, r.ip_end, l.country_code, l.region, l.city, l.latitude, l.longitude ",
    "FROM json_each(?1) AS j JOIN ip_city AS r ON r.ip_start = ",
    "(SELECT ip_start FROM ip_city WHERE ip_start <= j.value ORDER BY ip_start DESC LIMIT 1) ",
    "JOIN ip_location AS l ON l.id = r.location_id WHERE r.ip_end >= j.value"
);

/// [`ASN_LOOKUP_SQL`] for many keys at once, like [`CITY_BATCH_LOOKUP_SQL`].
pub const ASN_BATCH_LOOKUP_SQL: &str = concat!(
    "SELECT j.value AS key, r.ip_start, r.ip_end, r.asn, r.org ",
    "FROM json_each(?1) AS j JOIN ip_asn AS r ON r.ip_start = ",
    "(SELECT ip_start FROM ip_asn WHERE ip_start <= j.value ORDER BY ip_start DESC LIMIT 1) ",
    "WHERE r.ip_end >= j.value"
);

/// The table key of an address: lowercase hex tagged with the family, `"4"` + 8 digits for IPv4
/// and `"6"` + 32 digits for IPv6. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) gets its IPv4
/// key. The width is fixed within a family, so string order is numeric order. Every IPv4 key
/// sorts before every IPv6 key, and no stored range crosses families.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("4{:08x}", u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("4{:08x}", u32::from(v4)),
            None => format!("6{:032x}", u128::from(v6)),
        },
    }
}

/// A row of [`CITY_LOOKUP_SQL`]. D1 returns numbers as JS numbers, hence `f64`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CityRow {
    pub ip_start: String,
    pub ip_end: String,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// A row of [`ASN_LOOKUP_SQL`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AsnRow {
    pub ip_start: String,
    pub ip_end: String,
    pub asn: f64,
    #[serde(default)]
    pub org: Option<String>,
}

/// What the city table knows about an address. `region` is the first-level subdivision
/// (state or province). The table has no time zone or country name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpLocation {
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Does the stored range `[start, end]` cover `key`? Keys compare as strings.
fn covers(start: &str, end: &str, key: &str) -> bool {
    start.len() == key.len() && start <= key && key <= end
}

fn text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn coordinate(v: Option<f64>, limit: f64) -> Option<f64> {
    v.filter(|x| x.is_finite() && x.abs() <= limit)
}

/// Turns the lookup rows for `key` (= [`ip_key`]) into a location and `(asn, org)`. A row whose
/// range does not cover `key` is ignored (the SQL filters too). So are out-of-range values and
/// ASN 0. A location with no field left is `None`.
pub fn location_from_rows(
    city: Option<CityRow>,
    asn: Option<AsnRow>,
    key: &str,
) -> (Option<IpLocation>, Option<(u32, Option<String>)>) {
    let location = city
        .filter(|r| covers(&r.ip_start, &r.ip_end, key))
        .map(|r| IpLocation {
            country_code: text(r.country_code)
                .map(|c| c.to_ascii_uppercase())
                .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())),
            region: text(r.region),
            city: text(r.city),
            latitude: coordinate(r.latitude, 90.0),
            longitude: coordinate(r.longitude, 180.0),
        })
        .filter(|l| l != &IpLocation::default());
    let network = asn
        .filter(|r| covers(&r.ip_start, &r.ip_end, key))
        .and_then(|r| Some((asn_number(r.asn)?, text(r.org))));
    (location, network)
}

/// An AS number as D1 answers it (a double): a whole number in 1..=u32::MAX, else none.
pub fn asn_number(n: f64) -> Option<u32> {
    (n.fract() == 0.0 && (1.0..=f64::from(u32::MAX)).contains(&n)).then_some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn key(s: &str) -> String {
        ip_key(s.parse().unwrap())
    }

    #[test]
    fn ipv4_keys_are_tagged_fixed_width_hex() {
        assert_eq!(key("8.8.8.8"), "408080808");
        assert_eq!(key("0.0.0.0"), "400000000");
        assert_eq!(key("255.255.255.255"), "4ffffffff");
        assert_eq!(key("81.2.69.160"), "4510245a0");
    }

    #[test]
    fn ipv4_mapped_ipv6_uses_the_ipv4_key() {
        assert_eq!(key("::ffff:8.8.8.8"), key("8.8.8.8"));
        assert_eq!(key("::FFFF:0808:0808"), "408080808");
        // IPv4-compatible (::a.b.c.d) and NAT64 addresses are IPv6 addresses in their own right.
        assert_eq!(key("::8.8.8.8"), "600000000000000000000000008080808");
        assert_eq!(key("64:ff9b::8.8.8.8"), "60064ff9b000000000000000008080808");
    }

    #[test]
    fn ipv6_keys_are_tagged_fixed_width_lowercase_hex() {
        assert_eq!(
            key("2001:4860:4860::8888"),
            "620014860486000000000000000008888"
        );
        assert_eq!(key("::1"), "600000000000000000000000000000001");
        assert_eq!(key("::"), format!("6{}", "0".repeat(32)));
        assert_eq!(key("FFFF::ABCD"), "6ffff000000000000000000000000abcd");
        for s in [
            "::",
            "2001:db8::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(key(s).len(), 33);
        }
    }

    /// The order the tables rely on: by family (IPv4, including mapped, first), then numeric.
    fn numeric(ip: IpAddr) -> (u8, u128) {
        match ip {
            IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (4, u128::from(u32::from(v4))),
                None => (6, u128::from(v6)),
            },
        }
    }

    /// xorshift64*, so the property test needs no extra crate and is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn ip(&mut self) -> IpAddr {
            let r = self.next();
            // Mostly random addresses, some small or shared-prefix ones so neighbours get compared.
            let v6 = (u128::from(self.next()) << 64) | u128::from(self.next());
            match r % 6 {
                0 => IpAddr::V4(Ipv4Addr::from(self.next() as u32)),
                1 => IpAddr::V4(Ipv4Addr::from((self.next() as u32) & 0xff00_00ff)),
                2 => IpAddr::V6(Ipv4Addr::from(self.next() as u32).to_ipv6_mapped()),
                3 => IpAddr::V6(Ipv6Addr::from(v6)),
                4 => IpAddr::V6(Ipv6Addr::from(v6 >> (self.next() % 128))),
                _ => IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (v6 & 0xffff))),
            }
        }
    }

    #[test]
    fn string_order_is_numeric_order_for_random_pairs() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let (a, b) = (rng.ip(), rng.ip());
            let (ka, kb) = (ip_key(a), ip_key(b));
            assert_eq!(ka.cmp(&kb), numeric(a).cmp(&numeric(b)), "{a} {b}");
            assert_eq!(ka == kb, numeric(a) == numeric(b));
        }
        // Neighbours across byte and family boundaries.
        let order = [
            "0.0.0.0",
            "0.0.0.1",
            "9.255.255.255",
            "10.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "::fffe:ffff:ffff",
            "::1:0:0:0",
            "2001:db8::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for w in order.windows(2) {
            assert_eq!(key(w[0]).cmp(&key(w[1])), Ordering::Less, "{w:?}");
        }
    }

    fn city_row(start: &str, end: &str) -> CityRow {
        CityRow {
            ip_start: key(start),
            ip_end: key(end),
            country_code: Some("US".into()),
            region: Some("California".into()),
            city: Some("Mountain View".into()),
            latitude: Some(37.422),
            longitude: Some(-122.085),
        }
    }

    fn asn_row(start: &str, end: &str, asn: f64) -> AsnRow {
        AsnRow {
            ip_start: key(start),
            ip_end: key(end),
            asn,
            org: Some("Google LLC".into()),
        }
    }

    #[test]
    fn a_covering_row_gives_location_and_asn() {
        let k = key("8.8.8.8");
        let (loc, asn) = location_from_rows(
            Some(city_row("8.8.8.0", "8.8.8.255")),
            Some(asn_row("8.8.8.0", "8.8.8.255", 15169.0)),
            &k,
        );
        assert_eq!(
            loc,
            Some(IpLocation {
                country_code: Some("US".into()),
                region: Some("California".into()),
                city: Some("Mountain View".into()),
                latitude: Some(37.422),
                longitude: Some(-122.085),
            })
        );
        assert_eq!(asn, Some((15169, Some("Google LLC".into()))));
        // Range edges are inclusive.
        for ip in ["8.8.8.0", "8.8.8.255"] {
            let (loc, asn) = location_from_rows(
                Some(city_row("8.8.8.0", "8.8.8.255")),
                Some(asn_row("8.8.8.0", "8.8.8.255", 15169.0)),
                &key(ip),
            );
            assert!(loc.is_some() && asn.is_some(), "{ip}");
        }
    }

    #[test]
    fn a_row_that_ends_before_the_key_is_ignored() {
        // The probe returns the nearest lower range; in a gap its end is below the key.
        let k = key("203.0.113.50");
        let (loc, asn) = location_from_rows(
            Some(city_row("203.0.112.0", "203.0.112.255")),
            Some(asn_row("203.0.112.0", "203.0.113.49", 1.0)),
            &k,
        );
        assert_eq!((loc, asn), (None, None));
        // A row above the key, or of the other family, is ignored too.
        let (loc, asn) = location_from_rows(
            Some(city_row("203.0.113.51", "203.0.113.60")),
            Some(asn_row("255.255.255.0", "255.255.255.255", 1.0)),
            &key("2001:db8::1"),
        );
        assert_eq!((loc, asn), (None, None));
        assert_eq!(location_from_rows(None, None, &k), (None, None));
    }

    #[test]
    fn bad_values_are_dropped() {
        let k = key("8.8.8.8");
        let mut row = city_row("8.8.8.0", "8.8.8.255");
        row.country_code = Some("usa".into());
        row.region = Some("  ".into());
        row.latitude = Some(91.0);
        row.longitude = Some(f64::NAN);
        let (loc, _) = location_from_rows(Some(row), None, &k);
        assert_eq!(
            loc,
            Some(IpLocation {
                city: Some("Mountain View".into()),
                ..IpLocation::default()
            })
        );
        let empty = CityRow {
            country_code: None,
            region: None,
            city: Some(String::new()),
            latitude: None,
            longitude: None,
            ..city_row("8.8.8.0", "8.8.8.255")
        };
        assert_eq!(location_from_rows(Some(empty), None, &k).0, None);
        for bad in [0.0, -1.0, 1.5, 4_294_967_296.0, f64::NAN] {
            let (_, asn) = location_from_rows(None, Some(asn_row("8.8.8.0", "8.8.8.255", bad)), &k);
            assert_eq!(asn, None, "{bad}");
        }
        let mut no_org = asn_row("8.8.8.0", "8.8.8.255", 4_294_967_295.0);
        no_org.org = None;
        assert_eq!(
            location_from_rows(None, Some(no_org), &k).1,
            Some((u32::MAX, None))
        );
    }

    #[test]
    fn rows_deserialize_from_d1_json() {
        let city: CityRow = serde_json::from_value(serde_json::json!({
            "ip_start": "408080800", "ip_end": "4080808ff", "country_code": "US",
            "region": null, "city": "Mountain View", "latitude": 37.422, "longitude": -122.085
        }))
        .unwrap();
        assert_eq!(city.region, None);
        let asn: AsnRow = serde_json::from_value(serde_json::json!({
            "ip_start": "408080800", "ip_end": "4080808ff", "asn": 15169, "org": "Google LLC"
        }))
        .unwrap();
        assert_eq!(asn.asn, 15169.0);
    }

    /// Concatenates the string literals of `export const NAME = "…" + "…";` in the importer.
    fn js_const(src: &str, name: &str) -> String {
        let head = format!("export const {name} =");
        let start = src
            .find(&head)
            .unwrap_or_else(|| panic!("{name} not in ipdb.mjs"))
            + head.len();
        let body = &src[start..start + src[start..].find(';').unwrap()];
        body.split('"').skip(1).step_by(2).collect()
    }

    #[test]
    fn the_sql_matches_the_importer_s() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/lib/ipdb.mjs");
        let src = std::fs::read_to_string(path).expect("scripts/lib/ipdb.mjs");
        assert_eq!(js_const(&src, "CITY_LOOKUP_SQL"), CITY_LOOKUP_SQL);
        assert_eq!(js_const(&src, "ASN_LOOKUP_SQL"), ASN_LOOKUP_SQL);
    }
}
