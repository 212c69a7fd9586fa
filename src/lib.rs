//! edgesoc Worker: the thin adapter between the Workers runtime and `edgesoc-core`.
//! Entry points live here; each binding has its own module.

mod error;
mod handlers;
mod http;
mod limiter;
mod pipeline;
mod queue;
mod store;

pub use limiter::OrgLimiter;

use edgesoc_core::time::UnixMs;
use wasm_bindgen::JsValue;
use worker::{event, Context, Env, MessageBatch, Method, Request, Response, Result};

fn now() -> UnixMs {
    UnixMs(js_sys::Date::now() as i64)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    if req.method() == Method::Options {
        return Ok(http::preflight());
    }
    Ok(pipeline::handle(req, env, now()).await)
}

#[event(queue)]
async fn queue(batch: MessageBatch<JsValue>, env: Env, _ctx: Context) -> Result<()> {
    queue::consume(batch, &env).await;
    Ok(())
}
