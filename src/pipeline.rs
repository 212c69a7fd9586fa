//! The order of checks on every API request (api-contract §1): authenticate, count against the
//! rate limit, gate by plan, then hand over to the route's handler. Every response to an
//! authenticated request carries the tenant headers, errors included.

use crate::commit::{self, Claim};
use crate::handlers;
use crate::http;
use crate::incoming::Incoming;
use crate::limiter::LimiterClient;
use crate::store::Store;
use crate::tenants;
use edgesoc_core::faults::Faults;
use edgesoc_core::ids::{key_from_headers, EventId};
use edgesoc_core::limiter::{Admission, LimiterReply};
use edgesoc_core::plan::Plan;
use edgesoc_core::query::CursorKey;
use edgesoc_core::respond::{tenant_headers, Tenant};
use edgesoc_core::route::{resolve, Route};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use std::cell::OnceCell;
use worker::{Context, Env, Response};

/// The cursor secret when the Worker has no `CURSOR_SECRET`: cursors still cannot cross
/// organisations or lists, but anyone who reads this can seal a position in their own rows.
/// Production sets the secret (README, "Production").
const DEFAULT_CURSOR_SECRET: &str = "edgesoc-local-cursor-secret";

thread_local! {
    /// Secrets are fixed for an isolate's lifetime: read once.
    static CURSOR_SECRET: OnceCell<String> = const { OnceCell::new() };
}

/// Everything a handler needs about the caller and its limits.
pub struct Ctx {
    env: Env,
    /// Test-only injected faults (`EDGESOC_FAULTS`), read once per request.
    faults: Faults,
    /// Bound on first use: `/collect` never touches D1.
    store: OnceCell<Store>,
    pub tenant: Tenant,
    pub now: UnixMs,
    /// The limiter's view after the rate check; handlers may replace `quota` after reserving.
    pub limits: LimiterReply,
}

impl Ctx {
    /// The D1 store.
    pub fn store(&self) -> Result<&Store, ApiError> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = Store::from_env(&self.env)?;
        Ok(self.store.get_or_init(|| store))
    }

    /// The organisation's limiter object (for refunds; admissions go through `commit`).
    pub fn limiter(&self) -> Result<LimiterClient, ApiError> {
        LimiterClient::for_org(&self.env, &self.tenant.org_id, self.faults.clone())
    }

    /// Plan, retention, quota and rate-limit headers for this response.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        tenant_headers(
            &self.tenant,
            self.now,
            Some(&self.limits.quota),
            self.limits.rate.as_ref(),
        )
    }

    /// The key that seals this organisation's cursors for `list` (`"events"`, `"alerts"`).
    pub fn cursors(&self, list: &str) -> CursorKey {
        CURSOR_SECRET.with(|secret| {
            let secret = secret.get_or_init(|| {
                self.env
                    .secret("CURSOR_SECRET")
                    .map(|s| s.to_string())
                    .or_else(|_| self.env.var("CURSOR_SECRET").map(|v| v.to_string()))
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| DEFAULT_CURSOR_SECRET.to_string())
            });
            CursorKey::new(secret, &self.tenant.org_id.0, list)
        })
    }

    /// A JSON success response with the tenant headers.
    pub fn json(&self, status: u16, body: &serde_json::Value) -> Response {
        http::json(status, body, &self.headers())
    }
}

