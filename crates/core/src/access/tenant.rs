//! The organisation a request acts for, as its key (or the dashboard's public organisation)
//! resolved: its plan and the limits that plan gives it.

use crate::access::ids::{KeyHash, OrgId};
use crate::access::keys::LAST_USED_GRANULARITY_MS;
use crate::access::scope::{Scope, Scopes};
use crate::api::sql::{SqlParam, Statement};
use crate::limits::plan::{Limits, Overrides, Plan};
use crate::shards::ShardName;
use crate::time::UnixMs;
use serde::Deserialize;

/// Who is calling, as resolved from the API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub org_id: OrgId,
    pub org_name: String,
    pub plan: Plan,
    pub limits: Limits,
    /// The calling key, when a key called (not the dashboard's public organisation).
    pub key: Option<CallingKey>,
    /// What the caller may do (docs/api.md §2.5).
    pub scopes: Scopes,
    /// The browser origins the organisation allows; empty allows every origin (§2.6).
    pub origins: Vec<String>,
    /// The dashboard session the request came with, instead of a key header (§2.7).
    pub session: Option<crate::access::session::SessionId>,
    /// The person Cloudflare Access signed in (their e-mail), instead of a key (§2.8).
    pub person: Option<String>,
    /// The D1 database that holds the organisation's data (`crate::shards`).
    pub shard: ShardName,
    /// The organisation's data is being copied to another shard (`scripts/move-org`): it may be
    /// read from `shard` but not changed until the move ends.
    pub moving: bool,
}

/// The key a request presented, as stored (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingKey {
    /// `key_…`; `None` only for a key stored before ids existed and not yet migrated.
    pub id: Option<String>,
    /// The stored prefix (`lsoc_live_` and four characters).
    pub prefix: String,
    pub name: Option<String>,
    /// When a rotation ends this key (Unix ms).
    pub expires_at: Option<i64>,
    /// When the key was last recorded as used (Unix ms, to the hour).
    pub last_used_at: Option<i64>,
}

impl Tenant {
    /// Oldest visible instant: `now − retention`.
    pub fn cutoff(&self, now: UnixMs) -> UnixMs {
        now.minus_days(self.limits.retention_days)
    }

    /// Who a change made through the API is recorded as (`created_by` of a suppression or a
    /// key, `updated_by` of detection settings): the person Access signed in, else the calling
    /// key's name and prefix
    /// (`deploy bot (lsoc_live_ab12)`), its prefix when it has no name, else `api`.
    pub fn actor(&self) -> String {
        if let Some(email) = &self.person {
            return email.clone();
        }
        match &self.key {
            Some(CallingKey {
                name: Some(name),
                prefix,
                ..
            }) => format!("{name} ({prefix})"),
            Some(k) => k.prefix.clone(),
            None => "api".into(),
        }
    }

    /// The caller's scopes allow `scope`, or the 403 naming it.
    pub fn require(&self, scope: Scope) -> Result<(), crate::ApiError> {
        if self.scopes.has(scope) {
            Ok(())
        } else {
            Err(crate::ApiError::insufficient_scope(scope))
        }
    }

    /// Whether the calling key still works at `now` (a rotated key stops at its expiry, even
    /// while an isolate's cache holds it).
    pub fn key_usable(&self, now: UnixMs) -> bool {
        self.key
            .as_ref()
            .and_then(|k| k.expires_at)
            .is_none_or(|at| now.0 < at)
    }

    /// Whether a lookup at `now` should record the key as used: its `last_used_at` is missing
    /// or an hour old.
    pub fn key_needs_touch(&self, now: UnixMs) -> bool {
        self.key.as_ref().is_some_and(|k| {
            k.last_used_at
                .is_none_or(|t| t <= now.0 - LAST_USED_GRANULARITY_MS)
        })
    }
}

/// Organisation id used by the `BOOTSTRAP_API_KEY` path.
pub const BOOTSTRAP_ORG: &str = "org_default";

pub(crate) const TENANT_COLUMNS: &str = "o.id AS org_id, o.name, o.plan, o.rate_limit_per_minute, \
o.monthly_event_quota, o.retention_days, o.authorized_origins, o.shard, o.moving_to";

/// The organisation of a usable key (not revoked, not past a rotation's expiry), with the
/// key's hash for a constant-time re-check ([`TenantRow::tenant_for`]) and what it may do.
pub fn by_key_statement(hash: &KeyHash, now: UnixMs) -> Statement {
    (
        format!(
            "SELECT {TENANT_COLUMNS}, k.key_hash, k.key_prefix, k.id AS key_id, k.name AS key_name, \
             k.scopes, k.expires_at, k.last_used_at FROM api_keys k JOIN orgs o ON o.id = k.org_id \
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?2)"
        ),
        vec![
            SqlParam::Text(hash.0.clone()),
            SqlParam::Number(now.0 as f64),
        ],
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
            "INSERT OR IGNORE INTO api_keys (key_hash, org_id, key_prefix, created_at, id, name, created_by) \
             SELECT ?1, ?2, 'bootstrap', ?3, 'key_' || lower(hex(randomblob(8))), 'Bootstrap key', 'BOOTSTRAP_API_KEY' \
             WHERE NOT EXISTS (SELECT 1 FROM api_keys)"
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
    authorized_origins: Option<String>,
    #[serde(default)]
    shard: Option<String>,
    #[serde(default)]
    moving_to: Option<String>,
    #[serde(default)]
    key_hash: String,
    #[serde(default)]
    key_prefix: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    key_name: Option<String>,
    #[serde(default)]
    scopes: Option<String>,
    #[serde(default)]
    expires_at: Option<f64>,
    #[serde(default)]
    last_used_at: Option<f64>,
}

/// A stored organisation whose plan or shard this build does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOrg {
    pub org: String,
    /// The column (`plan`, `shard`).
    pub column: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnreadableOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "organisation {} has unknown {} {:?}",
            self.org, self.column, self.value
        )
    }
}

