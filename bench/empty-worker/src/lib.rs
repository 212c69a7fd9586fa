//! The floor of a Rust/wasm Worker in this runtime (bench/http.mjs, row `empty_rust_worker`):
//! it reads the body and answers `202` like `/collect`, through the same workers-rs and
//! wasm-bindgen glue as edgesoc, and does nothing else.

use worker::worker_sys::web_sys;
use worker::{event, Context, Env, Result};

#[event(fetch)]
async fn fetch(req: web_sys::Request, _env: Env, _ctx: Context) -> Result<web_sys::Response> {
    wasm_bindgen_futures::JsFuture::from(req.array_buffer()?).await?;
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    let init = web_sys::ResponseInit::new();
    init.set_status(202);
    init.set_headers(&headers);
    Ok(web_sys::Response::new_with_opt_str_and_init(
        Some(r#"{"status":"queued"}"#),
        &init,
    )?)
}
