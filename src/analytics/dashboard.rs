//! `GET /ui/mock-data`: the SOC dashboard's data (docs/dashboard.md §1–§3). Parse, one D1
//! batch (one round trip): the rollups caught up with every stored item, then the core's fixed
//! reads; assemble.

use crate::api::incoming::query_pairs;
use crate::api::Ctx;
use edgesoc_core::analytics::dashboard::{assemble, statements, DashboardQuery};
use edgesoc_core::api::envelope::redacts;
use edgesoc_core::logs::rollups;
use edgesoc_core::ApiError;
use worker::{Request, Response};

pub async fn get(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let q = DashboardQuery::parse(&query_pairs(req)?)?;
    let window = q.window(ctx.now, ctx.tenant.cutoff(ctx.now))?;
    let mut batch = rollups::read_catch_up(ctx.now.0);
    let caught_up = batch.len();
    batch.extend(statements(&q, &window, &ctx.tenant.org_id.0));
    let rows = ctx.shard()?.batch(&batch).await.map_err(|e| {
        worker::console_error!("dashboard reads: {e}");
        ApiError::unavailable("Dashboard data")
    })?;
    let rows = rows.into_iter().skip(caught_up).collect();
    let body = assemble(rows, &window, redacts(&ctx.tenant)).map_err(|e| {
        worker::console_error!("{e}");
        ApiError::internal()
    })?;
    Ok(ctx.json(200, &body))
}
