//! Every detection threshold in one struct (docs/api.md §10.1). `Default` is exactly the
//! documented defaults (docs/api.md §10); severities are not here because docs/api.md §8.2
//! fixes them per alert type.

use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Minutes as milliseconds, the unit of [`crate::time::UnixMs`].
pub(crate) fn minutes_ms(minutes: u32) -> i64 {
    i64::from(minutes) * MINUTE_MS
}

/// Days as milliseconds.
pub(crate) fn days_ms(days: u32) -> i64 {
    i64::from(days) * DAY_MS
}

/// A counting threshold: at least `threshold` matching events within `window_minutes`,
/// the triggering event included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burst {
    pub threshold: u32,
    pub window_minutes: u32,
}

impl Burst {
    /// The window in milliseconds.
    pub fn window_ms(self) -> i64 {
        minutes_ms(self.window_minutes)
    }
}

/// Impossible-travel thresholds (docs/api.md §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TravelConfig {
    /// Alert only when the logins are at least this far apart (inclusive).
    pub min_distance_km: f64,
    /// Alert only when the implied speed is strictly above this (805 km/h = 500 mph).
    pub min_speed_kmh: f64,
    /// How far back the previous successful login may be (inclusive).
    pub lookback_hours: u32,
    /// The time gap is floored at this, so equal timestamps give a finite speed.
    pub min_gap_seconds: u32,
    /// GeoIP jitter guard: a pair under this distance *and* under `jitter_minutes` never alerts.
    pub jitter_km: f64,
    pub jitter_minutes: u32,
}

impl TravelConfig {
    /// The lookback in milliseconds.
    pub fn lookback_ms(&self) -> i64 {
        minutes_ms(self.lookback_hours) * 60
    }
}

/// Confidence of each alert (docs/api.md §10.9), integers 0–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confidences {
    pub instant: u8,
    /// Brute force at exactly the threshold…
    pub brute_force_base: u8,
    /// …plus this per failure above it…
    pub brute_force_step: u8,
    /// …never above this, so a rule-based guess never claims certainty.
    pub brute_force_cap: u8,
    pub travel: u8,
    /// Impossible travel when a VPN, Tor, proxy, datacenter or relay network is involved.
    pub travel_downgraded: u8,
    pub geo_anomaly: u8,
    /// A login from a country on the organisation's blocklist.
    pub geo_blocklist: u8,
    pub tor_login: u8,
    pub rate_limit: u8,
    pub new_device: u8,
    /// A successful login after a brute-force burst.
    pub account_compromise: u8,
    pub suspicious_network: u8,
}

/// All detection thresholds. `DetectionConfig::default()` is the documented configuration; an
/// organisation's settings (`super::settings`, docs/api.md §12.3) override some of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionConfig {
    /// Failed logins from one source IP.
    pub brute_force_ip: Burst,
    /// Failed logins against one actor.
    pub brute_force_account: Burst,
    /// `security.rate_limit_exceeded` events for one actor or IP.
    pub rate_limit: Burst,
    pub travel: TravelConfig,
    /// Country memory of the geo-anomaly rule.
    pub geo_history_days: u32,
    /// Device memory of the new-device rule (docs/api.md §10.5: the geo window's length).
    pub device_history_days: u32,
    pub confidence: Confidences,
    /// The organisation's country blocklist: upper-case ISO 3166-1 alpha-2 codes, empty by
    /// default (docs/api.md §12.3).
    pub country_blocklist: Vec<String>,
    /// Minutes without a heartbeat after which an agent raises an alert; 0, the default, never
    /// (docs/integrations.md §3.1). Below the stale rule's 6 minutes it waits for that.
    pub agent_silence_minutes: u32,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            brute_force_ip: Burst {
                threshold: 5,
                window_minutes: 5,
            },
            brute_force_account: Burst {
                threshold: 10,
                window_minutes: 60,
            },
            rate_limit: Burst {
                threshold: 3,
                window_minutes: 10,
            },
            travel: TravelConfig {
                min_distance_km: 500.0,
                min_speed_kmh: 805.0,
                lookback_hours: 24,
                min_gap_seconds: 1,
                jitter_km: 50.0,
                jitter_minutes: 10,
            },
            geo_history_days: 28,
            device_history_days: 28,
            confidence: Confidences {
                instant: 100,
                brute_force_base: 70,
                brute_force_step: 5,
                brute_force_cap: 99,
                travel: 90,
                travel_downgraded: 40,
                geo_anomaly: 70,
                geo_blocklist: 90,
                tor_login: 80,
                rate_limit: 80,
                new_device: 60,
                account_compromise: 90,
                suspicious_network: 60,
            },
            country_blocklist: Vec::new(),
            agent_silence_minutes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_numbers() {
        let c = DetectionConfig::default();
        assert_eq!(
            (c.brute_force_ip.threshold, c.brute_force_ip.window_minutes),
            (5, 5)
        );
        assert_eq!(
            (
                c.brute_force_account.threshold,
                c.brute_force_account.window_minutes
            ),
            (10, 60)
        );
        assert_eq!(
            (c.rate_limit.threshold, c.rate_limit.window_minutes),
            (3, 10)
        );
        assert_eq!(c.travel.min_distance_km, 500.0);
        assert_eq!(c.travel.min_speed_kmh, 805.0);
        assert_eq!(c.travel.lookback_hours, 24);
        assert_eq!(c.travel.min_gap_seconds, 1);
        assert_eq!((c.travel.jitter_km, c.travel.jitter_minutes), (50.0, 10));
        assert_eq!((c.geo_history_days, c.device_history_days), (28, 28));
        let k = c.confidence;
        assert_eq!(
            [
                k.instant,
                k.brute_force_base,
                k.brute_force_step,
                k.brute_force_cap,
                k.travel,
                k.travel_downgraded,
                k.geo_anomaly,
                k.geo_blocklist,
                k.tor_login,
                k.rate_limit,
                k.new_device,
                k.account_compromise,
                k.suspicious_network
            ],
            [100, 70, 5, 99, 90, 40, 70, 90, 80, 80, 60, 90, 60]
        );
    }

    #[test]
    fn windows_convert_to_milliseconds() {
        assert_eq!(
            DetectionConfig::default().brute_force_ip.window_ms(),
            300_000
        );
        assert_eq!(days_ms(28), 2_419_200_000);
    }
}
