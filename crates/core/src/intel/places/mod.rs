//! Country names and time zones for locations that came with a country code only (the IP-range
//! table has neither), from the IANA time-zone database's `zone.tab` and CLDR English names
//! (`data.rs`, written by `scripts/gen-places`).

mod data;

use crate::detect::haversine_km;
use data::{COUNTRIES, ZONES};

/// The English name of an ISO 3166-1 alpha-2 code (`GB` → `United Kingdom`); `None` for codes
/// that name no country (`XX`, `T1`, anything unassigned). Case-insensitive.
pub fn country_name(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    COUNTRIES
        .binary_search_by(|(cc, _)| cc.cmp(&code.as_str()))
        .ok()
        .map(|i| COUNTRIES[i].1)
}

/// A country code as stored: two letters upper-cased, when they are an assigned ISO 3166-1
/// alpha-2 code (`gb` → `GB`; `XX`, `T1`, `UK` are not).
pub fn country_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    country_name(&code).map(|_| code)
}

/// The IANA time zone of a place: among the zones of `country` (every zone when the country is
/// unknown), the one whose principal location is nearest `coords`, the country's main zone
/// (`zone.tab` lists it first) counting at half its distance so small zones such as exclaves
/// do not take the cities around them; without coordinates, the country's zone only when it has
/// exactly one. `None` when nothing decides it. An approximation: no zone polygons ship.
pub fn timezone(country: Option<&str>, coords: Option<(f64, f64)>) -> Option<&'static str> {
    let country = country.map(|c| c.trim().to_ascii_uppercase());
    let zones: &[(&str, f64, f64, &str)] = match &country {
        Some(cc) => {
            let start = ZONES.partition_point(|z| z.0 < cc.as_str());
            let end = ZONES.partition_point(|z| z.0 <= cc.as_str());
            &ZONES[start..end]
        }
        None => &ZONES,
    };
    match (zones, coords) {
        ([], _) => None,
        ([only], _) if country.is_some() => Some(only.3),
        (_, Some((lat, lon))) => zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let main = i == 0 && country.is_some();
                let km = haversine_km(lat, lon, z.1, z.2);
                (if main { km / 2.0 } else { km }, z.3)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, zone)| zone),
        (_, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ZONES.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(ZONES
            .iter()
            .all(|z| z.1.abs() <= 90.0 && z.2.abs() <= 180.0 && z.3.contains('/')));
    }

    #[test]
    fn country_names_are_the_common_english_ones() {
        assert_eq!(country_name("GB"), Some("United Kingdom"));
        assert_eq!(country_name("us"), Some("United States"));
        assert_eq!(country_name("DE"), Some("Germany"));
        assert_eq!(country_name("KR"), Some("South Korea"));
        for none in ["XX", "T1", "", "G", "GBR", "UK"] {
            assert_eq!(country_name(none), None, "{none}");
            assert_eq!(country_code(none), None, "{none}");
        }
        assert_eq!(country_code(" gb "), Some("GB".into()));
        assert_eq!(
            COUNTRIES.len(),
            249,
            "every assigned ISO 3166-1 alpha-2 code"
        );
    }

    #[test]
    fn one_zone_countries_need_no_coordinates() {
        assert_eq!(timezone(Some("GB"), None), Some("Europe/London"));
        assert_eq!(timezone(Some("fr"), None), Some("Europe/Paris"));
        assert_eq!(
            timezone(Some("DE"), Some((50.1, 8.7))),
            Some("Europe/Berlin")
        );
        assert_eq!(
            timezone(Some("JP"), Some((35.0, 139.0))),
            Some("Asia/Tokyo")
        );
        // Several zones and no coordinates: nothing decides it.
        assert_eq!(timezone(Some("US"), None), None);
        assert_eq!(timezone(None, None), None);
        assert_eq!(timezone(Some("XX"), Some((51.5, -0.1))), None);
    }

    #[test]
    fn coordinates_pick_the_nearest_zone_of_the_country() {
        assert_eq!(
            timezone(Some("US"), Some((40.71, -74.0))),
            Some("America/New_York")
        );
        assert_eq!(
            timezone(Some("US"), Some((37.77, -122.42))),
            Some("America/Los_Angeles")
        );
        assert_eq!(
            timezone(Some("US"), Some((41.88, -87.63))),
            Some("America/Chicago")
        );
        assert_eq!(
            timezone(Some("AU"), Some((-33.87, 151.21))),
            Some("Australia/Sydney")
        );
        assert_eq!(timezone(None, Some((48.86, 2.35))), Some("Europe/Paris"));
    }
}
