//! `POST /collect`: validate, reserve quota, assign ids, enqueue, answer 202.

use crate::http::read_body_limited;
use crate::pipeline::Ctx;
use crate::queue::enqueue;
use edgesoc_core::enrichment::{
    apply, ip_table_answers, ip_table_statements, source, threat_history_statements, Source,
    ThreatCounts,
};
use edgesoc_core::ids::EventId;
use edgesoc_core::ingest::NewEvent;
use edgesoc_core::ingest::{parse_collect_body, MAX_BODY_BYTES};
use edgesoc_core::intel::NetworkLists;
use edgesoc_core::ipdb::ip_key;
use edgesoc_core::limiter::LimiterRequest;
use edgesoc_core::record::EventRecord;
use edgesoc_core::respond::collect_accepted;
use edgesoc_core::ApiError;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::IpAddr;
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
    let mut records: Vec<EventRecord> = events
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
    enrich_all(&mut records, req, server_ip.as_deref(), ctx).await;
    let ids: Vec<EventId> = records.iter().map(|r| r.id).collect();

    let sent = match ctx.env.queue("DETECT_QUEUE") {
        Ok(q) => enqueue(&q, records, ctx.tenant.plan).await,
        Err(e) => Err((0, e)),
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

/// Enriches every record in place. A failing history query degrades the threat score to
/// "no history"; it never costs the request its events.
async fn enrich_all(
    records: &mut [EventRecord],
    req: &Request,
    caller_ip: Option<&str>,
    ctx: &Ctx,
) {
    let sources: Vec<Source> = records
        .iter()
        .map(|r| source(r.user_ip.as_deref(), caller_ip))
        .collect();
    let enriched = || {
        records
            .iter()
            .zip(&sources)
            .filter(|(_, s)| **s != Source::None)
    };
    let ips: BTreeSet<String> = enriched().filter_map(|(r, _)| r.user_ip.clone()).collect();
    let actors: BTreeSet<String> = enriched().filter_map(|(r, _)| r.actor_id.clone()).collect();
    if sources.iter().all(|s| *s == Source::None) {
        return;
    }
    // One D1 round trip: threat history for every IP and actor, and the IP-range tables for
    // every address not described by cf.
    let table_ips: BTreeSet<IpAddr> = sources
        .iter()
        .filter_map(|s| match s {
            Source::IpTable(ip) => Some(*ip),
            _ => None,
        })
        .collect();
    let mut statements = threat_history_statements(&ctx.tenant.org_id.0, &ips, &actors, ctx.now);
    let threat_statements = statements.len();
    if !table_ips.is_empty() {
        statements.extend(ip_table_statements(&table_ips));
    }
    let (counts, tables) = match ctx.store.batch(&statements).await {
        Ok(mut rows) => {
            let table_rows = rows.split_off(threat_statements.min(rows.len()));
            let counts = ThreatCounts::from_rows(rows).unwrap_or_else(|e| {
                worker::console_error!("threat history rows: {e}");
                ThreatCounts::default()
            });
            (counts, ip_table_answers(table_rows))
        }
        Err(e) => {
            worker::console_error!("enrichment queries: {e}");
            (ThreatCounts::default(), Default::default())
        }
    };
    let cf = cf_object(req);
    for (record, src) in records.iter_mut().zip(&sources) {
        let table = match src {
            Source::IpTable(ip) => tables.get(&ip_key(*ip)).cloned(),
            _ => None,
        };
        apply(record, src, &cf, table, &counts, NetworkLists::shipped());
    }
}
