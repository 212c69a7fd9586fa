//! The organisation a request acts for, as its key (or the dashboard's public organisation)
//! resolved: its plan and the limits that plan gives it.

use crate::access::ids::{KeyHash, OrgId};
use crate::api::sql::{SqlParam, Statement};
use crate::limits::plan::{Limits, Overrides, Plan};
use crate::time::UnixMs;
use serde::Deserialize;

/// Who is calling, as resolved from the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub org_id: OrgId,
    pub org_name: String,
    pub plan: Plan,
    pub limits: Limits,
    /// The calling key's stored prefix (`lsoc_live_` and four characters), when a key called.
    pub key_prefix: Option<String>,
}

impl Tenant {
    /// Oldest visible instant: `now − retention`.
    pub fn cutoff(&self, now: UnixMs) -> UnixMs {
        now.minus_days(self.limits.retention_days)
    }

    /// Who a change made through the API is recorded as (`created_by` of a suppression,
    /// `updated_by` of detection settings): the calling key's prefix, else `api`. The one
    /// place to change when requests carry real identities.
    pub fn actor(&self) -> String {
        self.key_prefix.clone().unwrap_or_else(|| "api".into())
    }
}

/// Organisation id used by the `BOOTSTRAP_API_KEY` path.
pub const BOOTSTRAP_ORG: &str = "org_default";

const TENANT_COLUMNS: &str = "o.id AS org_id, o.name, o.plan, o.rate_limit_per_minute, \
o.monthly_event_quota, o.retention_days";

/// The organisation of an active key (not revoked), with the key's hash for a constant-time
/// re-check ([`TenantRow::tenant_for`]).
pub fn by_key_statement(hash: &KeyHash) -> Statement {
    (
        format!(
            "SELECT {TENANT_COLUMNS}, k.key_hash, k.key_prefix FROM api_keys k JOIN orgs o ON o.id = k.org_id \
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL"
        ),
        vec![SqlParam::Text(hash.0.clone())],
    )
}

/// An organisation by id (the dashboard's `DASHBOARD_PUBLIC_ORG`).
pub fn by_org_statement(org: &str) -> Statement {
    (
        format!("SELECT {TENANT_COLUMNS} FROM orgs o WHERE o.id = ?1"),
        vec![SqlParam::Text(org.into())],
    )
}

/// Every organisation, least recently purged first (the retention purge's rotation).
pub fn all_statement() -> Statement {
    (
        format!("SELECT {TENANT_COLUMNS} FROM orgs o ORDER BY coalesce(o.purged_at, 0), o.id"),
        Vec::new(),
    )
}

/// Registers `hash` for the bootstrap organisation, only while no key exists at all. Both
/// statements are idempotent, so racing first requests are safe in one batch.
pub fn bootstrap_statements(hash: &KeyHash, plan: Plan, now: UnixMs) -> [Statement; 2] {
    let now = SqlParam::Number(now.0 as f64);
    [
        (
            "INSERT OR IGNORE INTO orgs (id, name, plan, created_at) VALUES (?1, 'Default', ?2, ?3)"
                .into(),
            vec![
                SqlParam::Text(BOOTSTRAP_ORG.into()),
                SqlParam::Text(plan.as_str().into()),
                now.clone(),
            ],
        ),
        (
            "INSERT OR IGNORE INTO api_keys (key_hash, org_id, key_prefix, created_at) \
             SELECT ?1, ?2, 'bootstrap', ?3 WHERE NOT EXISTS (SELECT 1 FROM api_keys)"
                .into(),
            vec![
                SqlParam::Text(hash.0.clone()),
                SqlParam::Text(BOOTSTRAP_ORG.into()),
                now,
            ],
        ),
    ]
}

/// An `orgs` row as the statements above return it (D1 numbers arrive as floats).
#[derive(Debug, Clone, Deserialize)]
pub struct TenantRow {
    org_id: String,
    name: String,
    plan: String,
    rate_limit_per_minute: Option<f64>,
    monthly_event_quota: Option<f64>,
    retention_days: Option<f64>,
    #[serde(default)]
    key_hash: String,
    #[serde(default)]
    key_prefix: Option<String>,
}

