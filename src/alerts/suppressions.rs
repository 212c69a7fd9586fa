//! `/suppressions` (docs/api.md §12.1): an organisation's suppressions (Pro and above; the
//! router gates the plan). Each handler reads, validates with the core
//! (`edgesoc_core::alerts::suppress`), runs the core's organisation-scoped statements and
//! answers. Detection applies them (`edgesoc_core::detect::batch`, the Loki push).

use crate::api::http::read_body_limited;
use crate::api::incoming::query_pairs;
use crate::api::Ctx;
use edgesoc_core::access::audit::{self, Change};
use edgesoc_core::alerts::suppress::{self, ListQuery, NewSuppression, SuppressionRow};
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

/// Suppression bodies are small: a value, a reason of at most 500 characters, a few types.
const MAX_BODY_BYTES: usize = 16 * 1024;

fn envelope(ctx: &Ctx, row: &SuppressionRow) -> Value {
    single_envelope(row.to_api(ctx.now), meta(&ctx.tenant, ctx.now, None))
}

/// The suppression a statement's rows hold, if any.
pub(crate) fn row_of(rows: Option<&Vec<Value>>) -> Result<Option<SuppressionRow>, ApiError> {
    rows.and_then(|r| r.first())
        .map(|r| {
            SuppressionRow::deserialize(r).map_err(|e| {
                worker::console_error!("suppression row: {e}");
                ApiError::internal()
            })
        })
        .transpose()
}

pub async fn create(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let body = read_body_limited(req.inner(), MAX_BODY_BYTES).await?;
    let new = NewSuppression::parse(&body, ctx.now)?;
    let (org, id) = (&ctx.tenant.org_id.0, suppress::new_id());
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let detail = audit::fields_of(
        &body,
        &["scope", "value", "alert_types", "expires_at", "reason"],
    );
    let rows = ctx
        .shard()?
        .batch(&[
            suppress::insert_statement(org, &id, &new, &ctx.tenant.actor(), ctx.now),
            ctx.audit(Change::new("suppression.create", Some(&id), detail)),
            suppress::get_statement(org, &id, cutoff),
        ])
        .await?;
    let row = row_of(rows.get(2))?.ok_or_else(suppress::limit_error)?;
    ctx.seal_audit().await;
    Ok(ctx.json(201, &envelope(ctx, &row)))
}

pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let q = ListQuery::parse(&query_pairs(req)?)?;
    let statement = suppress::list_statement(
        &ctx.tenant.org_id.0,
        q.ended,
        ctx.now,
        ctx.tenant.cutoff(ctx.now),
        q.limit,
    );
    let rows: Vec<SuppressionRow> = ctx.shard()?.all(statement).await?;
    let data: Vec<Value> = rows.iter().map(|r| r.to_api(ctx.now)).collect();
    let meta = meta(&ctx.tenant, ctx.now, Some(suppress::LIST_MAX_LIMIT));
    Ok(ctx.json(200, &json!({"success": true, "data": data, "meta": meta})))
}

pub async fn get(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = suppress::path_id(raw_id)?;
    let statement = suppress::get_statement(&ctx.tenant.org_id.0, &id, ctx.tenant.cutoff(ctx.now));
    let row: SuppressionRow = ctx
        .shard()?
        .one(statement)
        .await?
        .ok_or_else(|| ApiError::not_found("Suppression"))?;
    Ok(ctx.json(200, &envelope(ctx, &row)))
}

/// Ends a suppression: it stops applying at once; the row stays (who deleted it and when), so
/// the alerts it suppressed still name it.
pub async fn delete(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = suppress::path_id(raw_id)?;
    let (org, cutoff) = (&ctx.tenant.org_id.0, ctx.tenant.cutoff(ctx.now));
    let rows = ctx
        .shard()?
        .batch(&[
            suppress::delete_statement(org, &id, &ctx.tenant.actor(), ctx.now, cutoff),
            ctx.audit(Change::new("suppression.delete", Some(&id), json!({}))),
            suppress::get_statement(org, &id, cutoff),
        ])
        .await?;
    if rows.first().is_none_or(Vec::is_empty) {
        return Err(ApiError::not_found("Suppression"));
    }
    ctx.seal_audit().await;
    let row = row_of(rows.get(2))?.ok_or_else(ApiError::internal)?;
    Ok(ctx.json(200, &envelope(ctx, &row)))
}
