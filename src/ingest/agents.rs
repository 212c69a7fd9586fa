//! `POST /agent/heartbeat` and `GET /agents` (docs/integrations.md §3): parse, one statement,
//! answer; and the agent sweep (cron) that reports silent agents. The rules are
//! `edgesoc_core::ingest::agents`.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use crate::d1::{self, Primary, Shard};
use crate::queue::OutQueue;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::api::envelope::meta;
use edgesoc_core::ingest::accept_events;
use edgesoc_core::ingest::agents::{
    list_statement, plan_of, silent_statement, AgentRow, Heartbeat, SilentAgent, LIST_LIMIT,
    MAX_AGENTS, MAX_BODY_BYTES, STALE_AFTER_SECONDS,
};
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::runtime::Queue;
use edgesoc_core::shards;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use worker::{Env, Request, Response};

/// Records the beat and answers as LiteSOC does: `200 {success, update: {available: false}}`
/// (edgesoc ships no agent updates).
pub async fn heartbeat(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let beat = Heartbeat::parse(&body)?;
    let changed = ctx
        .shard()?
        .run(beat.upsert(&ctx.tenant.org_id.0, ctx.now))
        .await?;
    if changed == 0 {
        return Err(ApiError::invalid(
            "hostname",
            format!("this organisation already has {MAX_AGENTS} agents"),
        ));
    }
    Ok(ctx.json(
        200,
        &json!({"success": true, "update": {"available": false}}),
    ))
}

/// The organisation's agents with their state; every plan may read them.
pub async fn list(_req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let rows: Vec<AgentRow> = ctx
        .shard()?
        .all(list_statement(&ctx.tenant.org_id.0))
        .await?;
    let data: Vec<Value> = rows.iter().map(|r| r.to_json(ctx.now)).collect();
    Ok(ctx.json(
        200,
        &json!({
            "success": true,
            "data": data,
            "pagination": {"total": data.len(), "limit": LIST_LIMIT, "offset": 0, "has_more": false, "next_cursor": null},
            "meta": meta(&ctx.tenant, ctx.now, None),
            "stale_after_seconds": STALE_AFTER_SECONDS,
        }),
    ))
}

/// The agent sweep (cron `SWEEP_CRON`, every five minutes): each agent silent past its
/// organisation's `agents.stale_alert_minutes` becomes one `agent.heartbeat_missed` event on
/// the detection queue — stored, detected (the silent-agent rule raises the alert, suppressions
/// and delivery as for any alert) — and its silence is marked reported. These events are the
/// Worker's own: they count against no quota. A failure is logged; the next run retries.
pub async fn sweep(env: &Env, now: UnixMs) {
    match report_silent(env, now).await {
        Ok(0) => {}
        Ok(n) => worker::console_log!("agent sweep: {n} silent agents reported"),
        Err(e) => worker::console_error!("agent sweep failed (the next run retries): {e}"),
    }
}

/// Every shard's silent agents, each reported through the queue as an event of its
/// organisation (with its plan from the primary).
async fn report_silent(env: &Env, now: UnixMs) -> Result<usize, String> {
    let mut reported = 0;
    for name in d1::shards(env) {
        let shard = Shard::named(env, &name).map_err(|e| e.to_string())?;
        reported += report_shard(env, &shard, now).await?;
    }
    Ok(reported)
}

async fn report_shard(env: &Env, store: &Shard, now: UnixMs) -> Result<usize, String> {
    let silent: Vec<SilentAgent> = store
        .all(silent_statement(now))
        .await
        .map_err(|e| e.to_string())?;
    if silent.is_empty() {
        return Ok(0);
    }
    let mut by_org: BTreeMap<&str, Vec<&SilentAgent>> = BTreeMap::new();
    for s in &silent {
        by_org.entry(&s.org_id).or_default().push(s);
    }
    let orgs: Vec<&str> = by_org.keys().copied().collect();
    let primary = Primary::open(env).map_err(|e| e.to_string())?;
    let registry: Vec<Value> = primary
        .all(shards::registry_statement(&orgs))
        .await
        .map_err(|e| e.to_string())?;
    let queue = OutQueue::from_env(env, crate::ingest::QUEUE, crate::faults::from_env(env))?;
    let mut reported = 0;
    for (org, agents) in by_org {
        if shards::is_moving(&registry, org) {
            // Its rows are being copied: the silence is reported after the move, from the new shard.
            continue;
        }
        let events = agents.iter().map(|a| a.event(now)).collect();
        let plan = plan_of(&registry, org).unwrap_or(Plan::Free);
        let accepted = accept_events(events, &OrgId(org.to_string()), plan, now, None, || {
            Value::Null
        })
        .map_err(|e| e.message)?;
        let messages: Vec<&str> = accepted.messages.iter().map(|m| m.body.as_str()).collect();
        queue.send(&messages).await?;
        let marks: Vec<_> = agents.iter().map(|a| a.reported()).collect();
        store.batch(&marks).await.map_err(|e| e.to_string())?;
        reported += agents.len();
    }
    Ok(reported)
}
