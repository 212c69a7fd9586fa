//! `GET /events`, `GET /events/:id` and `GET /events/export`: org-scoped, retention-bounded,
//! redacted on Free.

use crate::api::incoming::{path_id, query_pairs};
use crate::api::Ctx;
use edgesoc_core::analytics::event_row::EventRow;
use edgesoc_core::analytics::events::{EventQuery, EVENTS_MAX_LIMIT};
use edgesoc_core::api::envelope::{meta, redacts, single_envelope, Page};
use edgesoc_core::api::export::{ExportFormat, EVENT_COLUMNS, EXPORT_ROWS};
use edgesoc_core::api::sql::by_id_sql;
use edgesoc_core::logs::rollups;
use edgesoc_core::ApiError;
use worker::{Request, Response};

pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let cursors = ctx.cursors("events");
    let q = EventQuery::parse(&query_pairs(req)?, &cursors)?;
    let cutoff = ctx.tenant.cutoff(ctx.now);
    // The total reads `event_counts`: caught up first with every stored event.
    let (rows, total) = ctx
        .shard()?
        .page_after::<EventRow>(
            rollups::read_catch_up(ctx.now.0),
            q.page_sql(&ctx.tenant.org_id.0, cutoff),
        )
        .await?;
    let page = Page::new(rows, q.limit, q.offset, total, q.cursor.is_some(), &cursors);
    let redact = redacts(&ctx.tenant);
    let data = page.rows.iter().map(|r| r.to_api(redact)).collect();
    let meta = meta(&ctx.tenant, ctx.now, Some(EVENTS_MAX_LIMIT));
    Ok(ctx.json(200, &page.envelope(data, meta)))
}

pub async fn get(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = path_id(raw_id, "Event")?;
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let row: Option<EventRow> = ctx
        .shard()?
        .one(by_id_sql("events", &ctx.tenant.org_id.0, &id, cutoff))
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found("Event"))?;
    let body = single_envelope(
        row.to_api(redacts(&ctx.tenant)),
        meta(&ctx.tenant, ctx.now, None),
    );
    Ok(ctx.json(200, &body))
}

/// `GET /events/export` (docs/api.md §5.13): the list's filters, a part of [`EXPORT_ROWS`]
/// events newest first, `X-Next-Cursor` for the next.
pub async fn export(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let format = ExportFormat::parse(&params)?;
    let cursors = ctx.cursors("events");
    let mut q = EventQuery::parse(&params, &cursors)?;
    (q.limit, q.offset) = (EXPORT_ROWS, 0);
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let (page_sql, _) = q.page_sql(&ctx.tenant.org_id.0, cutoff);
    let rows: Vec<EventRow> = ctx.shard()?.all(page_sql).await?;
    let page = Page::new(rows, q.limit, 0, 0, true, &cursors);
    let redact = redacts(&ctx.tenant);
    let data: Vec<_> = page.rows.iter().map(|r| r.to_api(redact)).collect();
    Ok(ctx.export(format, &data, &EVENT_COLUMNS, page.next_cursor(), "events"))
}
