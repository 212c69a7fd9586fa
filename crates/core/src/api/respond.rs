//! Success bodies and the headers every authenticated response carries (docs/api.md §4, §5).

use crate::access::ids::EventId;
use crate::access::tenant::Tenant;
use crate::limits::limiter::{QuotaState, RateDecision, WINDOW_SECONDS};
use crate::time::UnixMs;
use serde_json::{json, Value};

/// The plan, retention, quota and rate-limit headers.
pub fn tenant_headers(
    tenant: &Tenant,
    now: UnixMs,
    quota: Option<&QuotaState>,
    rate: Option<&RateDecision>,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("X-LiteSOC-Plan", tenant.plan.reported().to_string()),
        (
            "X-LiteSOC-Retention",
            tenant.limits.retention_days.to_string(),
        ),
        ("X-LiteSOC-Cutoff", tenant.cutoff(now).iso_millis()),
    ];
    if let Some(q) = quota {
        if let (Some(limit), Some(remaining)) = (q.limit, q.remaining()) {
            h.push(("X-LiteSOC-Quota-Limit", limit.to_string()));
            h.push(("X-LiteSOC-Quota-Used", q.used.to_string()));
            h.push(("X-LiteSOC-Quota-Remaining", remaining.to_string()));
        }
    }
    if let Some(RateDecision {
        limit: Some(limit),
        remaining,
        reset_seconds,
        ..
    }) = rate
    {
        h.push(("X-RateLimit-Limit", limit.to_string()));
        h.push(("X-RateLimit-Remaining", remaining.unwrap_or(0).to_string()));
        h.push(("X-RateLimit-Reset", reset_seconds.to_string()));
    }
    h
}

/// The `202` body of `POST /collect`.
pub fn collect_accepted(ids: &[EventId], quota: &QuotaState) -> Value {
    let mut body = json!({
        "success": true,
        "status": "queued",
        "queued": ids.len(),
        "event_ids": ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
    });
    if let (Some(limit), Some(remaining)) = (quota.limit, quota.remaining()) {
        body["quota"] = json!({ "limit": limit, "remaining": remaining });
    }
    body
}

/// The bare `GET /health` body.
/// The `GET /health` body; `incidents` is [`crate::ingest::incidents::health_view`].
pub fn health(
    tenant: &Tenant,
    now: UnixMs,
    quota: &QuotaState,
    version: &str,
    incidents: Value,
) -> Value {
    let month = now.month();
    json!({
        "status": "ok",
        "service": "edgesoc",
        "version": version,
        "timestamp": now.iso_millis(),
        "authenticated": true,
        "organization": { "id": tenant.org_id.0, "name": tenant.org_name },
        "plan": tenant.plan.reported(),
        "retention_days": tenant.limits.retention_days,
        "quota": {
            "limit": quota.limit,
            "used": quota.used,
            "remaining": quota.remaining(),
            "period_start": month.start().iso_millis(),
            "period_end": month.end().iso_millis(),
        },
        "rate_limit": { "limit": tenant.limits.rate_per_minute, "window_seconds": WINDOW_SECONDS },
        "incidents": incidents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::OrgId;
    use crate::limits::plan::Plan;

    fn tenant(plan: Plan) -> Tenant {
        Tenant {
            org_id: OrgId("org_1".into()),
            org_name: "Acme".into(),
            plan,
            limits: plan.default_limits(),
            key: None,
            scopes: crate::access::scope::Scopes::ALL,
            origins: Vec::new(),
            session: None,
            person: None,
            shard: crate::shards::ShardName::primary(),
            moving: false,
        }
    }

    const NOW: UnixMs = UnixMs(1_769_764_500_123); // 2026-01-30T09:15:00.123Z

    #[test]
    fn headers_for_a_limited_plan() {
        let q = QuotaState {
            month: "2026-01".into(),
            used: 1234,
            limit: Some(500_000),
        };
        let r = RateDecision {
            allowed: true,
            limit: Some(1000),
            remaining: Some(998),
            reset_seconds: 42,
            retry_after: None,
        };
        let h = tenant_headers(&tenant(Plan::Pro), NOW, Some(&q), Some(&r));
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("X-LiteSOC-Plan"), Some("pro"));
        assert_eq!(get("X-LiteSOC-Retention"), Some("30"));
        assert_eq!(get("X-LiteSOC-Cutoff"), Some("2025-12-31T09:15:00.123Z"));
        assert_eq!(get("X-LiteSOC-Quota-Remaining"), Some("498766"));
        assert_eq!(get("X-RateLimit-Remaining"), Some("998"));
        assert_eq!(get("X-RateLimit-Reset"), Some("42"));
    }

    #[test]
    fn unlimited_plans_omit_quota_and_rate_headers() {
        let q = QuotaState {
            month: "2026-01".into(),
            used: 5,
            limit: None,
        };
        let r = RateDecision {
            allowed: true,
            limit: None,
            remaining: None,
            reset_seconds: 0,
            retry_after: None,
        };
        let h = tenant_headers(&tenant(Plan::Custom), NOW, Some(&q), Some(&r));
        assert!(h
            .iter()
            .all(|(n, _)| !n.starts_with("X-LiteSOC-Quota") && !n.starts_with("X-RateLimit")));
        assert_eq!(h[0], ("X-LiteSOC-Plan", "enterprise".into()));
    }

    #[test]
    fn accepted_body_matches_the_sdk_contract() {
        let ids = [EventId::new_v4(), EventId::new_v4()];
        let q = QuotaState {
            month: "2026-01".into(),
            used: 10,
            limit: Some(100),
        };
        let b = collect_accepted(&ids, &q);
        assert_eq!(b["status"], "queued");
        assert_eq!(b["queued"], 2);
        assert_eq!(b["quota"], json!({"limit":100,"remaining":90}));
        assert!(b.get("error").is_none());
        let unlimited = collect_accepted(&ids, &QuotaState { limit: None, ..q });
        assert!(unlimited.get("quota").is_none());
    }

    #[test]
    fn health_reports_the_month() {
        let q = QuotaState {
            month: "2026-01".into(),
            used: 1,
            limit: None,
        };
        let b = health(
            &tenant(Plan::Enterprise),
            NOW,
            &q,
            "0.1.0",
            json!({"total": 0}),
        );
        assert_eq!(b["incidents"]["total"], 0);
        assert_eq!(b["quota"]["period_start"], "2026-01-01T00:00:00.000Z");
        assert_eq!(b["quota"]["period_end"], "2026-02-01T00:00:00.000Z");
        assert_eq!(b["quota"]["limit"], Value::Null);
        assert_eq!(b["quota"]["remaining"], Value::Null);
        assert_eq!(
            b["rate_limit"],
            json!({"limit": null, "window_seconds": 60})
        );
    }
}
