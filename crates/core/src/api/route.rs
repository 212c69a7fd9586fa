//! Path normalisation and routing (docs/api.md §1.1): `/v1` and `/api/v1` prefixes stripped,
//! repeated slashes collapsed, trailing slash ignored, 404 for unknown paths and 405 for a
//! known path with the wrong method.

use crate::access::scope::Scope;
use crate::api::error::ApiError;
use crate::limits::limiter::Budget;

/// Every API operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Collect,
    /// Inbound integrations (docs/integrations.md): an Auth0 log stream, a Supabase webhook.
    Auth0Webhook,
    SupabaseWebhook,
    /// The litesoc-agent's heartbeat, and the agents it reports.
    AgentHeartbeat,
    ListAgents,
    ListEvents,
    GetEvent(String),
    ListAlerts,
    GetAlert(String),
    UpdateAlert(String),
    Health,
    DashboardData,
    LokiPush,
    /// OTLP/HTTP logs (`POST /v1/logs`).
    OtlpLogs,
    ListLogs,
    GetLog(String),
    ExportEvents,
    ExportAlerts,
    ExportLogs,
    /// Loki's reads (`/loki/api/v1/…`, `/ready`).
    LokiQueryRange,
    LokiQuery,
    LokiLabels,
    LokiLabelValues(String),
    LokiSeries,
    LokiBuildinfo,
    LokiReady,
    ListDestinations,
    CreateDestination,
    GetDestination(String),
    UpdateDestination(String),
    DeleteDestination(String),
    TestDestination(String),
    RotateDestinationSecret(String),
    ListDeliveries(String),
    ListSuppressions,
    CreateSuppression,
    GetSuppression(String),
    DeleteSuppression(String),
    GetDetectionSettings,
    UpdateDetectionSettings,
    ListKeys,
    CreateKey,
    RevokeKey(String),
    RotateKey(String),
    ListAudit,
    ExportAudit,
    VerifyAudit,
    GetOrigins,
    UpdateOrigins,
    CreateSession,
    GetSession,
    DeleteSession,
    ListMembers,
    PutMember(String),
    DeleteMember(String),
}

impl Route {
    /// Routes of the alert capability (alerts, destinations, suppressions, detection settings),
    /// which need the Pro plan or above.
    pub fn needs_pro(&self) -> bool {
        !matches!(
            self,
            Route::Collect
                | Route::Auth0Webhook
                | Route::SupabaseWebhook
                | Route::AgentHeartbeat
                | Route::ListAgents
                | Route::ListEvents
                | Route::GetEvent(_)
                | Route::Health
                | Route::DashboardData
                | Route::LokiPush
                | Route::OtlpLogs
                | Route::ListLogs
                | Route::GetLog(_)
                | Route::ExportEvents
                | Route::ExportLogs
                | Route::LokiQueryRange
                | Route::LokiQuery
                | Route::LokiLabels
                | Route::LokiLabelValues(_)
                | Route::LokiSeries
                | Route::LokiBuildinfo
                | Route::LokiReady
                | Route::ListKeys
                | Route::CreateKey
                | Route::RevokeKey(_)
                | Route::RotateKey(_)
                | Route::ListAudit
                | Route::ExportAudit
                | Route::VerifyAudit
                | Route::GetOrigins
                | Route::UpdateOrigins
                | Route::CreateSession
                | Route::GetSession
                | Route::DeleteSession
                | Route::ListMembers
                | Route::PutMember(_)
                | Route::DeleteMember(_)
        )
    }

    /// Whether a key may come in the query string (`?api_key=`): only the inbound webhooks,
    /// whose senders cannot always set a header (docs/integrations.md §0).
    pub fn takes_query_key(&self) -> bool {
        matches!(self, Route::Auth0Webhook | Route::SupabaseWebhook)
    }

    /// The rate budget this route's requests count in (docs/api.md §3.2).
    pub fn budget(&self) -> Budget {
        match self {
            Route::Collect | Route::Auth0Webhook | Route::SupabaseWebhook => Budget::Events,
            Route::LokiPush | Route::OtlpLogs => Budget::Logs,
            _ => Budget::Reads,
        }
    }

