//! `POST /collect`: validate, assign ids and pack before the request's limiter round; the round
//! reserves quota and enqueues (`commit`); answer 202.

use crate::http::read_body_limited;
use crate::incoming::Incoming;
use crate::pipeline::Ctx;
use edgesoc_core::ids::EventId;
use edgesoc_core::ingest::{accept, Accepted, MAX_BODY_BYTES};
use edgesoc_core::respond::{collect_accepted, Tenant};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use worker::Response;

/// Reads, validates and packs a `/collect` body before the request's one limiter round, so
/// that round can reserve the batch's quota and enqueue its messages (`commit`). Ids are fixed
/// here, once. An error is answered only after the rate limit has had its say (api-contract §1
/// order).
pub async fn prepare(req: &Incoming, tenant: &Tenant, now: UnixMs) -> Result<Accepted, ApiError> {
    let body = read_body_limited(req.raw(), MAX_BODY_BYTES).await?;
    // Enrichment happens in the consumer: the request path does no D1 work for its events.
    accept(
        &body,
        &tenant.org_id,
        tenant.plan,
        now,
        req.header("CF-Connecting-IP"),
        || req.cf(),
    )
}

/// Answers a `/collect` whose round is settled: 202 when every event reached the queue; the
/// quota error when the reservation was refused; otherwise the events that never reached the
/// queue are refunded and the request fails (api-contract §3).
pub async fn post(
    ctx: &Ctx,
    prepared: Result<Vec<EventId>, ApiError>,
    unsent: u64,
) -> Result<Response, ApiError> {
    let ids = prepared?;
    let count = ids.len() as u64;
    if let Some(denied) = ctx.limits.denied {
        return Err(ApiError::quota_exceeded(
            denied.limit,
            count,
            denied.remaining,
            ctx.limits.month_retry_after,
        ));
    }
    if unsent > 0 {
        // Only the events that never reached the queue are refunded: the rest will be stored.
        let month = ctx.limits.quota.month.clone();
        let refund = match ctx.limiter() {
            Ok(limiter) => {
                limiter
                    .refund(unsent, month, ctx.tenant.limits.monthly_events)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = refund {
            worker::console_error!("quota refund of {unsent} events failed: {e}");
        }
        return Err(ApiError::internal());
    }
    Ok(ctx.json(202, &collect_accepted(&ids, &ctx.limits.quota)))
}
