//! `GET /openapi.json`: the hand-written OpenAPI 3.1 document of the API, served without
//! authentication. The document lives in `openapi/openapi.json` and is kept true by
//! `tests/api/openapi.test.mjs` and the schemathesis run (`tests/api/run-schemathesis.sh`).
//!
//! It is a static asset (`scripts/build-dashboard` writes it compact into `public/`): Cloudflare
//! serves `/openapi.json` itself, with the headers of `dashboard/static/_headers`, and the Worker
//! answers the prefixed paths (`/v1/openapi.json`, `/api/v1/openapi.json`) from the `ASSETS`
//! binding. Kept out of the wasm, it costs the bundle nothing (BENCHMARKS.md, "Bundle").

use crate::api::http;
use edgesoc_core::ApiError;
use worker::{Env, Headers, Response};

/// True when `path` (after the API's prefix and slash normalisation) is the spec.
pub fn is_spec_path(path: &str) -> bool {
    edgesoc_core::api::route::normalize_path(path) == "/openapi.json"
}

/// The spec for `GET`/`HEAD`; `405 METHOD_NOT_ALLOWED` for any other method (OPTIONS is
/// answered before this, like on every other path). Takes the raw method string: `worker::Method`
/// reads methods it does not know (e.g. `QUERY`) as `GET`.
pub async fn respond(method: &str, env: &Env) -> Response {
    if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) {
        let err = ApiError::method_not_allowed(method, "/openapi.json", &["GET"]);
        return http::error(&err, &[]);
    }
    match document(env).await {
        Ok(body) => {
            let headers = Headers::new();
            let _ = headers.set("Access-Control-Allow-Origin", "*");
            let _ = headers.set("Content-Type", "application/json; charset=utf-8");
            let _ = headers.set("Cache-Control", "public, max-age=300");
            let _ = headers.set("X-Content-Type-Options", "nosniff");
            Response::builder()
                .with_status(200)
                .with_headers(headers)
                .fixed(body)
        }
        Err(e) => {
            worker::console_error!("openapi.json from the assets: {e}");
            http::error(&ApiError::unavailable("The API description"), &[])
        }
    }
}

/// The document's bytes, from the static assets.
async fn document(env: &Env) -> worker::Result<Vec<u8>> {
    let mut res = env
        .assets("ASSETS")?
        .fetch("https://assets.invalid/openapi.json", None)
        .await?;
    if res.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "status {}",
            res.status_code()
        )));
    }
    res.bytes().await
}
