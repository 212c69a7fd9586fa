//! `GET /events` and `GET /events/:id`: org-scoped, retention-bounded, redacted on Free.

use crate::pipeline::Ctx;
use edgesoc_core::ids::EventId;
use edgesoc_core::query::{EventQuery, EVENTS_MAX_LIMIT};
use edgesoc_core::view::{list_envelope, meta, redacts, single_envelope};
use edgesoc_core::ApiError;
use worker::{Request, Response};

fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let url = req
        .url()
        .map_err(|_| ApiError::invalid("url", "could not parse the request URL"))?;
    Ok(url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let q = EventQuery::parse(&query_pairs(req)?)?;
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let (rows, total) = ctx
        .store
        .list_events(&q, &ctx.tenant.org_id, cutoff)
        .await?;
    let redact = redacts(&ctx.tenant);
    let data = rows.iter().map(|r| r.to_api(redact)).collect();
    let body = list_envelope(
        data,
        total,
        q.limit,
        q.offset,
        meta(&ctx.tenant, ctx.now, Some(EVENTS_MAX_LIMIT)),
    );
    Ok(ctx.json(200, &body))
}

pub async fn get(id: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    // A malformed id is indistinguishable from an unknown one: 404, never a 400 that probes.
    let id =
        EventId::parse(&id.to_ascii_lowercase()).ok_or_else(|| ApiError::not_found("Event"))?;
    let row = ctx
        .store
        .get_event(
            &ctx.tenant.org_id,
            &id.to_string(),
            ctx.tenant.cutoff(ctx.now),
        )
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found("Event"))?;
    let body = single_envelope(
        row.to_api(redacts(&ctx.tenant)),
        meta(&ctx.tenant, ctx.now, None),
    );
    Ok(ctx.json(200, &body))
}
