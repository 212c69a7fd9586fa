//! `POST /collect`: validate, reserve quota, assign ids, enqueue (packed, a few messages per
//! request), answer 202.

use crate::http::read_body_limited;
use crate::pipeline::Ctx;
use crate::queue::enqueue;
use edgesoc_core::enrichment::{cf_snapshot, source, Source};
use edgesoc_core::ids::EventId;
use edgesoc_core::ingest::NewEvent;
use edgesoc_core::ingest::{parse_collect_body, MAX_BODY_BYTES};
use edgesoc_core::limiter::LimiterRequest;
use edgesoc_core::message::pack;
use edgesoc_core::record::EventRecord;
use edgesoc_core::respond::collect_accepted;
use edgesoc_core::ApiError;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{Request, Response};

/// Reads and validates a `/collect` body. The pipeline does this before its one limiter call,
/// so the same call can reserve the batch's quota; an error here is answered only after the
/// rate limit has had its say (api-contract §1 order).
pub async fn read(req: &mut Request) -> Result<Vec<NewEvent>, ApiError> {
    let body = read_body_limited(req, MAX_BODY_BYTES).await?;
    parse_collect_body(&body)
}

/// Accepts validated events whose quota the limiter has already reserved (or refused).
pub async fn post(
    req: &Request,
    ctx: &Ctx,
    events: Result<Vec<NewEvent>, ApiError>,
) -> Result<Response, ApiError> {
    let events = events?;
    let count = events.len() as u64;
    if let Some(denied) = ctx.limits.denied {
        return Err(ApiError::quota_exceeded(
            denied.limit,
            count,
            denied.remaining,
            ctx.limits.month_retry_after,
        ));
    }

    let server_ip = req.headers().get("CF-Connecting-IP").ok().flatten();
    let records: Vec<EventRecord> = events
        .into_iter()
        .map(|e| {
            EventRecord::assign(
                e,
                &ctx.tenant.org_id,
                EventId::new_v4(),
                ctx.now,
                server_ip.clone(),
            )
        })
        .collect();
    let ids: Vec<EventId> = records.iter().map(|r| r.id).collect();
    // Enrichment happens in the consumer: the request path does no D1 work for its events.
    let cf = cf_for(&records, req);
    let sent = match (
        ctx.env.queue("DETECT_QUEUE"),
        pack(&records, ctx.tenant.plan, &cf),
    ) {
        (Ok(q), Ok(bodies)) => enqueue(&q, &bodies, &ctx.faults).await,
        (Err(e), _) => Err((0, e)),
        (_, Err(e)) => Err((0, worker::Error::RustError(e.to_string()))),
    };
    if let Err((sent, e)) = sent {
        // Only the events that never reached the queue are refunded: the rest will be stored.
        worker::console_error!("enqueue failed after {sent} of {count} events: {e}");
        let refund = LimiterRequest::Refund {
            count: count - sent as u64,
            month: ctx.limits.quota.month.clone(),
            monthly_limit: ctx.tenant.limits.monthly_events,
        };
        if let Err(re) = ctx.limiter.call(&refund).await {
            worker::console_error!("quota refund failed: {re}");
        }
        // api-contract §3: refunded, then 500.
        return Err(ApiError::internal());
    }
    Ok(ctx.json(202, &collect_accepted(&ids, &ctx.limits.quota)))
}

/// The request's `cf` object as JSON (`null` when absent, e.g. for requests made in tests
/// without one). Read through reflection: the typed accessors panic on missing fields.
fn cf_object(req: &Request) -> Value {
    js_sys::Reflect::get(req.inner(), &JsValue::from_str("cf"))
        .ok()
        .filter(JsValue::is_object)
        .and_then(|v| serde_wasm_bindgen::from_value(v).ok())
        .unwrap_or(Value::Null)
}

/// The location fields of `cf` that the consumer needs: only when some event describes the
/// caller (no `user_ip`, or the caller's own), so other messages do not carry them.
fn cf_for(records: &[EventRecord], req: &Request) -> Value {
    let describes_caller = records.iter().any(|r| {
        matches!(
            source(r.user_ip.as_deref(), r.server_ip.as_deref()),
            Source::Cf(_)
        )
    });
    if describes_caller {
        cf_snapshot(&cf_object(req))
    } else {
        Value::Null
    }
}
