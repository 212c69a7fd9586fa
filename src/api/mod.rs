//! Every HTTP request: CORS preflights and the OpenAPI document answer without a key, and
//! `POST /session` signs in with the key in its body; everything else is authenticated
//! (`access`: a key, an Access token or a session cookie), held to the organisation's origins and
//! a browser sign-in's CSRF token, routed, checked against the caller's scopes, and handed to its
//! capability's handler. `/collect` admits itself, because its limiter round also reserves quota
//! and enqueues its events; every other route is admitted here against the rate limit first. Each
//! answer to an authenticated request carries the tenant headers, errors included.

mod ctx;
pub mod error;
pub mod health;
pub mod http;
pub mod incoming;
pub mod openapi;

pub use ctx::Ctx;

use crate::alerts::{destinations, suppressions};
use crate::detect::settings;
use crate::limits::group::Claim;
use crate::{access, alerts, analytics, ingest, logs};
use edgesoc_core::access::origins::{self, Cors};
use edgesoc_core::access::session::{self, CSRF_HEADER};
use edgesoc_core::api::route::{resolve, Route};
use edgesoc_core::ingest::webhooks::Provider;
use edgesoc_core::limits::limiter::Budget;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use incoming::Incoming;
use worker::{Context, Env, Response};

/// Answers one request; never fails (errors become contract error bodies).
pub async fn handle(req: Incoming, env: Env, wctx: Context, now: UnixMs) -> Response {
    if req.method.eq_ignore_ascii_case("OPTIONS") {
        return http::preflight();
    }
    if openapi::is_spec_path(&req.path) {
        return openapi::respond(&req.method, &env).await;
    }
    let route = resolve(&req.method, &req.path);
    if let Ok(Route::CreateSession) = route {
        return access::session::create(req, env, wctx, now).await;
    }
    let caller = match access::authenticate(&req, &env, &wctx, route.as_ref().ok(), now).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let cors = origins::decide(&caller.origins, req.header("Origin").as_deref());
    let faults = crate::faults::from_env(&env);
    let mut ctx = Ctx::new(env, wctx, faults, caller, now);
    ctx.client_ip = req.header("CF-Connecting-IP");
    if cors == Cors::Refuse {
        return http::error(&ApiError::origin_not_authorized(), &ctx.headers());
    }
    let safe = ["GET", "HEAD"]
        .iter()
        .any(|m| req.method.eq_ignore_ascii_case(m));
    // While the organisation's data moves to another database nothing may change it; events are
    // still accepted (they wait in the queue until the move ends).
    let intake = matches!(
        route,
        Ok(Route::Collect | Route::Auth0Webhook | Route::SupabaseWebhook)
    );
    if ctx.tenant.moving && !safe && !intake {
        return http::error(&ApiError::moving(), &ctx.headers());
    }
    // A browser sign-in (a session cookie, or Access) carries its CSRF token on every change.
    if let Some(expected) = session::csrf_for(&ctx.tenant, &access::session::secret(ctx.env())) {
        let presented = req.header(CSRF_HEADER).unwrap_or_default();
        if !safe && !session::token_eq(presented.trim(), &expected) {
            return http::error(&ApiError::csrf_token_invalid(), &ctx.headers());
        }
    }
    let response = match serve(req, &mut ctx, route).await {
        Ok(response) => response,
        Err(e) => http::error(&e, &ctx.headers()),
    };
    match cors {
        Cors::Echo(origin) => http::allow_origin(response, &origin),
        _ => response,
    }
}

