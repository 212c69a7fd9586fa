//! D1 access: tenants and keys, event inserts, health ping. Every statement that touches
//! tenant data is scoped by `org_id`.

use crate::error::OrUnavailable;
use edgesoc_core::ids::{ApiKey, KeyHash, OrgId};
use edgesoc_core::plan::{Limits, Overrides, Plan};
use edgesoc_core::query::{SqlParam, Statement};
use edgesoc_core::record::{json_array_chunks, EventRecord};
use edgesoc_core::respond::Tenant;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

/// The largest JSON array bound to one insert: below D1's 2 MB value limit with headroom.
const MAX_INSERT_JSON_BYTES: usize = 1_500_000;

/// Organisation id used by the `BOOTSTRAP_API_KEY` path.
const BOOTSTRAP_ORG: &str = "org_default";

#[derive(Deserialize)]
struct TenantRow {
    org_id: String,
    name: String,
    plan: String,
    rate_limit_per_minute: Option<f64>,
    monthly_event_quota: Option<f64>,
    retention_days: Option<f64>,
    #[serde(default)]
    key_hash: String,
}

impl TenantRow {
    fn tenant(self) -> Result<Tenant, ApiError> {
        let Some(plan) = Plan::parse(&self.plan) else {
            worker::console_error!("org {} has unknown plan {:?}", self.org_id, self.plan);
            return Err(ApiError::internal());
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
        })
    }
}

/// Typed access to the `DB` binding.
pub struct Store {
    db: D1Database,
}

fn js_params(params: &[SqlParam]) -> Vec<JsValue> {
    params
        .iter()
        .map(|p| match p {
            SqlParam::Text(s) => JsValue::from_str(s),
            SqlParam::Number(n) => JsValue::from_f64(*n),
            SqlParam::Null => JsValue::NULL,
        })
        .collect()
}

#[derive(Deserialize)]
struct Total {
    total: f64,
}

fn bind(stmt: D1PreparedStatement, values: &[JsValue]) -> Result<D1PreparedStatement, ApiError> {
    stmt.bind(values).or_internal("D1 bind")
}

impl Store {
    pub fn new(db: D1Database) -> Self {
        Store { db }
    }

    /// The store over the `DB` binding.
    pub fn from_env(env: &worker::Env) -> Result<Self, ApiError> {
        env.d1("DB").map(Store::new).or_internal("DB binding")
    }

    /// The tenant owning an active key, or `None` for unknown and revoked keys.
    pub async fn tenant_for_key(&self, key: &ApiKey) -> Result<Option<Tenant>, ApiError> {
        let hash = key.hash();
        let stmt = self.db.prepare(
            "SELECT o.id AS org_id, o.name, o.plan, o.rate_limit_per_minute, o.monthly_event_quota, \
             o.retention_days, k.key_hash FROM api_keys k JOIN orgs o ON o.id = k.org_id \
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
        );
        let row: Option<TenantRow> = bind(stmt, &[JsValue::from_str(&hash.0)])?
            .first(None)
            .await
            .or_unavailable("D1")?;
        let Some(row) = row else { return Ok(None) };
        // The index lookup already matched; re-check in constant time so equality on the
        // secret-derived value never depends on a short-circuiting compare.
        if !hash.ct_eq(&KeyHash(row.key_hash.clone())) {
            return Ok(None);
        }
        row.tenant().map(Some)
    }

    /// The tenant of an organisation by id (the dashboard's `DASHBOARD_PUBLIC_ORG`), if it exists.
    pub async fn tenant_by_org_id(&self, org: &str) -> Result<Option<Tenant>, ApiError> {
        let stmt = self.db.prepare(
            "SELECT id AS org_id, name, plan, rate_limit_per_minute, monthly_event_quota, \
             retention_days FROM orgs WHERE id = ?1",
        );
        let row: Option<TenantRow> = bind(stmt, &[JsValue::from_str(org)])?
            .first(None)
            .await
            .or_unavailable("D1")?;
        row.map(TenantRow::tenant).transpose()
    }

    /// Registers `key` for the default organisation when the key table is empty (first run
    /// with the `BOOTSTRAP_API_KEY` secret). Safe to race: both statements are idempotent and
    /// the batch is one transaction.
    pub async fn bootstrap(&self, key: &ApiKey, plan: Plan, now: UnixMs) -> Result<(), ApiError> {
        let now_js = JsValue::from_f64(now.0 as f64);
        let org = bind(
            self.db.prepare(
                "INSERT OR IGNORE INTO orgs (id, name, plan, created_at) VALUES (?1, 'Default', ?2, ?3)",
            ),
            &[JsValue::from_str(BOOTSTRAP_ORG), JsValue::from_str(plan.as_str()), now_js.clone()],
        )?;
        let key_row = bind(
            self.db.prepare(
                "INSERT OR IGNORE INTO api_keys (key_hash, org_id, key_prefix, created_at) \
                 SELECT ?1, ?2, 'bootstrap', ?3 WHERE NOT EXISTS (SELECT 1 FROM api_keys)",
            ),
            &[
                JsValue::from_str(&key.hash().0),
                JsValue::from_str(BOOTSTRAP_ORG),
                now_js,
            ],
        )?;
        self.db
            .batch(vec![org, key_row])
            .await
            .or_unavailable("D1")?;
        Ok(())
    }

