//! An `events` row as stored, and the Event object of docs/api.md §7.1, with Free-plan
//! redaction: stored data keeps everything, responses hide it.

use crate::api::cursor::Cursor;
use crate::api::envelope::Keyed;
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// An `events` row as D1 returns it (numbers arrive as JS numbers, booleans as 0/1, JSON
/// columns as text).
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub id: String,
    pub org_id: String,
    pub event_name: String,
    pub category: String,
    pub severity: String,
    pub instant_alert: f64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub user_ip: Option<String>,
    pub server_ip: Option<String>,
    pub country_code: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub is_vpn: Option<f64>,
    pub is_tor: Option<f64>,
    pub is_proxy: Option<f64>,
    pub is_datacenter: Option<f64>,
    pub threat_score: Option<f64>,
    pub forensics: Option<String>,
    pub metadata: String,
    pub created_at: f64,
}

fn flag(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| Value::Bool(x != 0.0))
}

fn parse_json_text(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// `forensics` as the official SDKs can read it. The contract lets each part be `null`, but
/// litesoc 2.6.0's `Forensics.from_dict()` dereferences both parts, so an unknown part is sent
/// as its keys with unknown values (network flags `false`, their documented default).
pub fn sdk_safe_forensics(forensics: Value) -> Value {
    let Value::Object(mut f) = forensics else {
        return forensics;
    };
    if f.get("network").is_none_or(Value::is_null) {
        f.insert(
            "network".into(),
            json!({"is_vpn": false, "is_tor": false, "is_proxy": false, "is_datacenter": false,
                   "is_mobile": false, "asn": null, "asn_org": null, "isp": null, "threat_score": null}),
        );
    }
    if f.get("location").is_none_or(Value::is_null) {
        f.insert(
            "location".into(),
            json!({"city": null, "region": null, "country_code": null, "country_name": null,
                   "latitude": null, "longitude": null, "timezone": null}),
        );
    }
    Value::Object(f)
}

impl EventRow {
    /// The Event object; `redact` nulls GeoIP and network intelligence (threat score stays).
    pub fn to_api(&self, redact: bool) -> Value {
        let actor = self.actor_id.as_ref().map_or(
            Value::Null,
            |id| json!({ "id": id, "email": self.actor_email }),
        );
        let metadata = match parse_json_text(Some(&self.metadata)) {
            Value::Object(m) => Value::Object(m),
            _ => Value::Object(Map::new()),
        };
        let hidden = |v: Value| if redact { Value::Null } else { v };
        json!({
            "id": self.id,
            "org_id": self.org_id,
            "event_name": self.event_name,
            "category": self.category,
            "severity": self.severity,
            "instant_alert": self.instant_alert != 0.0,
            "actor_id": self.actor_id,
            "actor_email": self.actor_email,
            "actor": actor,
            "user_ip": self.user_ip,
            "server_ip": self.server_ip,
            "country_code": hidden(json!(self.country_code)),
            "city": hidden(json!(self.city)),
            "latitude": hidden(json!(self.latitude)),
            "longitude": hidden(json!(self.longitude)),
            "is_vpn": hidden(flag(self.is_vpn)),
            "is_tor": hidden(flag(self.is_tor)),
            "is_proxy": hidden(flag(self.is_proxy)),
            "is_datacenter": hidden(flag(self.is_datacenter)),
            "threat_score": self.threat_score.map(|s| s.clamp(0.0, 100.0) as u8),
            "forensics": hidden(sdk_safe_forensics(parse_json_text(self.forensics.as_deref()))),
            "metadata": metadata,
            "created_at": UnixMs(self.created_at as i64).iso_millis(),
        })
    }
}

impl Keyed for EventRow {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: UnixMs(self.created_at as i64),
            id: self.id.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) use tests::sample;

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored row with every field set.
    pub(crate) fn sample() -> EventRow {
        EventRow {
            id: "e1".into(),
            org_id: "org_1".into(),
            event_name: "auth.login_failed".into(),
            category: "auth".into(),
            severity: "medium".into(),
            instant_alert: 0.0,
            actor_id: Some("u1".into()),
            actor_email: None,
            user_ip: Some("203.0.113.5".into()),
            server_ip: None,
            country_code: Some("DE".into()),
            city: Some("Berlin".into()),
            latitude: Some(52.52),
            longitude: Some(13.405),
            is_vpn: Some(1.0),
            is_tor: Some(0.0),
            is_proxy: None,
            is_datacenter: Some(0.0),
            threat_score: Some(35.0),
            forensics: Some(r#"{"network":null,"location":{"city":"Berlin"}}"#.into()),
            metadata: r#"{"_sdk":"x"}"#.into(),
            created_at: 1_769_764_500_123.0,
        }
    }

    #[test]
    fn event_object_has_flat_and_nested_fields() {
        let v = sample().to_api(false);
        assert_eq!(v["actor"], json!({"id":"u1","email":null}));
        assert_eq!(v["latitude"], json!(52.52));
        assert_eq!(v["is_vpn"], json!(true));
        assert_eq!(v["is_proxy"], Value::Null);
        assert_eq!(v["forensics"]["location"]["city"], "Berlin");
        assert_eq!(
            v["forensics"]["network"]["is_vpn"],
            json!(false),
            "a null part becomes an object"
        );
        assert_eq!(v["forensics"]["network"]["asn"], Value::Null);
        let mut none = sample();
        none.forensics = None;
        assert_eq!(
            none.to_api(false)["forensics"],
            Value::Null,
            "no forensics at all stays null"
        );
        assert_eq!(v["created_at"], "2026-01-30T09:15:00.123Z");
        assert_eq!(v["instant_alert"], json!(false));
        assert_eq!(v["metadata"]["_sdk"], "x");
    }

    #[test]
    fn redaction_hides_geo_and_network_but_keeps_threat_score() {
        let v = sample().to_api(true);
        for k in [
            "country_code",
            "city",
            "latitude",
            "longitude",
            "is_vpn",
            "is_tor",
            "is_proxy",
            "is_datacenter",
            "forensics",
        ] {
            assert_eq!(v[k], Value::Null, "{k}");
        }
        assert_eq!(v["threat_score"], 35);
        assert_eq!(v["user_ip"], "203.0.113.5");
    }
}
