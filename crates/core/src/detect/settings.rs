//! Detection settings per organisation (docs/api.md §12.3): the brute-force counts and
//! windows, the impossible-travel speed and distance floor, and a country blocklist, each
//! overriding [`DetectionConfig::default()`] within a validated range.
//!
//! An organisation's overrides are stored as one JSON object in the shape of
//! `GET /settings/detection` (`detection_settings.overrides`); a `PATCH` is an RFC 7396 merge
//! patch of it (a `null` member resets a setting to its default), validated here and merged in
//! SQL (`json_patch`) in one statement, so concurrent patches of different settings both land.
//!
//! Detection reads the settings of a batch's organisations together with their active
//! suppressions in one round trip ([`DetectionContext::load`]: two statements), once per queue
//! batch and once per Loki push, and runs each event with its organisation's configuration.

use super::DetectionConfig;
use crate::alerts::suppress::{Suppressions, MAX_REASON_CHARS};
use crate::api::error::{ApiError, FieldError};
use crate::api::sql::{SqlParam, Statement};
use crate::intel::places::country_code;
use crate::runtime::Db;
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Longest country blocklist (there are 249 codes).
pub const MAX_BLOCKLIST: usize = 250;

/// One numeric setting: `group.name`, its range (inclusive) and whether it is a whole number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub group: &'static str,
    pub name: &'static str,
    pub min: f64,
    pub max: f64,
    pub integer: bool,
}

/// Every numeric setting, with its range (docs/api.md §12.3).
pub const SETTINGS: [Setting; 7] = [
    Setting {
        group: "brute_force_ip",
        name: "threshold",
        min: 2.0,
        max: 1000.0,
        integer: true,
    },
    Setting {
        group: "brute_force_ip",
        name: "window_minutes",
        min: 1.0,
        max: 1440.0,
        integer: true,
    },
    Setting {
        group: "brute_force_account",
        name: "threshold",
        min: 2.0,
        max: 1000.0,
        integer: true,
    },
    Setting {
        group: "brute_force_account",
        name: "window_minutes",
        min: 1.0,
        max: 1440.0,
        integer: true,
    },
    Setting {
        group: "travel",
        name: "min_speed_kmh",
        min: 100.0,
        max: 2000.0,
        integer: false,
    },
    Setting {
        group: "travel",
        name: "min_distance_km",
        min: 50.0,
        max: 5000.0,
        integer: false,
    },
    Setting {
        group: "agents",
        name: "stale_alert_minutes",
        min: 0.0,
        max: 1440.0,
        integer: true,
    },
];

const GROUPS: [&str; 4] = ["brute_force_ip", "brute_force_account", "travel", "agents"];
const BLOCKLIST: &str = "country_blocklist";

impl Setting {
    /// The value if `v` is in range; the error is the message for the field.
    pub fn check(&self, v: &Value) -> Result<f64, String> {
        let range = if self.integer {
            format!("an integer from {} to {}", self.min, self.max)
        } else {
            format!("a number from {} to {}", self.min, self.max)
        };
        let n = if self.integer {
            v.as_u64().map(|n| n as f64)
        } else {
            v.as_f64()
        };
        n.filter(|n| n.is_finite() && (self.min..=self.max).contains(n))
            .ok_or_else(|| format!("must be {range}"))
    }

    fn field(&self) -> String {
        format!("{}.{}", self.group, self.name)
    }

    fn get(&self, c: &DetectionConfig) -> Value {
        match (self.group, self.name) {
            ("brute_force_ip", "threshold") => json!(c.brute_force_ip.threshold),
            ("brute_force_ip", _) => json!(c.brute_force_ip.window_minutes),
            ("brute_force_account", "threshold") => json!(c.brute_force_account.threshold),
            ("brute_force_account", _) => json!(c.brute_force_account.window_minutes),
            (_, "min_speed_kmh") => json!(c.travel.min_speed_kmh),
            ("agents", _) => json!(c.agent_silence_minutes),
            _ => json!(c.travel.min_distance_km),
        }
    }

    fn set(&self, c: &mut DetectionConfig, n: f64) {
        let whole = n as u32;
        match (self.group, self.name) {
            ("brute_force_ip", "threshold") => c.brute_force_ip.threshold = whole,
            ("brute_force_ip", _) => c.brute_force_ip.window_minutes = whole,
            ("brute_force_account", "threshold") => c.brute_force_account.threshold = whole,
            ("brute_force_account", _) => c.brute_force_account.window_minutes = whole,
            (_, "min_speed_kmh") => c.travel.min_speed_kmh = n,
            ("agents", _) => c.agent_silence_minutes = whole,
            _ => c.travel.min_distance_km = n,
        }
    }
}

