//! `GET /health`: a bare object with plan, quota usage and a D1 round trip.

use crate::http;
use crate::pipeline::Ctx;
use edgesoc_core::respond::health;
use edgesoc_core::ApiError;
use worker::Response;

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let ping = match ctx.store() {
        Ok(store) => store.ping().await,
        Err(e) => Err(e),
    };
    if let Err(e) = ping {
        let mut body = e.body();
        body["status"] = "error".into();
        return Ok(http::error_with_body(&e, &body, &ctx.headers()));
    }
    let body = health(
        &ctx.tenant,
        ctx.now,
        &ctx.limits.quota,
        env!("CARGO_PKG_VERSION"),
    );
    Ok(ctx.json(200, &body))
}