    /// The scope a key needs for this route (docs/api.md §2.5). Exhaustive: a new route must
    /// say which scope it belongs to.
    pub fn scope(&self) -> Scope {
        match self {
            Route::Collect
            | Route::Auth0Webhook
            | Route::SupabaseWebhook
            | Route::AgentHeartbeat
            | Route::LokiPush
            | Route::OtlpLogs => Scope::Ingest,
            Route::ListAgents
            | Route::ListEvents
            | Route::GetEvent(_)
            | Route::ListLogs
            | Route::GetLog(_)
            | Route::ExportEvents
            | Route::ExportAlerts
            | Route::ExportLogs
            | Route::LokiQueryRange
            | Route::LokiQuery
            | Route::LokiLabels
            | Route::LokiLabelValues(_)
            | Route::LokiSeries
            | Route::LokiBuildinfo
            | Route::LokiReady
            | Route::ListAlerts
            | Route::GetAlert(_)
            | Route::Health
            | Route::DashboardData
            | Route::ListSuppressions
            | Route::GetSuppression(_)
            | Route::CreateSession
            | Route::GetSession
            | Route::DeleteSession => Scope::Read,
            Route::UpdateAlert(_) | Route::CreateSuppression | Route::DeleteSuppression(_) => {
                Scope::Respond
            }
            Route::ListDestinations
            | Route::CreateDestination
            | Route::GetDestination(_)
            | Route::UpdateDestination(_)
            | Route::DeleteDestination(_)
            | Route::TestDestination(_)
            | Route::RotateDestinationSecret(_)
            | Route::ListDeliveries(_)
            | Route::GetDetectionSettings
            | Route::UpdateDetectionSettings
            | Route::ListKeys
            | Route::CreateKey
            | Route::RevokeKey(_)
            | Route::RotateKey(_)
            | Route::ListAudit
            | Route::ExportAudit
            | Route::VerifyAudit
            | Route::GetOrigins
            | Route::UpdateOrigins
            | Route::ListMembers
            | Route::PutMember(_)
            | Route::DeleteMember(_) => Scope::Admin,
        }
    }
}

/// `/v1//collect/` → `/collect`.
pub fn normalize_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.as_slice() {
        ["api", "v1", rest @ ..] | ["v1", rest @ ..] => rest,
        all => all,
    };
    format!("/{}", rest.join("/"))
}