/// The settings of `c` an organisation can change, in the API's shape.
pub fn view(c: &DetectionConfig) -> Value {
    let mut out = Map::new();
    for group in GROUPS {
        let members: Map<String, Value> = SETTINGS
            .iter()
            .filter(|s| s.group == group)
            .map(|s| (s.name.to_string(), s.get(c)))
            .collect();
        out.insert(group.into(), Value::Object(members));
    }
    out.insert(BLOCKLIST.into(), json!(c.country_blocklist));
    Value::Object(out)
}

/// `base` with the stored `overrides` applied. A stored value out of range (none is written
/// so) keeps its default.
pub fn apply(base: &DetectionConfig, overrides: &Value) -> DetectionConfig {
    let mut c = base.clone();
    for s in SETTINGS {
        if let Some(n) = overrides
            .get(s.group)
            .and_then(|g| g.get(s.name))
            .and_then(|v| s.check(v).ok())
        {
            s.set(&mut c, n);
        }
    }
    if let Some(list) = overrides.get(BLOCKLIST).and_then(Value::as_array) {
        c.country_blocklist = list
            .iter()
            .filter_map(|v| v.as_str().and_then(country_code))
            .take(MAX_BLOCKLIST)
            .collect();
    }
    c
}

/// A validated `PATCH /settings/detection` body.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsPatch {
    /// The merge patch of the stored overrides: only valid settings, `null` to reset one.
    pub merge: Value,
    pub reason: Option<String>,
}

