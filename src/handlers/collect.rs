//! `POST /collect`: validate, reserve quota, assign ids, enqueue, answer 202.

use crate::http::read_body_limited;
use crate::pipeline::Ctx;
use crate::queue::enqueue;
use edgesoc_core::ids::EventId;
use edgesoc_core::ingest::{parse_collect_body, MAX_BODY_BYTES};
use edgesoc_core::limiter::LimiterRequest;
use edgesoc_core::record::EventRecord;
use edgesoc_core::respond::collect_accepted;
use edgesoc_core::ApiError;
use worker::{Request, Response};

pub async fn post(
    req: &mut Request,
    ctx: &Ctx,
) -> Result<Response, (Vec<(&'static str, String)>, ApiError)> {
    let fail = |headers: Vec<(&'static str, String)>| move |e: ApiError| (headers, e);
    let body = read_body_limited(req, MAX_BODY_BYTES)
        .await
        .map_err(fail(ctx.headers()))?;
    let events = parse_collect_body(&body).map_err(fail(ctx.headers()))?;
    let count = events.len() as u64;

    let monthly_limit = ctx.tenant.limits.monthly_events;
    let reserved = ctx
        .limiter
        .call(&LimiterRequest::Reserve {
            count,
            monthly_limit,
        })
        .await
        .map_err(fail(ctx.headers()))?;
    let mut limits = ctx.limits.clone();
    limits.quota = reserved.quota.clone();
    let headers = edgesoc_core::respond::tenant_headers(
        &ctx.tenant,
        ctx.now,
        Some(&limits.quota),
        limits.rate.as_ref(),
    );
    if let Some(denied) = reserved.denied {
        let err = ApiError::quota_exceeded(
            denied.limit,
            count,
            denied.remaining,
            reserved.month_retry_after,
        );
        return Err((headers, err));
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

    let queue = ctx.env.queue("DETECT_QUEUE").map_err(|e| {
        worker::console_error!("DETECT_QUEUE binding: {e}");
        (headers.clone(), ApiError::internal())
    });
    let sent = match queue {
        Ok(q) => enqueue(&q, records, ctx.tenant.plan).await,
        Err(e) => Err((0, worker::Error::RustError(format!("{:?}", e.1)))),
    };
    if let Err((sent, e)) = sent {
        // Only the events that never reached the queue are refunded: the rest will be stored.
        worker::console_error!("enqueue failed after {sent} of {count} events: {e}");
        let refund = LimiterRequest::Refund {
            count: count - sent as u64,
            month: reserved.quota.month.clone(),
            monthly_limit,
        };
        if let Err(re) = ctx.limiter.call(&refund).await {
            worker::console_error!("quota refund failed: {re}");
        }
        return Err((headers, ApiError::unavailable("Event queue")));
    }
    Ok(crate::http::json(
        202,
        &collect_accepted(&ids, &reserved.quota),
        &headers,
    ))
}