/// Handles one API request end to end; never fails (errors become contract error bodies).
pub async fn handle(req: Incoming, env: Env, wctx: &Context, now: UnixMs) -> Response {
    let key = key_from_headers(
        req.header("X-API-Key").as_deref(),
        req.header("Authorization").as_deref(),
    );
    // dashboard-contract §1: without a key, dashboard reads serve DASHBOARD_PUBLIC_ORG, if set.
    let public_org = match key {
        None => public_dashboard_org(&req, &env),
        Some(_) => None,
    };
    if key.is_none() && public_org.is_none() {
        return unauthorized(&req);
    }
    let faults = crate::faults::from_env(&env);
    let found = match (&key, &public_org) {
        (Some(key), _) => tenants::resolve(&env, key, now, &faults).await,
        (None, org) => match Store::from_env(&env) {
            Ok(store) => store.tenant_by_org_id(org.as_deref().unwrap_or("")).await,
            Err(e) => Err(e),
        },
    };
    let tenant = match found {
        Ok(Some(t)) => t,
        Ok(None) => return unauthorized(&req),
        Err(e) => return http::error(&e, &[]),
    };
    let route = resolve(&req.method, &req.path);
    // /collect validates and packs its body before the limiter round, which then also reserves
    // the batch's quota and enqueues it; the limiter's verdict is still answered first.
    let mut claim = Claim {
        admission: Admission {
            rate_limit: tenant.limits.rate_per_minute,
            monthly_limit: tenant.limits.monthly_events,
            reserve: 0,
        },
        bodies: Vec::new(),
        hold: None,
    };
    let collect = match route {
        Ok(Route::Collect) => Some(handlers::collect::prepare(&req, &tenant, now).await.map(
            |accepted| {
                claim.admission.reserve = accepted.ids.len() as u64;
                claim.bodies = accepted.messages;
                claim.hold = accepted.hold;
                accepted.ids
            },
        )),
        _ => None,
    };
    let settled = commit::settle(wctx, &env, &tenant.org_id, &faults, claim).await;
    let limits = match settled.limits {
        Ok(r) => r,
        Err(e) => return http::error(&e, &tenant_headers(&tenant, now, None, None)),
    };
    let ctx = Ctx {
        env,
        faults,
        store: OnceCell::new(),
        tenant,
        now,
        limits,
    };
    match dispatch(req, &ctx, route, collect, settled.unsent).await {
        Ok(resp) => resp,
        Err((ctx_headers, e)) => http::error(&e, &ctx_headers),
    }
}

type Failure = (Vec<(&'static str, String)>, ApiError);

async fn dispatch(
    req: Incoming,
    ctx: &Ctx,
    route: Result<Route, ApiError>,
    collect: Option<Result<Vec<EventId>, ApiError>>,
    unsent: u64,
) -> Result<Response, Failure> {
    let fail = |e: ApiError| (ctx.headers(), e);
    if let Some(rate) = ctx.limits.rate.filter(|r| !r.allowed) {
        let limit = rate.limit.unwrap_or(0);
        return Err(fail(ApiError::rate_limited(
            limit,
            rate.retry_after.unwrap_or(1),
        )));
    }
    let route = route.map_err(fail)?;
    if route == Route::Collect {
        let ids = collect.unwrap_or_else(|| Err(ApiError::internal()));
        return handlers::collect::post(ctx, ids, unsent)
            .await
            .map_err(fail);
    }
    let req = req.into_request();
    if matches!(
        route,
        Route::ListAlerts | Route::GetAlert(_) | Route::UpdateAlert(_)
    ) && ctx.tenant.plan == Plan::Free
    {
        return Err(fail(ApiError::plan_restricted("Alerts")));
    }
    match route {
        Route::Collect => Err(fail(ApiError::internal())), // answered above
        Route::Health => handlers::health::get(ctx).await.map_err(fail),
        Route::ListEvents => handlers::events::list(&req, ctx).await.map_err(fail),
        Route::GetEvent(id) => handlers::events::get(&id, ctx).await.map_err(fail),
        Route::ListAlerts => handlers::alerts::list(&req, ctx).await.map_err(fail),
        Route::GetAlert(id) => handlers::alerts::get(&id, ctx).await.map_err(fail),
        Route::UpdateAlert(id) => handlers::alerts::patch(&req, &id, ctx).await.map_err(fail),
        Route::LokiPush => handlers::loki::push(&req, ctx).await.map_err(fail),
        Route::DashboardData => handlers::dashboard::get(&req, ctx).await.map_err(fail),
    }
}

/// The organisation whose dashboard is served without a key (var `DASHBOARD_PUBLIC_ORG`), for
/// `GET /ui/mock-data` only.
fn public_dashboard_org(req: &Incoming, env: &Env) -> Option<String> {
    let route = resolve(&req.method, &req.path).ok()?;
    let org = env.var("DASHBOARD_PUBLIC_ORG").ok()?.to_string();
    (route == Route::DashboardData && !org.trim().is_empty()).then(|| org.trim().to_string())
}

fn unauthorized(req: &Incoming) -> Response {
    let err = ApiError::unauthorized();
    let mut body = err.body();
    if req.path.trim_end_matches('/').ends_with("/health") {
        body["status"] = "error".into();
    }
    http::error_with_body(&err, &body, &[])
}