impl TenantRow {
    /// The tenant, when the row's key hash equals `hash` (compared in constant time: the
    /// index lookup matched already, but equality on a secret-derived value must not depend on
    /// a short-circuiting compare).
    pub fn tenant_for(self, hash: &KeyHash) -> Result<Option<Tenant>, UnreadableOrg> {
        if !hash.ct_eq(&KeyHash(self.key_hash.clone())) {
            return Ok(None);
        }
        self.tenant().map(Some)
    }

    /// The tenant with its plan's limits and the organisation's overrides; with every scope
    /// unless a key row says otherwise (callers without a key narrow it, see
    /// [`Scopes::READ`]).
    pub fn tenant(self) -> Result<Tenant, UnreadableOrg> {
        let Some(plan) = Plan::parse(&self.plan) else {
            return Err(UnreadableOrg {
                org: self.org_id,
                column: "plan",
                value: self.plan,
            });
        };
        let Some(shard) = ShardName::from_column(self.shard.as_deref()) else {
            return Err(UnreadableOrg {
                org: self.org_id,
                column: "shard",
                value: self.shard.unwrap_or_default(),
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
            origins: crate::access::origins::from_stored(self.authorized_origins.as_deref()),
            session: None,
            person: None,
            shard,
            moving: self.moving_to.is_some(),
            scopes: if self.key_prefix.is_some() {
                Scopes::from_stored(self.scopes.as_deref())
            } else {
                Scopes::ALL
            },
            key: self.key_prefix.map(|prefix| CallingKey {
                id: self.key_id,
                prefix,
                name: self.key_name,
                expires_at: self.expires_at.map(|t| t as i64),
                last_used_at: self.last_used_at.map(|t| t as i64),
            }),
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
            authorized_origins: None,
            shard: None,
            moving_to: None,
            key_hash: hash.into(),
            key_prefix: Some("lsoc_live_abcd".into()),
            key_id: Some("key_0123456789abcdef".into()),
            key_name: None,
            scopes: Some("ingest".into()),
            expires_at: Some(5_000.0),
            last_used_at: None,
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
        assert_eq!(t.scopes, Scopes::of(&[Scope::Ingest]));
        assert_eq!(t.require(Scope::Read).unwrap_err().status(), 403);
        assert!(t.require(Scope::Ingest).is_ok());
        assert!(t.key_usable(UnixMs(4_999)) && !t.key_usable(UnixMs(5_000)));
        assert!(t.key_needs_touch(UnixMs(1)));
        let other = KeyHash("0".repeat(64));
        assert_eq!(row("custom", &hash.0).tenant_for(&other), Ok(None));
        let gold = row("gold", &hash.0).tenant_for(&hash).unwrap_err();
        assert_eq!((gold.column, gold.value.as_str()), ("plan", "gold"));
        assert_eq!(t.shard, ShardName::primary(), "no shard: the primary");
        let mut placed = row("pro", &hash.0);
        placed.shard = Some("DB_2".into());
        assert_eq!(placed.tenant().unwrap().shard.binding(), "DB_2");
        assert!(!t.moving);
        let mut placed = row("pro", &hash.0);
        placed.shard = Some("DB_2".into());
        placed.moving_to = Some("DB_3".into());
        let moving = placed.tenant().unwrap();
        assert!(moving.moving, "being moved: read-only until the move ends");
        assert_eq!(moving.shard.binding(), "DB_2", "and read where it still is");
        let mut broken = row("pro", &hash.0);
        broken.shard = Some("elsewhere".into());
        let e = broken.tenant().unwrap_err();
        assert_eq!((e.column, e.value.as_str()), ("shard", "elsewhere"));
    }

    #[test]
    fn lookups_are_by_hash_and_active_keys_only() {
        let (sql, params) = by_key_statement(&KeyHash("h".into()), UnixMs(7));
        assert!(
            sql.contains("WHERE k.key_hash = ?1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?2)"),
            "{sql}"
        );
        assert_eq!(
            params,
            vec![SqlParam::Text("h".into()), SqlParam::Number(7.0)]
        );
        let (sql, params) = by_org_statement("org_x");
        assert!(sql.ends_with("WHERE o.id = ?1"));
        assert_eq!(params, vec![SqlParam::Text("org_x".into())]);
        for (sql, params) in bootstrap_statements(&KeyHash("h".into()), Plan::Free, UnixMs(1)) {
            assert_eq!(crate::api::sql::max_placeholder(&sql), params.len());
        }
    }
}
