//! `POST /agent/heartbeat` and `GET /agents` (docs/integrations.md §3): parse, one statement,
//! answer; the rules are `edgesoc_core::ingest::agents`.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use edgesoc_core::api::envelope::meta;
use edgesoc_core::ingest::agents::{
    list_statement, AgentRow, Heartbeat, LIST_LIMIT, MAX_AGENTS, MAX_BODY_BYTES,
    STALE_AFTER_SECONDS,
};
use edgesoc_core::ApiError;
use serde_json::{json, Value};
use worker::{Request, Response};

/// Records the beat and answers as LiteSOC does: `200 {success, update: {available: false}}`
/// (edgesoc ships no agent updates).
pub async fn heartbeat(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let beat = Heartbeat::parse(&body)?;
    let changed = ctx
        .store()?
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
        .store()?
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
