//! The 26 standard LiteSOC events, their server-assigned severities and instant alerts
//! (docs/api.md §6), plus the alias spellings rewritten before storage.

use serde::{Deserialize, Serialize};

/// Event severity, exactly the seed's vocabulary. Always assigned by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    Warning,
    High,
    Critical,
}

impl Severity {
    /// Every severity, mildest first.
    pub const ALL: [Severity; 6] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::Warning,
        Severity::High,
        Severity::Critical,
    ];

    /// The wire/storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses the wire spelling (case-sensitive, as stored).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The alert types of docs/api.md §8.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    BruteForceAttack,
    ImpossibleTravel,
    GeoAnomaly,
    NewDevice,
    PrivilegeEscalation,
    DataExfiltration,
    SuspiciousActivity,
    RateLimitExceeded,
    /// A successful login right after a brute-force burst on its account or source.
    AccountCompromise,
    /// A successful login from a VPN, proxy or datacenter network.
    SuspiciousNetwork,
}

impl AlertType {
    /// The wire/storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::BruteForceAttack => "brute_force_attack",
            AlertType::ImpossibleTravel => "impossible_travel",
            AlertType::GeoAnomaly => "geo_anomaly",
            AlertType::NewDevice => "new_device",
            AlertType::PrivilegeEscalation => "privilege_escalation",
            AlertType::DataExfiltration => "data_exfiltration",
            AlertType::SuspiciousActivity => "suspicious_activity",
            AlertType::RateLimitExceeded => "rate_limit_exceeded",
            AlertType::AccountCompromise => "account_compromise",
            AlertType::SuspiciousNetwork => "suspicious_network",
        }
    }
}

/// What the server knows about an event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpec {
    pub severity: Severity,
    /// `Some` when the event raises an alert on its own (the ⚡ column).
    pub instant_alert: Option<AlertType>,
    /// False for custom `category.action` names.
    pub standard: bool,
}

use AlertType as A;
use Severity as S;

/// The seed table, in the contract's order.
pub const STANDARD_EVENTS: [(&str, Severity, Option<AlertType>); 26] = [
    ("auth.login_success", S::Low, None),
    ("auth.login_failed", S::Medium, None),
    ("auth.logout", S::Info, None),
    ("auth.password_reset", S::Medium, None),
    ("auth.mfa_enabled", S::Low, None),
    ("auth.mfa_disabled", S::Medium, None),
    ("auth.session_expired", S::Info, None),
    ("auth.token_refreshed", S::Info, None),
    (
        "authz.access_denied",
        S::Critical,
        Some(A::SuspiciousActivity),
    ),
    (
        "authz.role_changed",
        S::Critical,
        Some(A::PrivilegeEscalation),
    ),
    ("authz.permission_granted", S::Info, None),
    ("authz.permission_revoked", S::Warning, None),
    ("admin.user_created", S::Low, None),
    ("admin.user_deleted", S::High, None),
    ("admin.user_suspended", S::High, None),
    (
        "admin.privilege_escalation",
        S::Critical,
        Some(A::PrivilegeEscalation),
    ),
    ("admin.settings_changed", S::Medium, None),
    ("admin.api_key_created", S::Medium, None),
    ("admin.api_key_revoked", S::Medium, None),
    ("data.export", S::Medium, None),
    ("data.bulk_delete", S::Critical, Some(A::SuspiciousActivity)),
    (
        "data.sensitive_access",
        S::Critical,
        Some(A::DataExfiltration),
    ),
    (
        "security.suspicious_activity",
        S::Critical,
        Some(A::SuspiciousActivity),
    ),
    ("security.rate_limit_exceeded", S::Medium, None),
    ("security.ip_blocked", S::High, None),
    (
        "security.brute_force_detected",
        S::Critical,
        Some(A::BruteForceAttack),
    ),
];

/// Common spellings rewritten to standard names (the original is kept in
/// `metadata._original_event`).
const ALIASES: [(&str, &str); 7] = [
    ("auth.login.success", "auth.login_success"),
    ("login.success", "auth.login_success"),
    ("user.login.success", "auth.login_success"),
    ("auth.login.failed", "auth.login_failed"),
    ("login.failed", "auth.login_failed"),
    ("user.login.failed", "auth.login_failed"),
    ("auth.failed", "auth.login_failed"),
];

/// The canonical name for an alias spelling, if it is one.
pub fn canonical_alias(name: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, canon)| *canon)
}

/// Severity and instant-alert flag for a (normalised, valid) event name. Custom names get
/// `info` and no instant alert.
pub fn lookup(name: &str) -> EventSpec {
    match STANDARD_EVENTS.iter().find(|(n, _, _)| *n == name) {
        Some(&(_, severity, instant_alert)) => EventSpec {
            severity,
            instant_alert,
            standard: true,
        },
        None => EventSpec {
            severity: Severity::Info,
            instant_alert: None,
            standard: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_26_distinct_events() {
        let mut names: Vec<_> = STANDARD_EVENTS.iter().map(|e| e.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 26);
    }

    #[test]
    fn exactly_seven_events_are_instant_and_all_critical() {
        let instant: Vec<_> = STANDARD_EVENTS.iter().filter(|e| e.2.is_some()).collect();
        assert_eq!(instant.len(), 7);
        assert!(instant.iter().all(|e| e.1 == Severity::Critical));
    }

    #[test]
    fn seed_severities_are_assigned() {
        assert_eq!(lookup("auth.login_failed").severity, Severity::Medium);
        assert_eq!(
            lookup("authz.permission_revoked").severity,
            Severity::Warning
        );
        assert_eq!(lookup("security.ip_blocked").severity, Severity::High);
        assert_eq!(
            lookup("data.sensitive_access").instant_alert,
            Some(AlertType::DataExfiltration)
        );
        assert_eq!(
            lookup("authz.role_changed").instant_alert,
            Some(AlertType::PrivilegeEscalation)
        );
    }

    #[test]
    fn custom_events_default_to_info_without_alert() {
        let spec = lookup("billing.invoice_paid");
        assert_eq!(
            spec,
            EventSpec {
                severity: Severity::Info,
                instant_alert: None,
                standard: false
            }
        );
    }

    #[test]
    fn aliases_point_at_standard_events() {
        for (alias, canon) in ALIASES {
            assert!(lookup(canon).standard, "{alias} -> {canon}");
            assert_eq!(canonical_alias(alias), Some(canon));
        }
        assert_eq!(canonical_alias("auth.login_success"), None);
    }

    #[test]
    fn severity_round_trips_through_its_spelling() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(Severity::parse("CRITICAL"), None);
    }
}
