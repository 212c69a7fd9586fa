//! Stored rows → API objects (api-contract §7) and the list/single envelopes (§9.2, §9.3),
//! including Free-plan redaction: stored data keeps everything, responses hide it.

use crate::respond::Tenant;
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
            "forensics": hidden(parse_json_text(self.forensics.as_deref())),
            "metadata": metadata,
            "created_at": UnixMs(self.created_at as i64).iso_millis(),
        })
    }
}

/// `meta` of both envelopes.
pub fn meta(tenant: &Tenant, now: UnixMs, max_limit: Option<u32>) -> Value {
    let mut m = json!({
        "plan": tenant.plan.reported(),
        "retention_days": tenant.limits.retention_days,
        "cutoff_date": tenant.cutoff(now).iso_millis(),
        "redacted": redacts(tenant),
    });
    if let Some(max) = max_limit {
        m["max_limit"] = max.into();
    }
    m
}

/// Free-plan responses hide GeoIP and network intelligence.
pub fn redacts(tenant: &Tenant) -> bool {
    !tenant.plan.is_pro_or_above()
}

/// The list envelope; `pagination` is always present.
pub fn list_envelope(data: Vec<Value>, total: u64, limit: u32, offset: u32, meta: Value) -> Value {
    let has_more = u64::from(offset) + (data.len() as u64) < total;
    json!({
        "success": true,
        "data": data,
        "pagination": { "total": total, "limit": limit, "offset": offset, "has_more": has_more },
        "meta": meta,
    })
}

/// The single-object envelope.
pub fn single_envelope(data: Value, meta: Value) -> Value {
    json!({ "success": true, "data": data, "meta": meta })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrgId;
    use crate::plan::Plan;

    fn row() -> EventRow {
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
        let v = row().to_api(false);
        assert_eq!(v["actor"], json!({"id":"u1","email":null}));
        assert_eq!(v["latitude"], json!(52.52));
        assert_eq!(v["is_vpn"], json!(true));
        assert_eq!(v["is_proxy"], Value::Null);
        assert_eq!(v["forensics"]["location"]["city"], "Berlin");
        assert_eq!(v["created_at"], "2026-01-30T09:15:00.123Z");
        assert_eq!(v["instant_alert"], json!(false));
        assert_eq!(v["metadata"]["_sdk"], "x");
    }

    #[test]
    fn redaction_hides_geo_and_network_but_keeps_threat_score() {
        let v = row().to_api(true);
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

    #[test]
    fn envelopes() {
        let t = Tenant {
            org_id: OrgId("o".into()),
            org_name: "n".into(),
            plan: Plan::Free,
            limits: Plan::Free.default_limits(),
        };
        let m = meta(&t, UnixMs(1_769_764_500_123), Some(200));
        assert_eq!(
            m,
            json!({"plan":"free","retention_days":7,"cutoff_date":"2026-01-23T09:15:00.123Z","redacted":true,"max_limit":200})
        );
        let l = list_envelope(vec![json!(1), json!(2)], 5, 2, 2, m.clone());
        assert_eq!(
            l["pagination"],
            json!({"total":5,"limit":2,"offset":2,"has_more":true})
        );
        let last = list_envelope(vec![json!(1)], 5, 2, 4, m.clone());
        assert_eq!(last["pagination"]["has_more"], json!(false));
        let empty = list_envelope(vec![], 0, 50, 0, m.clone());
        assert_eq!(
            empty["pagination"],
            json!({"total":0,"limit":50,"offset":0,"has_more":false})
        );
        assert_eq!(single_envelope(json!({"id":1}), m)["success"], json!(true));
    }
}
