//! Alerts in the Worker (Pro and above; the router gates the plan): `GET /alerts`,
//! `GET /alerts/:id`, `PATCH /alerts/:id` (with "mark safe and suppress") here; where they are
//! delivered in [`destinations`]; the delivery queue's consumer in [`deliver`]; what is
//! suppressed in [`suppressions`].

pub mod deliver;
pub mod destinations;
pub mod suppressions;

use crate::api::http::read_body_limited;
use crate::api::incoming::{path_id, query_pairs};
use crate::api::Ctx;
use edgesoc_core::access::audit::Change;
use edgesoc_core::alerts::delivery::ledger::plan_resolve_statement;
use edgesoc_core::alerts::suppress::{self, SuppressRequest};
use edgesoc_core::alerts::{AlertPatch, AlertQuery, AlertRow, AlertStatus, ALERTS_MAX_LIMIT};
use edgesoc_core::api::envelope::{meta, single_envelope, Page};
use edgesoc_core::api::export::{ExportFormat, ALERT_COLUMNS, EXPORT_ROWS};
use edgesoc_core::api::sql::by_id_sql;
use edgesoc_core::ApiError;
use worker::{Request, Response};

/// PATCH bodies are tiny; 16 KiB leaves room for 2,000-character notes in any encoding.
const MAX_PATCH_BYTES: usize = 16 * 1024;

pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let cursors = ctx.cursors("alerts");
    let q = AlertQuery::parse(&query_pairs(req)?, &cursors)?;
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let (rows, total) = ctx
        .shard()?
        .page::<AlertRow>(q.page_sql(&ctx.tenant.org_id.0, cutoff))
        .await?;
    let page = Page::new(rows, q.limit, q.offset, total, q.cursor.is_some(), &cursors);
    let data = page.rows.iter().map(AlertRow::to_api).collect();
    let meta = meta(&ctx.tenant, ctx.now, Some(ALERTS_MAX_LIMIT));
    Ok(ctx.json(200, &page.envelope(data, meta)))
}

/// `GET /alerts/export` (docs/api.md §5.13): the list's filters, a part of [`EXPORT_ROWS`]
/// alerts newest first, `X-Next-Cursor` for the next.
pub async fn export(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let format = ExportFormat::parse(&params)?;
    let cursors = ctx.cursors("alerts");
    let mut q = AlertQuery::parse(&params, &cursors)?;
    (q.limit, q.offset) = (EXPORT_ROWS, 0);
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let (page_sql, _) = q.page_sql(&ctx.tenant.org_id.0, cutoff);
    let rows: Vec<AlertRow> = ctx.shard()?.all(page_sql).await?;
    let page = Page::new(rows, q.limit, 0, 0, true, &cursors);
    let data: Vec<_> = page.rows.iter().map(AlertRow::to_api).collect();
    Ok(ctx.export(format, &data, &ALERT_COLUMNS, page.next_cursor(), "alerts"))
}

async fn load(id: &str, ctx: &Ctx) -> Result<AlertRow, ApiError> {
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let row: Option<AlertRow> = ctx
        .shard()?
        .one(by_id_sql("alerts", &ctx.tenant.org_id.0, id, cutoff))
        .await?;
    row.ok_or_else(|| ApiError::not_found("Alert"))
}

pub async fn get(raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let row = load(&path_id(raw_id, "Alert")?, ctx).await?;
    Ok(ctx.json(
        200,
        &single_envelope(row.to_api(), meta(&ctx.tenant, ctx.now, None)),
    ))
}

pub async fn patch(req: &Request, raw_id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let id = path_id(raw_id, "Alert")?;
    let body = read_body_limited(req.inner(), MAX_PATCH_BYTES).await?;
    let patch = AlertPatch::parse(&body)?;
    if let Some(request) = &patch.suppress {
        return mark_safe_and_suppress(ctx, &id, &patch, request).await;
    }
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let by = ctx.tenant.actor();
    let rows = ctx
        .shard()?
        .batch(&[
            patch.update_sql(&ctx.tenant.org_id, &id, ctx.now, cutoff, &by),
            ctx.audit(Change::new(
                format!("alert.{}", patch.action()),
                Some(&id),
                patch.audit_detail(),
            )),
        ])
        .await?;
    if rows.get(1).is_none_or(Vec::is_empty) {
        return Err(ApiError::not_found("Alert"));
    }
    ctx.seal_audit().await;
    if patch.status == AlertStatus::Resolved {
        // A resolved alert resolves its PagerDuty incidents.
        let org = &ctx.tenant.org_id.0;
        let store = ctx.shard()?;
        store.run(plan_resolve_statement(org, &id, ctx.now)).await?;
        deliver::enqueue_for(ctx.env(), store, org).await;
    }
    let mut data = load(&id, ctx).await?.to_api();
    data["action"] = patch.action().into();
    Ok(ctx.json(
        200,
        &single_envelope(data, meta(&ctx.tenant, ctx.now, None)),
    ))
}

/// `mark_safe` with `suppress` (docs/api.md §12.2): the suppression is made from the alert's
/// own values, and inserted and the alert marked safe in one batch — both or, past the
/// organisation's limit, neither.
async fn mark_safe_and_suppress(
    ctx: &Ctx,
    id: &str,
    patch: &AlertPatch,
    request: &SuppressRequest,
) -> Result<Response, ApiError> {
    let alert = load(id, ctx).await?;
    let new = request.for_alert(&alert, ctx.now)?;
    let (org, cutoff) = (&ctx.tenant.org_id, ctx.tenant.cutoff(ctx.now));
    let sid = suppress::new_id();
    let by = ctx.tenant.actor();
    let mut detail = patch.audit_detail();
    detail["suppression"] = serde_json::Value::String(sid.clone());
    let rows = ctx
        .shard()?
        .batch(&[
            suppress::insert_statement(&org.0, &sid, &new, &by, ctx.now),
            patch.update_sql_with_suppression(org, id, ctx.now, cutoff, &sid, &by),
            ctx.audit(Change::new("alert.mark_safe", Some(id), detail)),
            suppress::get_statement(&org.0, &sid, cutoff),
        ])
        .await?;
    let suppression = suppressions::row_of(rows.get(3))?.ok_or_else(suppress::limit_error)?;
    ctx.seal_audit().await;
    let mut data = load(id, ctx).await?.to_api();
    data["action"] = patch.action().into();
    data["suppression"] = suppression.to_api(ctx.now);
    Ok(ctx.json(
        200,
        &single_envelope(data, meta(&ctx.tenant, ctx.now, None)),
    ))
}
