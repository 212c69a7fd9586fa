//! Who is calling: the API key (or, for the dashboard's data only, `DASHBOARD_PUBLIC_ORG`)
//! resolved to its organisation. Key → tenant goes through an isolate-level cache. Without it every request would wait on a D1
//! read before anything else; with it an isolate reads each key at most once per TTL. The price
//! is bounded staleness: a revoked key, or a plan change, takes effect within the TTL
//! (`TENANT_CACHE_SECONDS`, default 10; 0 turns the cache off). Unknown keys are never cached,
//! so a new key works at once. What the key may do travels with its tenant (`scopes`); the
//! router checks it (`src/api/mod.rs`). `/keys` is [`keys`], `/audit` [`audit`], `/settings/origins` [`origins`].

pub mod audit;
pub mod cf_access;
pub mod keys;
pub mod origins;
pub mod session;

use crate::api::http;
use crate::api::incoming::Incoming;
use crate::d1::Primary;
use edgesoc_core::access::cache::TtlCache;
use edgesoc_core::access::cf_access::HEADER as CF_ACCESS_HEADER;
use edgesoc_core::access::ids::key_from_headers;
use edgesoc_core::access::ids::{ApiKey, KeyHash};
use edgesoc_core::access::keys::touch_statement;
use edgesoc_core::access::scope::Scopes;
use edgesoc_core::access::session::SessionId;
use edgesoc_core::access::tenant::{self, Tenant, TenantRow, UnreadableOrg};
use edgesoc_core::api::route::Route;
use edgesoc_core::faults::Faults;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use std::cell::{OnceCell, RefCell};
use worker::{Context, Env, Response};

const DEFAULT_TTL_SECONDS: i64 = 10;
/// Longest accepted TTL: a revocation must not wait longer than this.
const MAX_TTL_SECONDS: i64 = 300;
/// Keys held per isolate (a few hundred bytes each).
const CAPACITY: usize = 10_000;

thread_local! {
    /// Keys' tenants, and sessions' (by the session id's prefixed hash, `SessionId::hash`).
    static CACHE: RefCell<TtlCache<KeyHash, Tenant>> =
        RefCell::new(TtlCache::new(DEFAULT_TTL_SECONDS * 1000, CAPACITY));
}

thread_local! {
    /// The TTL var, read once per isolate (vars are fixed for its lifetime).
    static TTL_MS: OnceCell<i64> = const { OnceCell::new() };
}

fn ttl_ms(env: &Env) -> i64 {
    TTL_MS.with(|t| {
        *t.get_or_init(|| {
            env.var("TENANT_CACHE_SECONDS")
                .ok()
                .and_then(|v| v.to_string().trim().parse::<i64>().ok())
                .unwrap_or(DEFAULT_TTL_SECONDS)
                .clamp(0, MAX_TTL_SECONDS)
                * 1000
        })
    })
}

/// A tenant the isolate's cache holds for `hash` (a key's, or a session's), if still fresh.
pub(crate) fn cached(env: &Env, hash: &KeyHash, now: UnixMs) -> Option<Tenant> {
    let ttl = ttl_ms(env);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.set_ttl(ttl);
        c.get(hash, now).cloned()
    })
}

/// Drops `hash` from this isolate's cache (a sign-out).
pub(crate) fn forget(hash: &KeyHash) {
    CACHE.with(|c| c.borrow_mut().remove(hash));
}

/// Keeps `tenant` for `hash` in the isolate's cache for the TTL.
pub(crate) fn remember(hash: KeyHash, tenant: &Tenant, now: UnixMs) {
    CACHE.with(|c| c.borrow_mut().insert(hash, tenant.clone(), now));
}

/// The caller's organisation, or the response that refuses the request: 401 without a valid
/// key (the contract's body; `/health` adds `"status":"error"`), 503 when D1 cannot say. The
/// dashboard's public organisation may only read.
pub async fn authenticate(
    req: &Incoming,
    env: &Env,
    wctx: &Context,
    route: Option<&Route>,
    now: UnixMs,
) -> Result<Tenant, Response> {
    let key = key_from_headers(
        req.header("X-API-Key").as_deref(),
        req.header("Authorization").as_deref(),
    )
    .or_else(|| {
        // Only the inbound webhooks take a bare key as `Authorization` (what Auth0's token field
        // sends) or `?api_key=` (never logged): docs/api.md §2.1.
        route.filter(|r| r.takes_query_key())?;
        let bare = req
            .header("Authorization")
            .filter(|a| !a.trim().contains(' '));
        bare.or_else(|| req.query("api_key"))
            .as_deref()
            .and_then(ApiKey::from_header)
    });
    let session = req
        .header("Cookie")
        .and_then(|c| SessionId::from_cookie_header(&c, &session::secret(env)));
    let access = cf_access::config(env).zip(req.header(CF_ACCESS_HEADER));
    let found = match (&key, session, public_dashboard_org(route, env)) {
        (Some(key), _, _) => resolve(env, wctx, key, now, &crate::faults::from_env(env)).await,
        (None, _, _) if access.is_some() => {
            let (cfg, token) = access.expect("checked");
            cf_access::resolve(env, &cfg, &token, now).await
        }
        (None, Some(id), _) => session::resolve(env, &id, now).await,
        (None, None, Some(org)) => tenant_by_org(env, &org).await.map(|t| {
            t.map(|t| Tenant {
                scopes: Scopes::READ,
                ..t
            })
        }),
        (None, None, None) => Ok(None),
    };
    match found {
        Ok(Some(tenant)) => Ok(tenant),
        Ok(None) => Err(unauthorized(req)),
        Err(e) => Err(http::error(&e, &[])),
    }
}

