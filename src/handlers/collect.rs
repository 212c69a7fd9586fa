//! `POST /collect`: validate, assign ids and pack before the request's limiter round; the round
//! reserves quota and enqueues (`commit`); answer 202.

use crate::error::OrUnavailable;
use crate::http::read_body_limited;
use crate::incoming::Incoming;
use crate::pipeline::Ctx;
use edgesoc_core::enrichment::{cf_snapshot, source, Source};
use edgesoc_core::ids::EventId;
use edgesoc_core::ingest::{parse_collect_body, MAX_BODY_BYTES};
use edgesoc_core::message::{pack_request, Packed};
use edgesoc_core::record::EventRecord;
use edgesoc_core::respond::{collect_accepted, Tenant};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::Value;
use worker::Response;

/// Reads, validates and packs a `/collect` body before the request's one limiter round, so
/// that round can reserve the batch's quota and enqueue its messages (`commit`). Ids are fixed
/// here, once. An error is answered only after the rate limit has had its say (api-contract §1
/// order).
pub async fn prepare(
    req: &Incoming,
    tenant: &Tenant,
    now: UnixMs,
) -> Result<(Vec<EventId>, Vec<Packed>, Option<String>), ApiError> {
    let body = read_body_limited(req.raw(), MAX_BODY_BYTES).await?;
    let events = parse_collect_body(&body)?;
    let server_ip = req.header("CF-Connecting-IP");
    let records: Vec<EventRecord> = events
        .into_iter()
        .map(|e| EventRecord::assign(e, &tenant.org_id, EventId::new_v4(), now, server_ip.clone()))
        .collect();
    let ids = records.iter().map(|r| r.id).collect();
    // Enrichment happens in the consumer: the request path does no D1 work for its events.
    // A request too large for one queue send carries a hold token (edgesoc_core::hold).
    let (bodies, hold) = pack_request(&records, tenant.plan, &cf_for(&records, req))
        .or_internal("packing events")?;
    Ok((ids, bodies, hold))
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

/// The location fields of `cf` that the consumer needs: only when some event describes the
/// caller (no `user_ip`, or the caller's own), so other messages do not carry them.
fn cf_for(records: &[EventRecord], req: &Incoming) -> Value {
    let describes_caller = records.iter().any(|r| {
        matches!(
            source(r.user_ip.as_deref(), r.server_ip.as_deref()),
            Source::Cf(_)
        )
    });
    if describes_caller {
        cf_snapshot(&req.cf())
    } else {
        Value::Null
    }
}