async fn serve(
    req: Incoming,
    ctx: &mut Ctx,
    route: Result<Route, ApiError>,
) -> Result<Response, ApiError> {
    // Event intake admits itself: its limiter round also reserves quota and enqueues.
    if let Ok(r @ (Route::Collect | Route::Auth0Webhook | Route::SupabaseWebhook)) = &route {
        ctx.tenant.require(r.scope())?;
        return match r {
            Route::Auth0Webhook => ingest::collect::webhook(&req, ctx, Provider::Auth0).await,
            Route::SupabaseWebhook => ingest::collect::webhook(&req, ctx, Provider::Supabase).await,
            _ => ingest::collect::post(&req, ctx).await,
        };
    }
    let budget = route.as_ref().map_or(Budget::Reads, Route::budget);
    ctx.admit(Claim::rate_only(&ctx.tenant.limits, budget))
        .await?;
    let route = route?;
    ctx.tenant.require(route.scope())?;
    let req = req.into_request();
    if route.needs_pro() && ctx.tenant.plan == Plan::Free {
        return Err(ApiError::plan_restricted("Alerts"));
    }
    match route {
        Route::Collect | Route::Auth0Webhook | Route::SupabaseWebhook => {
            unreachable!("answered above")
        }
        Route::AgentHeartbeat => ingest::agents::heartbeat(&req, ctx).await,
        Route::ListAgents => ingest::agents::list(&req, ctx).await,
        Route::Health => health::get(ctx).await,
        Route::ListEvents => analytics::events::list(&req, ctx).await,
        Route::GetEvent(id) => analytics::events::get(&id, ctx).await,
        Route::ListAlerts => alerts::list(&req, ctx).await,
        Route::GetAlert(id) => alerts::get(&id, ctx).await,
        Route::UpdateAlert(id) => alerts::patch(&req, &id, ctx).await,
        Route::LokiPush => logs::push(&req, ctx).await,
        Route::OtlpLogs => logs::otlp(&req, ctx).await,
        Route::ListLogs => logs::read::list(&req, ctx).await,
        Route::GetLog(id) => logs::read::get(&id, ctx).await,
        Route::ExportEvents => analytics::events::export(&req, ctx).await,
        Route::ExportAlerts => alerts::export(&req, ctx).await,
        Route::ExportLogs => logs::read::export(&req, ctx).await,
        Route::LokiQueryRange => logs::loki::query(&req, ctx, false).await,
        Route::LokiQuery => logs::loki::query(&req, ctx, true).await,
        Route::LokiLabels => logs::loki::labels(&req, ctx).await,
        Route::LokiLabelValues(name) => logs::loki::label_values(&req, &name, ctx).await,
        Route::LokiSeries => logs::loki::series(&req, ctx).await,
        Route::LokiBuildinfo => Ok(logs::loki::buildinfo(ctx)),
        Route::LokiReady => Ok(logs::loki::ready(ctx)),
        Route::DashboardData => analytics::dashboard::get(&req, ctx).await,
        Route::ListDestinations => destinations::list(ctx).await,
        Route::CreateDestination => destinations::create(&req, ctx).await,
        Route::GetDestination(id) => destinations::get(&id, ctx).await,
        Route::UpdateDestination(id) => destinations::update(&req, &id, ctx).await,
        Route::DeleteDestination(id) => destinations::delete(&id, ctx).await,
        Route::TestDestination(id) => destinations::test(&id, ctx).await,
        Route::RotateDestinationSecret(id) => destinations::rotate_secret(&id, ctx).await,
        Route::ListDeliveries(id) => destinations::deliveries(&req, &id, ctx).await,
        Route::ListSuppressions => suppressions::list(&req, ctx).await,
        Route::CreateSuppression => suppressions::create(&req, ctx).await,
        Route::GetSuppression(id) => suppressions::get(&id, ctx).await,
        Route::DeleteSuppression(id) => suppressions::delete(&id, ctx).await,
        Route::GetDetectionSettings => settings::get(ctx).await,
        Route::UpdateDetectionSettings => settings::patch(&req, ctx).await,
        Route::ListKeys => access::keys::list(ctx).await,
        Route::CreateKey => access::keys::create(&req, ctx).await,
        Route::RevokeKey(id) => access::keys::revoke(&id, ctx).await,
        Route::RotateKey(id) => access::keys::rotate(&req, &id, ctx).await,
        Route::ListAudit => access::audit::list(&req, ctx).await,
        Route::ExportAudit => access::audit::export(&req, ctx).await,
        Route::VerifyAudit => access::audit::verify(&req, ctx).await,
        Route::GetOrigins => access::origins::get(ctx).await,
        Route::UpdateOrigins => access::origins::put(&req, ctx).await,
        Route::CreateSession => unreachable!("answered before authentication"),
        Route::GetSession => access::session::get(ctx).await,
        Route::DeleteSession => access::session::delete(ctx).await,
        Route::ListMembers => access::cf_access::list(ctx).await,
        Route::PutMember(email) => access::cf_access::put(&req, &email, ctx).await,
        Route::DeleteMember(email) => access::cf_access::delete(&email, ctx).await,
    }
}
