//! Response building, CORS, and bounded body reading.

use edgesoc_core::ApiError;
use futures_util::StreamExt;
use serde_json::Value;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::{Headers, Request, Response};

/// Headers a browser client may read (docs/api.md §1.3).
const EXPOSED: &str = "X-LiteSOC-Plan, X-LiteSOC-Retention, X-LiteSOC-Cutoff, X-LiteSOC-Quota-Limit, \
X-LiteSOC-Quota-Used, X-LiteSOC-Quota-Remaining, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, \
X-Next-Cursor, X-Next-After, X-Export-Rows";

fn base_headers() -> Headers {
    let h = Headers::new();
    let _ = h.set("Access-Control-Allow-Origin", "*");
    let _ = h.set("Access-Control-Expose-Headers", EXPOSED);
    let _ = h.set("X-Content-Type-Options", "nosniff");
    h
}

/// A JSON response with CORS headers and the given extra headers.
pub fn json(status: u16, body: &Value, extra: &[(&str, String)]) -> Response {
    let headers = base_headers();
    let _ = headers.set("Content-Type", "application/json; charset=utf-8");
    for (k, v) in extra {
        let _ = headers.set(k, v);
    }
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(bytes)
}

/// A text response (an export: NDJSON, CSV) with CORS headers and the given extra headers.
pub fn text(status: u16, content_type: &str, body: String, extra: &[(&str, String)]) -> Response {
    let headers = base_headers();
    let _ = headers.set("Content-Type", content_type);
    for (k, v) in extra {
        let _ = headers.set(k, v);
    }
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes())
}

/// The contract's error body, with `Retry-After` when the error carries one.
pub fn error(err: &ApiError, extra: &[(&str, String)]) -> Response {
    error_with_body(err, &err.body(), extra)
}

/// An error response whose body extends the contract's (e.g. `/health` adds `"status":"error"`),
/// still with the error's status and `Retry-After`.
pub fn error_with_body(err: &ApiError, body: &Value, extra: &[(&str, String)]) -> Response {
    let mut headers: Vec<(&str, String)> = extra.to_vec();
    headers.extend(err.headers());
    json(err.status(), body, &headers)
}

/// `response` for a browser origin the organisation lists (docs/api.md §2.6): CORS names that
/// origin instead of `*`, and caches vary by it.
pub fn allow_origin(mut response: Response, origin: &str) -> Response {
    let headers = response.headers_mut();
    let _ = headers.set("Access-Control-Allow-Origin", origin);
    let _ = headers.append("Vary", "Origin");
    response
}

/// `204` for a CORS preflight.
pub fn preflight() -> Response {
    let headers = base_headers();
    let _ = headers.set(
        "Access-Control-Allow-Methods",
        "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    );
    let _ = headers.set(
        "Access-Control-Allow-Headers",
        "X-API-Key, Authorization, Content-Type",
    );
    let _ = headers.set("Access-Control-Max-Age", "86400");
    Response::builder()
        .with_status(204)
        .with_headers(headers)
        .empty()
}

/// Reads the body, failing with 413 as soon as it passes `limit` bytes, so an oversize upload
/// is never buffered whole. With a `Content-Length` within the limit (the runtime frames the
/// body by it) the body is read in one call; without one it is streamed and counted.
pub async fn read_body_limited(req: &web_sys::Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = match declared {
        Some(n) if n > limit as u64 => return Err(too_large(limit)),
        Some(_) => {
            let buffer = JsFuture::from(req.array_buffer().map_err(|_| unreadable())?)
                .await
                .map_err(|_| unreadable())?;
            js_sys::Uint8Array::new(&buffer).to_vec()
        }
        // A handle to the same request (not `Request.clone()`, which would tee the body).
        None => read_stream_limited(Request::from(Clone::clone(req)), limit).await?,
    };
    if body.len() > limit {
        return Err(too_large(limit));
    }
    Ok(body)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::payload_too_large(format!("Request body exceeds {limit} bytes"))
}

fn unreadable() -> ApiError {
    ApiError::invalid("body", "could not read the request body")
}

async fn read_stream_limited(mut req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new()); // no body at all
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
