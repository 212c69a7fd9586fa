//! Plans and the limits an organisation actually gets (docs/api.md §3.1).

use serde::{Deserialize, Serialize};

/// The billing plan of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
    Custom,
}

impl Plan {
    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Plan> {
        match s {
            "free" => Some(Plan::Free),
            "pro" => Some(Plan::Pro),
            "enterprise" => Some(Plan::Enterprise),
            "custom" => Some(Plan::Custom),
            _ => None,
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
            Plan::Custom => "custom",
        }
    }

    /// What `X-LiteSOC-Plan` says: clients only know free, pro and enterprise.
    pub fn reported(self) -> &'static str {
        match self {
            Plan::Custom => "enterprise",
            other => other.as_str(),
        }
    }

    /// Alert endpoints and behavioural detections are Pro and above.
    pub fn is_pro_or_above(self) -> bool {
        !matches!(self, Plan::Free)
    }

    /// The plan's defaults; `None` means unlimited.
    pub fn default_limits(self) -> Limits {
        match self {
            Plan::Free => Limits {
                rate_per_minute: Some(100),
                monthly_events: Some(10_000),
                retention_days: 7,
            },
            Plan::Pro => Limits {
                rate_per_minute: Some(1_000),
                monthly_events: Some(500_000),
                retention_days: 30,
            },
            Plan::Enterprise | Plan::Custom => Limits {
                rate_per_minute: None,
                monthly_events: None,
                retention_days: 90,
            },
        }
    }
}

/// The limits in force for one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per sliding 60 s window; `None` = unlimited.
    pub rate_per_minute: Option<u32>,
    /// Accepted events per UTC calendar month; `None` = unlimited.
    pub monthly_events: Option<u64>,
    /// Days of visible data.
    pub retention_days: u32,
}

/// Per-organisation settings as stored (each `None` falls back to the plan default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub rate_per_minute: Option<u32>,
    pub monthly_events: Option<u64>,
    pub retention_days: Option<u32>,
}

impl Limits {
    /// The plan defaults with the organisation's own settings on top. Free and Pro are fixed
    /// by the contract, so only Enterprise and Custom organisations take overrides.
    pub fn resolve(plan: Plan, overrides: Overrides) -> Limits {
        let base = plan.default_limits();
        match plan {
            Plan::Free | Plan::Pro => base,
            Plan::Enterprise | Plan::Custom => Limits {
                rate_per_minute: overrides.rate_per_minute.or(base.rate_per_minute),
                monthly_events: overrides.monthly_events.or(base.monthly_events),
                retention_days: overrides
                    .retention_days
                    .unwrap_or(base.retention_days)
                    .clamp(1, 3650),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_plan_table() {
        assert_eq!(
            Plan::Free.default_limits(),
            Limits {
                rate_per_minute: Some(100),
                monthly_events: Some(10_000),
                retention_days: 7
            }
        );
        assert_eq!(Plan::Pro.default_limits().monthly_events, Some(500_000));
        assert_eq!(Plan::Enterprise.default_limits().monthly_events, None);
        assert_eq!(Plan::Enterprise.default_limits().retention_days, 90);
    }

    #[test]
    fn custom_reports_as_enterprise() {
        assert_eq!(Plan::Custom.reported(), "enterprise");
        assert_eq!(Plan::Free.reported(), "free");
    }

    #[test]
    fn overrides_apply_only_above_pro() {
        let o = Overrides {
            rate_per_minute: Some(20),
            monthly_events: Some(50),
            retention_days: Some(14),
        };
        assert_eq!(Limits::resolve(Plan::Pro, o), Plan::Pro.default_limits());
        assert_eq!(
            Limits::resolve(Plan::Custom, o),
            Limits {
                rate_per_minute: Some(20),
                monthly_events: Some(50),
                retention_days: 14
            }
        );
        assert_eq!(
            Limits::resolve(Plan::Enterprise, Overrides::default()),
            Plan::Enterprise.default_limits()
        );
    }

    #[test]
    fn plans_parse_their_own_spelling_only() {
        for p in [Plan::Free, Plan::Pro, Plan::Enterprise, Plan::Custom] {
            assert_eq!(Plan::parse(p.as_str()), Some(p));
        }
        assert_eq!(Plan::parse("Pro"), None);
        assert!(!Plan::Free.is_pro_or_above());
        assert!(Plan::Custom.is_pro_or_above());
    }
}