/// Resolves a method and a raw path to a route.
pub fn resolve(method: &str, raw_path: &str) -> Result<Route, ApiError> {
    let path = normalize_path(raw_path);
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let allowed: &[(&str, Route)] = &match segs.as_slice() {
        ["collect"] | ["collect", "batch"] => vec![("POST", Route::Collect)],
        ["webhooks", "auth0"] => vec![("POST", Route::Auth0Webhook)],
        ["webhooks", "supabase"] => vec![("POST", Route::SupabaseWebhook)],
        ["agent", "heartbeat"] => vec![("POST", Route::AgentHeartbeat)],
        ["agents"] => vec![("GET", Route::ListAgents)],
        ["events"] => vec![("GET", Route::ListEvents)],
        ["events", "export"] => vec![("GET", Route::ExportEvents)],
        ["events", id] => vec![("GET", Route::GetEvent(id.to_string()))],
        ["alerts"] => vec![("GET", Route::ListAlerts)],
        ["alerts", "export"] => vec![("GET", Route::ExportAlerts)],
        ["alerts", id] => {
            vec![
                ("GET", Route::GetAlert(id.to_string())),
                ("PATCH", Route::UpdateAlert(id.to_string())),
            ]
        }
        ["health"] => vec![("GET", Route::Health)],
        ["ui", "mock-data"] => vec![("GET", Route::DashboardData)],
        ["loki", "api", "v1", "push"] => vec![("POST", Route::LokiPush)],
        ["loki", "api", "v1", "query_range"] => vec![("GET", Route::LokiQueryRange)],
        ["loki", "api", "v1", "query"] => vec![("GET", Route::LokiQuery)],
        ["loki", "api", "v1", "labels"] | ["loki", "api", "v1", "label"] => {
            vec![("GET", Route::LokiLabels)]
        }
        ["loki", "api", "v1", "label", name, "values"] => {
            vec![("GET", Route::LokiLabelValues(name.to_string()))]
        }
        ["loki", "api", "v1", "series"] => vec![("GET", Route::LokiSeries)],
        ["loki", "api", "v1", "status", "buildinfo"] => vec![("GET", Route::LokiBuildinfo)],
        ["ready"] => vec![("GET", Route::LokiReady)],
        ["logs"] => vec![("GET", Route::ListLogs), ("POST", Route::OtlpLogs)],
        ["logs", "export"] => vec![("GET", Route::ExportLogs)],
        ["logs", id] => vec![("GET", Route::GetLog(id.to_string()))],
        ["destinations"] => vec![
            ("GET", Route::ListDestinations),
            ("POST", Route::CreateDestination),
        ],
        ["destinations", id] => vec![
            ("GET", Route::GetDestination(id.to_string())),
            ("PATCH", Route::UpdateDestination(id.to_string())),
            ("DELETE", Route::DeleteDestination(id.to_string())),
        ],
        ["destinations", id, "test"] => vec![("POST", Route::TestDestination(id.to_string()))],
        ["destinations", id, "rotate-secret"] => {
            vec![("POST", Route::RotateDestinationSecret(id.to_string()))]
        }
        ["destinations", id, "deliveries"] => vec![("GET", Route::ListDeliveries(id.to_string()))],
        ["suppressions"] => vec![
            ("GET", Route::ListSuppressions),
            ("POST", Route::CreateSuppression),
        ],
        ["suppressions", id] => vec![
            ("GET", Route::GetSuppression(id.to_string())),
            ("DELETE", Route::DeleteSuppression(id.to_string())),
        ],
        ["settings", "detection"] => vec![
            ("GET", Route::GetDetectionSettings),
            ("PATCH", Route::UpdateDetectionSettings),
        ],
        ["keys"] => vec![("GET", Route::ListKeys), ("POST", Route::CreateKey)],
        ["keys", id] => vec![("DELETE", Route::RevokeKey(id.to_string()))],
        ["keys", id, "rotate"] => vec![("POST", Route::RotateKey(id.to_string()))],
        ["audit"] => vec![("GET", Route::ListAudit)],
        ["audit", "export"] => vec![("GET", Route::ExportAudit)],
        ["audit", "verify"] => vec![("GET", Route::VerifyAudit)],
        ["members"] => vec![("GET", Route::ListMembers)],
        ["members", email] => vec![
            ("PUT", Route::PutMember(email.to_string())),
            ("DELETE", Route::DeleteMember(email.to_string())),
        ],
        ["session"] => vec![
            ("GET", Route::GetSession),
            ("POST", Route::CreateSession),
            ("DELETE", Route::DeleteSession),
        ],
        ["settings", "origins"] => vec![("GET", Route::GetOrigins), ("PUT", Route::UpdateOrigins)],
        _ => return Err(ApiError::not_found("Route")),
    };
    allowed
        .iter()
        .find(|(m, _)| {
            m.eq_ignore_ascii_case(method) || (method.eq_ignore_ascii_case("HEAD") && *m == "GET")
        })
        .map(|(_, r)| r.clone())
        .ok_or_else(|| {
            let methods: Vec<&str> = allowed.iter().map(|(m, _)| *m).collect();
            ApiError::method_not_allowed(method, &path, &methods)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_prefixes_and_slashes() {
        assert_eq!(normalize_path("//collect"), "/collect");
        assert_eq!(normalize_path("/events/"), "/events");
        assert_eq!(normalize_path("/v1/collect"), "/collect");
        assert_eq!(normalize_path("/api/v1//alerts/x/"), "/alerts/x");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/api/v2/collect"), "/api/v2/collect");
    }

    #[test]
    fn resolves_routes() {
        assert_eq!(resolve("POST", "/collect").unwrap(), Route::Collect);
        assert_eq!(resolve("POST", "/collect/batch").unwrap(), Route::Collect);
        assert_eq!(
            resolve("GET", "/events/abc").unwrap(),
            Route::GetEvent("abc".into())
        );
        assert_eq!(
            resolve("PATCH", "/v1/alerts/abc").unwrap(),
            Route::UpdateAlert("abc".into())
        );
        assert_eq!(resolve("GET", "/health/").unwrap(), Route::Health);
        // `/v1/logs` is OTLP's export path and, read, the raw lines.
        assert_eq!(resolve("POST", "/v1/logs").unwrap(), Route::OtlpLogs);
        assert_eq!(resolve("GET", "/v1/logs").unwrap(), Route::ListLogs);
        assert_eq!(
            resolve("GET", "/logs/12-1769764500").unwrap(),
            Route::GetLog("12-1769764500".into())
        );
        assert_eq!(resolve("DELETE", "/logs").unwrap_err().status(), 405);
        for (path, route) in [
            ("/events/export", Route::ExportEvents),
            ("/v1/alerts/export/", Route::ExportAlerts),
            ("/logs/export", Route::ExportLogs),
        ] {
            assert_eq!(resolve("GET", path).unwrap(), route);
            assert_eq!(route.scope(), Scope::Read);
        }
        assert!(Route::ExportAlerts.needs_pro() && !Route::ExportEvents.needs_pro());
        // Grafana's Loki data source, through any prefix.
        for (path, route) in [
            ("/loki/api/v1/query_range", Route::LokiQueryRange),
            ("/loki/api/v1/query", Route::LokiQuery),
            ("/loki/api/v1/labels", Route::LokiLabels),
            ("/loki/api/v1/label", Route::LokiLabels),
            (
                "/loki/api/v1/label/service/values",
                Route::LokiLabelValues("service".into()),
            ),
            ("/loki/api/v1/series", Route::LokiSeries),
            ("/loki/api/v1/status/buildinfo", Route::LokiBuildinfo),
            ("/ready", Route::LokiReady),
        ] {
            assert_eq!(resolve("GET", path).unwrap(), route);
            assert!(
                !route.needs_pro()
                    && route.scope() == Scope::Read
                    && route.budget() == Budget::Reads
            );
        }
        assert!(!Route::ListLogs.needs_pro() && Route::ListLogs.scope() == Scope::Read);
        assert_eq!(
            resolve("POST", "/loki/api/v1/push").unwrap(),
            Route::LokiPush
        );
        assert_eq!(
            resolve("POST", "/destinations/d1/test").unwrap(),
            Route::TestDestination("d1".into())
        );
        assert_eq!(
            resolve("DELETE", "/v1/destinations/d1/").unwrap(),
            Route::DeleteDestination("d1".into())
        );
        assert!(Route::ListDestinations.needs_pro() && Route::ListAlerts.needs_pro());
        assert_eq!(
            resolve("DELETE", "/api/v1/suppressions/sup_1/").unwrap(),
            Route::DeleteSuppression("sup_1".into())
        );
        assert_eq!(
            resolve("PATCH", "/v1/settings/detection").unwrap(),
            Route::UpdateDetectionSettings
        );
        assert_eq!(
            resolve("PUT", "/settings/detection").unwrap_err().status(),
            405
        );
        assert_eq!(resolve("GET", "/settings").unwrap_err().status(), 404);
        for r in [
            Route::ListSuppressions,
            Route::CreateSuppression,
            Route::GetSuppression("s".into()),
            Route::DeleteSuppression("s".into()),
            Route::GetDetectionSettings,
            Route::UpdateDetectionSettings,
        ] {
            assert!(r.needs_pro(), "{r:?}");
        }
        assert!(!Route::Collect.needs_pro() && !Route::Health.needs_pro());
    }

    /// The OpenAPI document names each operation's scope (`x-edgesoc-scope`); the router must
    /// require exactly that one. tests/api/openapi.test.mjs holds the document's operations equal
    /// to the routes, so together no route escapes a scope.
    #[test]
    fn every_documented_operation_requires_the_scope_it_documents() {
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../../../openapi/openapi.json")).unwrap();
        let mut seen = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            if path == "/openapi.json" {
                continue;
            }
            for (method, op) in item.as_object().unwrap() {
                let documented = op["x-edgesoc-scope"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no x-edgesoc-scope"));
                let route =
                    resolve(method, &path.replace("{id}", "x").replace("{email}", "x")).unwrap();
                assert_eq!(
                    route.scope().as_str(),
                    documented,
                    "{method} {path}: the router and the document disagree"
                );
                seen += 1;
            }
        }
        assert!(seen >= 28, "{seen} operations");
    }

    #[test]
    fn key_routes_need_admin_on_every_plan() {
        assert_eq!(resolve("GET", "/keys").unwrap(), Route::ListKeys);
        assert_eq!(resolve("POST", "/v1/keys/").unwrap(), Route::CreateKey);
        assert_eq!(
            resolve("DELETE", "/keys/key_1").unwrap(),
            Route::RevokeKey("key_1".into())
        );
        assert_eq!(
            resolve("POST", "/keys/key_1/rotate").unwrap(),
            Route::RotateKey("key_1".into())
        );
        assert_eq!(resolve("GET", "/keys/key_1").unwrap_err().status(), 405);
        for r in [
            Route::ListKeys,
            Route::CreateKey,
            Route::RevokeKey("k".into()),
            Route::RotateKey("k".into()),
        ] {
            assert_eq!(r.scope(), Scope::Admin);
            assert!(!r.needs_pro(), "{r:?}");
        }
        assert_eq!(Route::Collect.scope(), Scope::Ingest);
        assert_eq!(Route::LokiPush.scope(), Scope::Ingest);
        assert_eq!(Route::UpdateAlert("a".into()).scope(), Scope::Respond);
        assert_eq!(Route::DashboardData.scope(), Scope::Read);
    }

    #[test]
    fn unknown_is_404_and_wrong_method_is_405() {
        assert_eq!(resolve("GET", "/nope").unwrap_err().status(), 404);
        assert_eq!(resolve("GET", "/events/a/b").unwrap_err().status(), 404);
        assert_eq!(resolve("GET", "/collect").unwrap_err().status(), 405);
        assert_eq!(resolve("DELETE", "/alerts/x").unwrap_err().status(), 405);
        let allow = |m: &str, p: &str| resolve(m, p).unwrap_err().allow;
        assert_eq!(
            allow("DELETE", "/alerts/x").as_deref(),
            Some("GET, HEAD, PATCH, OPTIONS")
        );
        assert_eq!(allow("GET", "/collect").as_deref(), Some("POST, OPTIONS"));
        assert_eq!(allow("GET", "/nope"), None);
    }
}
