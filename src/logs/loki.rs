//! Loki-compatible reads under `/loki/api/v1/` (docs/dashboard.md §7.7), so Grafana reads edgesoc
//! as a Loki data source: authenticated as pushes are (HTTP Basic with the key as password, or
//! Bearer), organisation-scoped and bounded by the core (`edgesoc_core::logs::loki`).

use crate::api::http;
use crate::api::incoming::query_pairs;
use crate::api::Ctx;
use edgesoc_core::api::sql::Statement;
use edgesoc_core::logs::loki::query::{
    buildinfo_answer, label_sets_statement, labels_answer, parse_matches, parse_values_query,
    series_answer, values_answer, QueryRequest, Window,
};
use edgesoc_core::ApiError;
use serde_json::Value;
use worker::{Request, Response};

/// The rows of `statement`; none when the core needs nothing read (a constant, or a selector no
/// stream can match).
async fn read(ctx: &Ctx, statement: Option<Statement>) -> Result<Vec<Value>, ApiError> {
    match statement {
        Some(statement) => Ok(ctx.shard()?.all::<Value>(statement).await?),
        None => Ok(Vec::new()),
    }
}

/// `query_range` (`instant: false`) and `query`.
pub async fn query(req: &Request, ctx: &Ctx, instant: bool) -> Result<Response, ApiError> {
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let q = QueryRequest::parse(&query_pairs(req)?, ctx.now, cutoff, instant)?;
    let rows = read(ctx, q.statement(&ctx.tenant.org_id.0)?).await?;
    Ok(ctx.json(200, &q.answer(rows)?))
}

pub async fn labels(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    // Validated as Loki does, though every stream has the same label names.
    Window::parse(&query_pairs(req)?, ctx.now, ctx.tenant.cutoff(ctx.now))?;
    Ok(ctx.json(200, &labels_answer()))
}

pub async fn label_values(req: &Request, name: &str, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let window = Window::parse(&params, ctx.now, ctx.tenant.cutoff(ctx.now))?;
    let selector = parse_values_query(&params)?;
    let statement = label_sets_statement(&ctx.tenant.org_id.0, selector.as_ref(), &window);
    let rows = read(ctx, statement).await?;
    Ok(ctx.json(200, &values_answer(name, rows, selector.as_ref())))
}

pub async fn series(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let window = Window::parse(&params, ctx.now, ctx.tenant.cutoff(ctx.now))?;
    let selectors = parse_matches(&params)?;
    let rows = read(
        ctx,
        label_sets_statement(&ctx.tenant.org_id.0, None, &window),
    )
    .await?;
    Ok(ctx.json(200, &series_answer(rows, &selectors)))
}

pub fn buildinfo(ctx: &Ctx) -> Response {
    ctx.json(200, &buildinfo_answer())
}

/// `/ready`: Loki's readiness probe.
pub fn ready(ctx: &Ctx) -> Response {
    http::text(
        200,
        "text/plain; charset=utf-8",
        "ready\n".into(),
        &ctx.headers(),
    )
}
