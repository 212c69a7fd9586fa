//! `GET /logs`, `GET /logs/:id` (docs/api.md §5.12) and `GET /logs/export` (§5.13): the
//! organisation's raw lines as received,
//! with what was extracted from them; retention-bounded, redacted on Free as events are.

use crate::api::incoming::query_pairs;
use crate::api::Ctx;
use edgesoc_core::api::cursor::CursorKey;
use edgesoc_core::api::envelope::{meta, redacts, single_envelope};
use edgesoc_core::api::export::{ExportFormat, LOG_COLUMNS, LOG_EXPORT_ROWS};
use edgesoc_core::logs::read::{line_sql, page, LineRow, LogQuery, LOGS_MAX_LIMIT};
use edgesoc_core::ApiError;
use serde_json::json;
use worker::{Request, Response};

pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let cursors = ctx.cursors("logs");
    let q = LogQuery::parse(&query_pairs(req)?, &cursors)?;
    let (data, pagination) = read(&q, &cursors, ctx).await?;
    let body = json!({
        "success": true,
        "data": data,
        "pagination": pagination,
        "meta": meta(&ctx.tenant, ctx.now, Some(LOGS_MAX_LIMIT)),
    });
    Ok(ctx.json(200, &body))
}

pub async fn get(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("Log line");
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let statement = line_sql(&ctx.tenant.org_id.0, raw_id, cutoff).ok_or_else(not_found)?;
    let row: LineRow = ctx.shard()?.one(statement).await?.ok_or_else(not_found)?;
    let body = single_envelope(
        row.to_api(redacts(&ctx.tenant)),
        meta(&ctx.tenant, ctx.now, None),
    );
    Ok(ctx.json(200, &body))
}

/// `GET /logs/export` (§5.13): the list's filters and bounded read, a part of at most
/// [`LOG_EXPORT_ROWS`] lines newest first, `X-Next-Cursor` for the next.
pub async fn export(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let format = ExportFormat::parse(&params)?;
    let cursors = ctx.cursors("logs");
    let mut q = LogQuery::parse(&params, &cursors)?;
    q.limit = LOG_EXPORT_ROWS;
    let (data, pagination) = read(&q, &cursors, ctx).await?;
    let next = pagination["next_cursor"].as_str();
    Ok(ctx.export(format, &data, &LOG_COLUMNS, next, "logs"))
}

/// One page of `q` (its cursors sealed by `cursors`): the lines as API objects and the
/// pagination.
async fn read(
    q: &LogQuery,
    cursors: &CursorKey,
    ctx: &Ctx,
) -> Result<(Vec<serde_json::Value>, serde_json::Value), ApiError> {
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let rows: Vec<LineRow> = ctx
        .shard()?
        .all(q.page_sql(&ctx.tenant.org_id.0, cutoff))
        .await?;
    Ok(page(rows, q, cursors, redacts(&ctx.tenant)))
}