    /// Stores events idempotently (`INSERT OR IGNORE` on the UUID primary key), in one
    /// transaction, binding each chunk as a single JSON array expanded by `json_each`, so the
    /// 100-parameter limit never applies whatever the batch size.
    pub async fn insert_events(&self, events: &[EventRecord]) -> worker::Result<()> {
        let mut statements = Vec::new();
        let chunks = json_array_chunks(events, MAX_INSERT_JSON_BYTES)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        for chunk in chunks {
            let stmt = self
                .db
                .prepare(INSERT_EVENTS_SQL)
                .bind(&[JsValue::from_str(&chunk)])?;
            statements.push(stmt);
        }
        // Each event's dashboard log item, in the same transaction (idempotent on event_id).
        let rows: Vec<_> = events.iter().map(edgesoc_core::loki::event_row).collect();
        let log_inserts =
            edgesoc_core::loki::insert_statements(&rows, false, MAX_INSERT_JSON_BYTES)
                .map_err(|e| worker::Error::RustError(e.to_string()))?;
        for (sql, params) in log_inserts {
            statements.push(self.db.prepare(sql).bind(&js_params(&params))?);
        }
        if !statements.is_empty() {
            self.db.batch(statements).await?;
        }
        Ok(())
    }

    /// One page of rows and the total match count, in a single D1 round trip.
    pub async fn page<T: DeserializeOwned>(
        &self,
        (page, count): (Statement, Statement),
    ) -> Result<(Vec<T>, u64), ApiError> {
        let page = bind(self.db.prepare(page.0), &js_params(&page.1))?;
        let count = bind(self.db.prepare(count.0), &js_params(&count.1))?;
        let results = self
            .db
            .batch(vec![page, count])
            .await
            .or_unavailable("D1")?;
        let [page, count] = results.as_slice() else {
            return Err(ApiError::internal());
        };
        let rows: Vec<T> = page.results().or_internal("page rows")?;
        let total = count
            .results::<Total>()
            .or_internal("page count")?
            .first()
            .map_or(0, |t| t.total as u64);
        Ok((rows, total))
    }

    /// The first row of a statement, if any.
    pub async fn one<T: DeserializeOwned>(
        &self,
        (sql, params): Statement,
    ) -> Result<Option<T>, ApiError> {
        bind(self.db.prepare(sql), &js_params(&params))?
            .first(None)
            .await
            .or_unavailable("D1")
    }

    /// Runs one write statement and returns how many rows it changed.
    pub async fn run(&self, (sql, params): Statement) -> Result<u64, ApiError> {
        let result = bind(self.db.prepare(sql), &js_params(&params))?
            .run()
            .await
            .or_unavailable("D1")?;
        Ok(result
            .meta()
            .ok()
            .flatten()
            .and_then(|m| m.changes)
            .unwrap_or(0) as u64)
    }

    /// Every organisation with its limits, least recently purged first (for the retention
    /// purge's rotation).
    pub async fn all_tenants(&self) -> Result<Vec<Tenant>, ApiError> {
        let sql = "SELECT id AS org_id, name, plan, rate_limit_per_minute, monthly_event_quota, retention_days FROM orgs \
                   ORDER BY coalesce(purged_at, 0), id";
        let result = self.db.prepare(sql).all().await.or_unavailable("D1")?;
        let rows: Vec<TenantRow> = result.results().or_internal("orgs rows")?;
        rows.into_iter().map(TenantRow::tenant).collect()
    }

    /// Runs statements as one D1 batch (one transaction, one round trip) and returns each
    /// statement's rows as JSON objects.
    pub async fn batch(
        &self,
        statements: &[Statement],
    ) -> worker::Result<Vec<Vec<serde_json::Value>>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = statements
            .iter()
            .map(|(sql, params)| self.db.prepare(sql.as_str()).bind(&js_params(params)))
            .collect::<worker::Result<Vec<_>>>()?;
        let results = self.db.batch(prepared).await?;
        results
            .iter()
            .map(|r| r.results::<serde_json::Value>())
            .collect()
    }

    /// Runs one statement and returns its rows unconverted (each a JS array of the column
    /// values), so a large result can be converted one row at a time (`lists::reload`).
    pub async fn raw_rows(&self, (sql, params): &Statement) -> worker::Result<Vec<JsValue>> {
        self.db
            .prepare(sql.as_str())
            .bind(&js_params(params))?
            .raw_js_value()
            .await
    }
}

const INSERT_EVENTS_SQL: &str = "INSERT OR IGNORE INTO events (id, org_id, event_name, category, severity, \
instant_alert, actor_id, actor_email, user_ip, server_ip, country_code, city, latitude, longitude, \
is_vpn, is_tor, is_proxy, is_datacenter, threat_score, forensics, metadata, created_at) \
SELECT json_extract(value, '$.id'), json_extract(value, '$.org_id'), json_extract(value, '$.event_name'), \
json_extract(value, '$.category'), json_extract(value, '$.severity'), json_extract(value, '$.instant_alert'), \
json_extract(value, '$.actor_id'), json_extract(value, '$.actor_email'), json_extract(value, '$.user_ip'), \
json_extract(value, '$.server_ip'), json_extract(value, '$.country_code'), json_extract(value, '$.city'), \
json_extract(value, '$.latitude'), json_extract(value, '$.longitude'), json_extract(value, '$.is_vpn'), \
json_extract(value, '$.is_tor'), json_extract(value, '$.is_proxy'), json_extract(value, '$.is_datacenter'), \
json_extract(value, '$.threat_score'), json(json_extract(value, '$.forensics')), \
json(json_extract(value, '$.metadata')), json_extract(value, '$.created_at') FROM json_each(?1)";
