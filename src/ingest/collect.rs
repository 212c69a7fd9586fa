//! `POST /collect` (and `/collect/batch`), and the inbound webhooks that become its events
//! (`POST /webhooks/auth0`, `/webhooks/supabase`, docs/integrations.md): read and validate the
//! body, admit it through the limiter (rate limit, quota reservation and queue send in one
//! shared round), answer 202 (webhooks: 200, as LiteSOC's integrations expect). Enrichment,
//! storage and detection happen in the queue consumer (`ingest::consume`).

use crate::api::http::read_body_limited;
use crate::api::incoming::Incoming;
use crate::api::Ctx;
use crate::limits::group::Claim;
use edgesoc_core::api::respond::collect_accepted;
use edgesoc_core::ingest::webhooks::{self, Provider};
use edgesoc_core::ingest::{accept, accept_events, Accepted, MAX_BODY_BYTES};
use edgesoc_core::limits::limiter::Budget;
use edgesoc_core::ApiError;
use worker::Response;

pub async fn post(req: &Incoming, ctx: &mut Ctx) -> Result<Response, ApiError> {
    let accepted = read_and_accept(req, ctx, None).await;
    admit(accepted, ctx, 202).await
}

/// `POST /webhooks/auth0` and `/webhooks/supabase`: each record one event, as `/collect`.
pub async fn webhook(req: &Incoming, ctx: &mut Ctx, from: Provider) -> Result<Response, ApiError> {
    let accepted = read_and_accept(req, ctx, Some(from)).await;
    admit(accepted, ctx, 200).await
}

async fn admit(
    mut accepted: Result<Accepted, ApiError>,
    ctx: &mut Ctx,
    status: u16,
) -> Result<Response, ApiError> {
    // An organisation registered on a database this Worker does not serve (D1_SHARDS) would
    // have its events accepted and never stored: refused before anything is reserved.
    ctx.shard()?;
    // The body is read and validated first so that the one limiter round can also reserve its
    // events and enqueue them; its errors are answered only after the rate limit's verdict.
    let claim = match &mut accepted {
        Ok(a) => Claim::events(
            &ctx.tenant.limits,
            a.ids.len() as u64,
            std::mem::take(&mut a.messages),
            a.hold.take(),
        ),
        Err(_) => Claim::rate_only(&ctx.tenant.limits, Budget::Events),
    };
    let admitted = ctx.admit(claim).await?;
    let ids = accepted?.ids;

    let limits = ctx.limits().ok_or_else(ApiError::internal)?;
    if let Some(denied) = limits.denied {
        let count = ids.len() as u64;
        let retry_after = limits.month_retry_after;
        return Err(ApiError::quota_exceeded(
            denied.limit,
            count,
            denied.remaining,
            retry_after,
        ));
    }
    if admitted.unsent > 0 {
        // Only the events that never reached the queue are refunded: the rest will be stored.
        refund(ctx, admitted.unsent).await;
        return Err(ApiError::internal());
    }
    let quota = ctx.quota().ok_or_else(ApiError::internal)?;
    Ok(ctx.json(status, &collect_accepted(&ids, quota)))
}

/// The body, validated, with ids and packed queue messages (`edgesoc_core::ingest::accept`);
/// a webhook's records mapped to events first.
async fn read_and_accept(
    req: &Incoming,
    ctx: &Ctx,
    from: Option<Provider>,
) -> Result<Accepted, ApiError> {
    let body = read_body_limited(req.raw(), MAX_BODY_BYTES).await?;
    let t = &ctx.tenant;
    let ip = req.header("CF-Connecting-IP");
    match from {
        None => accept(&body, &t.org_id, t.plan, ctx.now, ip, || req.cf()),
        Some(p) => {
            let events = webhooks::parse(p, &body)?;
            accept_events(events, &t.org_id, t.plan, ctx.now, ip, || req.cf())
        }
    }
}

/// Gives `count` reserved events back to this month's quota; a failure is logged (the quota
/// then over-counts, never under-counts).
async fn refund(ctx: &Ctx, count: u64) {
    let Some(month) = ctx.quota().map(|q| q.month.clone()) else {
        return;
    };
    let refunded = match ctx.limiter() {
        Ok(limiter) => {
            limiter
                .refund(count, month, ctx.tenant.limits.monthly_events)
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = refunded {
        worker::console_error!("quota refund of {count} events failed: {e}");
    }
}
