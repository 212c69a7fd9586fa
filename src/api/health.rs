//! `GET /health`: a bare object with plan, quota usage and the organisation's incidents, read
//! from D1 (so it is also the D1 round trip).

use crate::api::http;
use crate::api::Ctx;
use edgesoc_core::api::respond::health;
use edgesoc_core::ingest::incidents::{health_statements, health_view};
use edgesoc_core::ApiError;
use worker::Response;

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let read = match ctx.shard() {
        Ok(store) => store
            .batch(&health_statements(&ctx.tenant.org_id, cutoff))
            .await
            .map_err(|e| {
                worker::console_error!("health: D1 unavailable: {e}");
                ApiError::unavailable("D1")
            }),
        Err(e) => Err(e),
    };
    let rows = match read {
        Ok(rows) => rows,
        Err(e) => {
            let mut body = e.body();
            body["status"] = "error".into();
            return Ok(http::error_with_body(&e, &body, &ctx.headers()));
        }
    };
    let (totals, recent) = match rows.as_slice() {
        [totals, recent] => (totals.as_slice(), recent.as_slice()),
        _ => (&[][..], &[][..]),
    };
    let body = health(
        &ctx.tenant,
        ctx.now,
        ctx.quota().ok_or_else(ApiError::internal)?,
        env!("CARGO_PKG_VERSION"),
        health_view(totals, recent),
    );
    Ok(ctx.json(200, &body))
}
