//! API key → tenant, with an isolate-level cache. Without it every request would wait on a D1
//! read before anything else; with it an isolate reads each key at most once per TTL. The price
//! is bounded staleness: a revoked key, or a plan change, takes effect within the TTL
//! (`TENANT_CACHE_SECONDS`, default 10; 0 turns the cache off). Unknown keys are never cached,
//! so a new key works at once.

use crate::store::Store;
use edgesoc_core::cache::TtlCache;
use edgesoc_core::faults::Faults;
use edgesoc_core::ids::{ApiKey, KeyHash};
use edgesoc_core::plan::Plan;
use edgesoc_core::respond::Tenant;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use std::cell::{OnceCell, RefCell};
use worker::Env;

const DEFAULT_TTL_SECONDS: i64 = 10;
/// Longest accepted TTL: a revocation must not wait longer than this.
const MAX_TTL_SECONDS: i64 = 300;
/// Keys held per isolate (a few hundred bytes each).
const CAPACITY: usize = 10_000;

thread_local! {
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

/// The tenant of `key`: from the cache, else D1; on a miss, registers the key through the
/// bootstrap secret when that applies.
pub async fn resolve(
    env: &Env,
    key: &ApiKey,
    now: UnixMs,
    faults: &Faults,
) -> Result<Option<Tenant>, ApiError> {
    let hash = key.hash();
    let ttl = ttl_ms(env);
    let cached = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.set_ttl(ttl);
        c.get(&hash, now).cloned()
    });
    if let Some(t) = cached {
        return Ok(Some(t));
    }
    if crate::faults::strikes(faults, "tenant_d1") {
        return Err(ApiError::unavailable("D1"));
    }
    let store = Store::from_env(env)?;
    let found = match store.tenant_for_key(key).await? {
        Some(t) => Some(t),
        None => bootstrap(&store, env, key, now).await?,
    };
    if let Some(t) = &found {
        CACHE.with(|c| c.borrow_mut().insert(hash, t.clone(), now));
    }
    Ok(found)
}

/// Registers `key` for the default organisation when it is the `BOOTSTRAP_API_KEY` secret.
async fn bootstrap(
    store: &Store,
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
    store.bootstrap(key, plan, now).await?;
    store.tenant_for_key(key).await
}
