//! The order of checks on every API request (api-contract §1): authenticate, count against the
//! rate limit, gate by plan, then hand over to the route's handler. Every response to an
//! authenticated request carries the tenant headers, errors included.

use crate::handlers;
use crate::http;
use crate::limiter::LimiterClient;
use crate::store::Store;
use crate::tenants;
use edgesoc_core::faults::Faults;
use edgesoc_core::ids::key_from_headers;
use edgesoc_core::ingest::NewEvent;
use edgesoc_core::limiter::{LimiterReply, LimiterRequest};
use edgesoc_core::plan::Plan;
use edgesoc_core::respond::{tenant_headers, Tenant};
use edgesoc_core::route::{resolve, Route};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use worker::{Env, Request, Response};

/// Everything a handler needs about the caller and its limits.
pub struct Ctx {
    pub env: Env,
    pub store: Store,
    pub tenant: Tenant,
    pub limiter: LimiterClient,
    /// Test-only injected faults (`EDGESOC_FAULTS`), read once per request.
    pub faults: Faults,
    pub now: UnixMs,
    /// The limiter's view after the rate check; handlers may replace `quota` after reserving.
    pub limits: LimiterReply,
}

impl Ctx {
    /// Plan, retention, quota and rate-limit headers for this response.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        tenant_headers(
            &self.tenant,
            self.now,
            Some(&self.limits.quota),
            self.limits.rate.as_ref(),
        )
    }

    /// A JSON success response with the tenant headers.
    pub fn json(&self, status: u16, body: &serde_json::Value) -> Response {
        http::json(status, body, &self.headers())
    }
}

/// Handles one API request end to end; never fails (errors become contract error bodies).
pub async fn handle(req: Request, env: Env, now: UnixMs) -> Response {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let key = key_from_headers(
        header("X-API-Key").as_deref(),
        header("Authorization").as_deref(),
    );
    // dashboard-contract §1: without a key, dashboard reads serve DASHBOARD_PUBLIC_ORG, if set.
    let public_org = match key {
        None => public_dashboard_org(&req, &env),
        Some(_) => None,
    };
    if key.is_none() && public_org.is_none() {
        return unauthorized(&req);
    }
    let store = match env.d1("DB") {
        Ok(db) => Store::new(db),
        Err(e) => {
            worker::console_error!("DB binding: {e}");
            return http::error(&ApiError::internal(), &[]);
        }
    };
    let faults = crate::faults::from_env(&env);
    let found = match (&key, &public_org) {
        (Some(key), _) => tenants::resolve(&store, &env, key, now, &faults).await,
        (None, org) => store.tenant_by_org_id(org.as_deref().unwrap_or("")).await,
    };
    let tenant = match found {
        Ok(Some(t)) => t,
        Ok(None) => return unauthorized(&req),
        Err(e) => return http::error(&e, &[]),
    };
    let limiter = match LimiterClient::for_org(&env, &tenant.org_id, faults.clone()) {
        Ok(l) => l,
        Err(e) => return http::error(&e, &tenant_headers(&tenant, now, None, None)),
    };
    // The raw method: workers-rs maps methods it does not know (e.g. QUERY) to GET, which
    // would route them as reads instead of answering 405.
    let route = resolve(&req.inner().method(), &req.path());
    let mut req = req;
    // /collect validates its body before the one limiter call, which then also reserves the
    // batch's quota; the limiter's verdict is still answered first.
    let collect = match route {
        Ok(Route::Collect) => Some(handlers::collect::read(&mut req).await),
        _ => None,
    };
    let admit = LimiterRequest::Admit {
        rate_limit: tenant.limits.rate_per_minute,
        monthly_limit: tenant.limits.monthly_events,
        reserve: match &collect {
            Some(Ok(events)) => events.len() as u64,
            _ => 0,
        },
    };
    let limits = match limiter.call(&admit).await {
        Ok(r) => r,
        Err(e) => return http::error(&e, &tenant_headers(&tenant, now, None, None)),
    };
    let ctx = Ctx {
        env,
        store,
        tenant,
        limiter,
        faults,
        now,
        limits,
    };
    match dispatch(req, &ctx, route, collect).await {
        Ok(resp) => resp,
        Err((ctx_headers, e)) => http::error(&e, &ctx_headers),
    }
}

type Failure = (Vec<(&'static str, String)>, ApiError);

async fn dispatch(
    mut req: Request,
    ctx: &Ctx,
    route: Result<Route, ApiError>,
    collect: Option<Result<Vec<NewEvent>, ApiError>>,
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
    if matches!(
        route,
        Route::ListAlerts | Route::GetAlert(_) | Route::UpdateAlert(_)
    ) && ctx.tenant.plan == Plan::Free
    {
        return Err(fail(ApiError::plan_restricted("Alerts")));
    }
    match route {
        Route::Collect => {
            let events = collect.unwrap_or_else(|| Err(ApiError::internal()));
            handlers::collect::post(&req, ctx, events)
                .await
                .map_err(fail)
        }
        Route::Health => handlers::health::get(ctx).await.map_err(fail),
        Route::ListEvents => handlers::events::list(&req, ctx).await.map_err(fail),
        Route::GetEvent(id) => handlers::events::get(&id, ctx).await.map_err(fail),
        Route::ListAlerts => handlers::alerts::list(&req, ctx).await.map_err(fail),
        Route::GetAlert(id) => handlers::alerts::get(&id, ctx).await.map_err(fail),
        Route::UpdateAlert(id) => handlers::alerts::patch(&mut req, &id, ctx)
            .await
            .map_err(fail),
        Route::LokiPush => handlers::loki::push(&mut req, ctx).await.map_err(fail),
        Route::DashboardData => handlers::dashboard::get(&req, ctx).await.map_err(fail),
    }
}

/// The organisation whose dashboard is served without a key (var `DASHBOARD_PUBLIC_ORG`), for
/// `GET /ui/mock-data` only.
fn public_dashboard_org(req: &Request, env: &Env) -> Option<String> {
    let route = resolve(&req.inner().method(), &req.path()).ok()?;
    let org = env.var("DASHBOARD_PUBLIC_ORG").ok()?.to_string();
    (route == Route::DashboardData && !org.trim().is_empty()).then(|| org.trim().to_string())
}

fn unauthorized(req: &Request) -> Response {
    let err = ApiError::unauthorized();
    let mut body = err.body();
    if req.path().trim_end_matches('/').ends_with("/health") {
        body["status"] = "error".into();
    }
    http::error_with_body(&err, &body, &[])
}
