//! `GET /openapi.json`: the hand-written OpenAPI 3.1 document of the API, served without
//! authentication. The document lives in `openapi/openapi.json` and is kept true by
//! `tests/api/openapi.test.mjs` and the schemathesis run (`tests/api/run-schemathesis.sh`).

use crate::api::http;
use worker::{Headers, Response};

/// The document, embedded at build time without its indentation (`build.rs`): the same JSON.
const SPEC: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

/// True when `path` (after the API's prefix and slash normalisation) is the spec.
pub fn is_spec_path(path: &str) -> bool {
    edgesoc_core::api::route::normalize_path(path) == "/openapi.json"
}

/// The spec for `GET`/`HEAD`; `405 METHOD_NOT_ALLOWED` for any other method (OPTIONS is
/// answered before this, like on every other path). Takes the raw method string: `worker::Method`
/// reads methods it does not know (e.g. `QUERY`) as `GET`.
pub fn respond(method: &str) -> Response {
    if !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")) {
        let err = edgesoc_core::ApiError::method_not_allowed(method, "/openapi.json", &["GET"]);
        return http::error(&err, &[]);
    }
    let headers = Headers::new();
    let _ = headers.set("Access-Control-Allow-Origin", "*");
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    let _ = headers.set("Cache-Control", "public, max-age=300");
    let _ = headers.set("X-Content-Type-Options", "nosniff");
    Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(SPEC.as_bytes().to_vec())
}