/// The organisation whose dashboard data is served without a key (var
/// `DASHBOARD_PUBLIC_ORG`), for `GET /ui/mock-data` only.
fn public_dashboard_org(route: Option<&Route>, env: &Env) -> Option<String> {
    if route != Some(&Route::DashboardData) {
        return None;
    }
    let org = env.var("DASHBOARD_PUBLIC_ORG").ok()?.to_string();
    let org = org.trim();
    (!org.is_empty()).then(|| org.to_string())
}

fn unauthorized(req: &Incoming) -> Response {
    let err = ApiError::unauthorized();
    let mut body = err.body();
    if req.path.trim_end_matches('/').ends_with("/health") {
        body["status"] = "error".into();
    }
    http::error_with_body(&err, &body, &[])
}

/// The tenant of `key`: from the cache, else D1; on a miss, registers the key through the
/// bootstrap secret when that applies, and records the key as used when its `last_used_at` is
/// an hour old (after the answer, `wait_until`). A rotated key stops at its expiry, cached or not.
pub(crate) async fn resolve(
    env: &Env,
    wctx: &Context,
    key: &ApiKey,
    now: UnixMs,
    faults: &Faults,
) -> Result<Option<Tenant>, ApiError> {
    let hash = key.hash();
    if let Some(t) = cached(env, &hash, now) {
        return Ok(Some(t).filter(|t| t.key_usable(now)));
    }
    if crate::faults::strikes(faults, "tenant_d1") {
        return Err(ApiError::unavailable("D1"));
    }
    let store = Primary::open(env)?;
    let found = match tenant_for_key(&store, key, now).await? {
        Some(t) => Some(t),
        None => bootstrap(&store, env, key, now).await?,
    };
    if let Some(t) = &found {
        if t.key_needs_touch(now) {
            let touch = touch_statement(&hash, now);
            wctx.wait_until(async move {
                if let Err(e) = store.run(touch).await {
                    worker::console_error!("recording a key's last use: {e:?}");
                }
            });
        }
        remember(hash, t, now);
    }
    Ok(found)
}

/// Registers `key` for the default organisation when it is the `BOOTSTRAP_API_KEY` secret.
async fn bootstrap(
    store: &Primary,
    env: &Env,
    key: &ApiKey,
    now: UnixMs,
) -> Result<Option<Tenant>, ApiError> {
    let Ok(secret) = env.secret("BOOTSTRAP_API_KEY").map(|s| s.to_string()) else {
        return Ok(None);
    };
    if secret.trim().is_empty() || !key.matches_secret(&secret) {
        return Ok(None);
    }
    let plan = env
        .var("BOOTSTRAP_PLAN")
        .ok()
        .and_then(|v| Plan::parse(v.to_string().trim()))
        .unwrap_or(Plan::Pro);
    store
        .batch(&tenant::bootstrap_statements(&key.hash(), plan, now))
        .await?;
    tenant_for_key(store, key, now).await
}

/// The tenant owning a usable key, or `None` for unknown, revoked and expired keys.
async fn tenant_for_key(
    store: &Primary,
    key: &ApiKey,
    now: UnixMs,
) -> Result<Option<Tenant>, ApiError> {
    let hash = key.hash();
    let row: Option<TenantRow> = store.one(tenant::by_key_statement(&hash, now)).await?;
    match row.map(|r| r.tenant_for(&hash)).transpose() {
        Ok(found) => Ok(found.flatten()),
        Err(e) => Err(unreadable_org(e)),
    }
}

/// The tenant of an organisation by id, if it exists.
async fn tenant_by_org(env: &Env, org: &str) -> Result<Option<Tenant>, ApiError> {
    let store = Primary::open(env)?;
    let row: Option<TenantRow> = store.one(tenant::by_org_statement(org)).await?;
    row.map(TenantRow::tenant)
        .transpose()
        .map_err(unreadable_org)
}

/// Every organisation, least recently purged first.
pub async fn all_tenants(store: &Primary) -> Result<Vec<Tenant>, ApiError> {
    let rows: Vec<TenantRow> = store.all(tenant::all_statement()).await?;
    rows.into_iter()
        .map(TenantRow::tenant)
        .collect::<Result<_, _>>()
        .map_err(unreadable_org)
}

fn unreadable_org(e: UnreadableOrg) -> ApiError {
    worker::console_error!("{e}");
    ApiError::internal()
}