fn blocklist(v: &Value) -> Result<Value, String> {
    let bad = || {
        format!(
            "must be null or a list of at most {MAX_BLOCKLIST} ISO 3166-1 alpha-2 country codes"
        )
    };
    match v {
        Value::Null => Ok(Value::Null),
        Value::Array(items) if items.len() <= MAX_BLOCKLIST => {
            let mut codes: Vec<String> = Vec::new();
            for item in items {
                let code = item.as_str().and_then(country_code).ok_or_else(bad)?;
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            Ok(json!(codes))
        }
        _ => Err(bad()),
    }
}

/// The 400 for a member that is not a setting, named by its path (at most 100 characters; a
/// member with an empty name is the body's problem).
fn not_a_setting(path: &str) -> FieldError {
    let field: String = if path.is_empty() {
        "body".into()
    } else {
        path.chars().take(100).collect()
    };
    FieldError::new(field, "is not a detection setting")
}

impl SettingsPatch {
    /// Parses and validates a body. Every member must be a setting (a misspelt one is a 400,
    /// not a silent no-op), and at least one must be named.
    pub fn parse(body: &[u8]) -> Result<SettingsPatch, ApiError> {
        let obj = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(ApiError::invalid("body", "must be a JSON object")),
            Err(e) => return Err(ApiError::invalid("body", format!("malformed JSON: {e}"))),
        };
        let mut errors = Vec::new();
        let mut merge = Map::new();
        let mut reason = None;
        for (key, v) in &obj {
            if GROUPS.contains(&key.as_str()) {
                match v {
                    Value::Null => {
                        merge.insert(key.clone(), Value::Null);
                    }
                    Value::Object(members) => {
                        let mut group = Map::new();
                        for (name, v) in members {
                            let Some(s) =
                                SETTINGS.iter().find(|s| s.group == key && s.name == name)
                            else {
                                errors.push(not_a_setting(&format!("{key}.{name}")));
                                continue;
                            };
                            if v.is_null() {
                                group.insert(name.clone(), Value::Null);
                                continue;
                            }
                            match s.check(v) {
                                Ok(_) => {
                                    group.insert(name.clone(), v.clone());
                                }
                                Err(m) => errors.push(FieldError::new(s.field(), m)),
                            }
                        }
                        merge.insert(key.clone(), Value::Object(group));
                    }
                    _ => errors.push(FieldError::new(key, "must be an object or null")),
                }
            } else if key == BLOCKLIST {
                match blocklist(v) {
                    Ok(list) => {
                        merge.insert(key.clone(), list);
                    }
                    Err(m) => errors.push(FieldError::new(key, m)),
                }
            } else if key == "reason" {
                match v {
                    Value::Null => {}
                    Value::String(r) if r.trim().chars().count() <= MAX_REASON_CHARS => {
                        reason = Some(r.trim().to_string()).filter(|r| !r.is_empty());
                    }
                    _ => errors.push(FieldError::new(
                        "reason",
                        format!("must be a string of at most {MAX_REASON_CHARS} characters"),
                    )),
                }
            } else {
                errors.push(not_a_setting(key));
            }
        }
        if errors.is_empty() && merge.is_empty() {
            errors.push(FieldError::new(
                "body",
                "names no setting: give brute_force_ip, brute_force_account, travel or country_blocklist",
            ));
        }
        if errors.is_empty() {
            Ok(SettingsPatch {
                merge: Value::Object(merge),
                reason,
            })
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// A `detection_settings` row.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SettingsRow {
    pub org_id: String,
    pub overrides: String,
    pub reason: Option<String>,
    pub updated_by: String,
    pub updated_at: f64,
}

impl SettingsRow {
    fn overrides(&self) -> Value {
        serde_json::from_str(&self.overrides).unwrap_or(Value::Null)
    }
}

/// The Settings object of docs/api.md §12.3: the settings in force, the defaults, and who
/// changed them last, when and why (all `null` before the first change).
pub fn to_api(row: Option<&SettingsRow>) -> Value {
    let defaults = DetectionConfig::default();
    let current = row.map_or_else(|| defaults.clone(), |r| apply(&defaults, &r.overrides()));
    let mut v = view(&current);
    v["defaults"] = view(&defaults);
    v["reason"] = json!(row.and_then(|r| r.reason.clone()));
    v["updated_by"] = json!(row.map(|r| r.updated_by.clone()));
    v["updated_at"] = json!(row.map(|r| UnixMs(r.updated_at as i64).iso_millis()));
    v
}

const COLUMNS: &str = "org_id, overrides, reason, updated_by, updated_at";

/// The organisation's settings row.
pub fn get_statement(org: &str) -> Statement {
    (
        format!("SELECT {COLUMNS} FROM detection_settings WHERE org_id = ?1"),
        vec![SqlParam::Text(org.into())],
    )
}

/// Merges a patch into the organisation's overrides, recording who, when and why.
pub fn upsert_statement(org: &str, p: &SettingsPatch, updated_by: &str, now: UnixMs) -> Statement {
    (
        format!(
            "INSERT INTO detection_settings ({COLUMNS}) VALUES (?1, json_patch('{{}}', ?2), ?3, ?4, ?5) \
             ON CONFLICT (org_id) DO UPDATE SET overrides = json_patch(overrides, ?2), \
             reason = excluded.reason, updated_by = excluded.updated_by, updated_at = excluded.updated_at"
        ),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(p.merge.to_string()),
            p.reason.clone().map_or(SqlParam::Null, SqlParam::Text),
            SqlParam::Text(updated_by.into()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// The settings of `orgs` (detection: one statement for a batch).
pub fn load_statement(orgs: &[&str]) -> Statement {
    (
        "SELECT org_id, overrides FROM detection_settings \
         WHERE org_id IN (SELECT j.value FROM json_each(?1) j)"
            .into(),
        vec![SqlParam::Text(json!(orgs).to_string())],
    )
}

#[derive(Deserialize)]
struct LoadedRow {
    org_id: String,
    overrides: String,
}

/// What detection reads of its organisations before it runs: each one's configuration and
/// active suppressions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectionContext {
    defaults: DetectionConfig,
    configs: BTreeMap<String, DetectionConfig>,
    pub suppressions: Suppressions,
}

impl DetectionContext {
    /// The documented defaults for everyone and no suppression.
    pub fn defaults() -> DetectionContext {
        DetectionContext::default()
    }

    /// Settings and active suppressions of `orgs` (suppressions not expired by `since`, the
    /// earliest trigger): two statements, one round trip.
    pub fn statements(orgs: &[&str], since: UnixMs) -> [Statement; 2] {
        [
            load_statement(orgs),
            Suppressions::load_statement(orgs, since),
        ]
    }

    /// From the answers of [`DetectionContext::statements`].
    pub fn from_rows(rows: &[Vec<Value>]) -> Result<DetectionContext, String> {
        let [settings, suppressions] = rows else {
            return Err(format!("{} result sets, want 2", rows.len()));
        };
        let defaults = DetectionConfig::default();
        let mut configs = BTreeMap::new();
        for row in settings {
            let r = LoadedRow::deserialize(row).map_err(|e| format!("settings row: {e}"))?;
            let overrides = serde_json::from_str(&r.overrides).unwrap_or(Value::Null);
            configs.insert(r.org_id, apply(&defaults, &overrides));
        }
        Ok(DetectionContext {
            defaults,
            configs,
            suppressions: Suppressions::from_rows(suppressions),
        })
    }

    /// Reads the context of `orgs` (nothing when there are none).
    pub async fn load<D: Db>(
        db: &D,
        orgs: &[&str],
        since: UnixMs,
    ) -> Result<DetectionContext, String> {
        if orgs.is_empty() {
            return Ok(DetectionContext::defaults());
        }
        let rows = db
            .batch(&DetectionContext::statements(orgs, since))
            .await
            .map_err(|e| format!("detection settings and suppressions: {e}"))?;
        DetectionContext::from_rows(&rows)
    }

    /// The configuration `org` detects with.
    pub fn config(&self, org: &str) -> &DetectionConfig {
        self.configs.get(org).unwrap_or(&self.defaults)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "settings_tests.rs"]
mod tests;