/// A stored organisation whose plan this build does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPlan {
    pub org: String,
    pub plan: String,
}

impl std::fmt::Display for UnknownPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "organisation {} has unknown plan {:?}",
            self.org, self.plan
        )
    }
}

impl TenantRow {
    /// The tenant, when the row's key hash equals `hash` (compared in constant time: the
    /// index lookup matched already, but equality on a secret-derived value must not depend on
    /// a short-circuiting compare).
    pub fn tenant_for(self, hash: &KeyHash) -> Result<Option<Tenant>, UnknownPlan> {
        if !hash.ct_eq(&KeyHash(self.key_hash.clone())) {
            return Ok(None);
        }
        self.tenant().map(Some)
    }

    /// The tenant with its plan's limits and the organisation's overrides.
    pub fn tenant(self) -> Result<Tenant, UnknownPlan> {
        let Some(plan) = Plan::parse(&self.plan) else {
            return Err(UnknownPlan {
                org: self.org_id,
                plan: self.plan,
            });
        };
        let as_u32 = |v: Option<f64>| {
            v.filter(|x| *x >= 0.0)
                .map(|x| x.min(u32::MAX as f64) as u32)
        };
        let overrides = Overrides {
            rate_per_minute: as_u32(self.rate_limit_per_minute),
            monthly_events: self
                .monthly_event_quota
                .filter(|x| *x >= 0.0)
                .map(|x| x as u64),
            retention_days: as_u32(self.retention_days),
        };
        Ok(Tenant {
            org_id: OrgId(self.org_id),
            org_name: self.name,
            plan,
            limits: Limits::resolve(plan, overrides),
            key_prefix: self.key_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::ApiKey;

    fn row(plan: &str, hash: &str) -> TenantRow {
        TenantRow {
            org_id: "org_a".into(),
            name: "A".into(),
            plan: plan.into(),
            rate_limit_per_minute: Some(7.0),
            monthly_event_quota: Some(-1.0),
            retention_days: None,
            key_hash: hash.into(),
            key_prefix: Some("lsoc_live_abcd".into()),
        }
    }

    #[test]
    fn a_row_becomes_its_tenant_only_for_its_own_key_hash() {
        let key = ApiKey::from_header("lsoc_live_abcdefghijklmnopqrstuvwxyz012345").unwrap();
        let hash = key.hash();
        let t = row("custom", &hash.0).tenant_for(&hash).unwrap().unwrap();
        assert_eq!(t.org_id, OrgId("org_a".into()));
        assert_eq!(
            t.actor(),
            "lsoc_live_abcd",
            "changes are recorded as the key's prefix"
        );
        assert_eq!(t.limits.rate_per_minute, Some(7));
        assert_eq!(
            t.limits.monthly_events, None,
            "a negative quota is no override"
        );
        let other = KeyHash("0".repeat(64));
        assert_eq!(row("custom", &hash.0).tenant_for(&other), Ok(None));
        assert_eq!(
            row("gold", &hash.0).tenant_for(&hash).unwrap_err().plan,
            "gold"
        );
    }

    #[test]
    fn lookups_are_by_hash_and_active_keys_only() {
        let (sql, params) = by_key_statement(&KeyHash("h".into()));
        assert!(
            sql.contains("WHERE k.key_hash = ?1 AND k.revoked_at IS NULL"),
            "{sql}"
        );
        assert_eq!(params, vec![SqlParam::Text("h".into())]);
        let (sql, params) = by_org_statement("org_x");
        assert!(sql.ends_with("WHERE o.id = ?1"));
        assert_eq!(params, vec![SqlParam::Text("org_x".into())]);
        for (sql, params) in bootstrap_statements(&KeyHash("h".into()), Plan::Free, UnixMs(1)) {
            assert_eq!(crate::api::sql::max_placeholder(&sql), params.len());
        }
    }
}
