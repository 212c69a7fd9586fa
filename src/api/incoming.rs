//! The incoming request as the runtime hands it over. workers-rs's `Request` conversion builds
//! the `cf` object on every request, which costs more CPU than the rest of a `/collect`; this
//! wrapper reads only what a handler asks for, and converts to a `worker::Request` only for
//! the routes that want one.

use edgesoc_core::access::ids::EventId;
use edgesoc_core::ApiError;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::{Request, Url};

/// A request, its method exactly as sent, and its serialized path.
pub struct Incoming {
    raw: web_sys::Request,
    /// The raw method: `worker::Method` reads methods it does not know (e.g. `QUERY`) as GET,
    /// which would route them as reads instead of answering 405.
    pub method: String,
    /// The path as serialized in the URL (percent-encoding kept).
    pub path: String,
}

impl Incoming {
    pub fn new(raw: web_sys::Request) -> Self {
        let path = Url::parse(&raw.url())
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| "/".to_string());
        Incoming {
            method: raw.method(),
            path,
            raw,
        }
    }

    /// A header's value, if present and readable.
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw.headers().get(name).ok().flatten()
    }

    /// The first value of a query parameter, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let url = Url::parse(&self.raw.url()).ok()?;
        let value = url.query_pairs().find(|(k, _)| k == name)?.1;
        Some(value.into_owned())
    }

    /// The runtime's request object (for the body).
    pub fn raw(&self) -> &web_sys::Request {
        &self.raw
    }

    /// The request's `cf` object as JSON (`null` when absent, e.g. for requests made in tests
    /// without one). Read through reflection: the typed accessors panic on missing fields.
    pub fn cf(&self) -> Value {
        js_sys::Reflect::get(&self.raw, &JsValue::from_str("cf"))
            .ok()
            .filter(JsValue::is_object)
            .and_then(|v| serde_wasm_bindgen::from_value(v).ok())
            .unwrap_or(Value::Null)
    }

    /// The workers-rs request, for handlers written against it.
    pub fn into_request(self) -> Request {
        Request::from(self.raw)
    }
}

/// Decoded query-string pairs, in order.
pub fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let url = req
        .url()
        .map_err(|_| ApiError::invalid("url", "could not parse the request URL"))?;
    Ok(url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

/// A path id as a canonical UUID; anything else is indistinguishable from an unknown id (404),
/// so ids cannot be probed.
pub fn path_id(raw: &str, what: &str) -> Result<String, ApiError> {
    EventId::parse(&raw.to_ascii_lowercase())
        .map(|id| id.to_string())
        .ok_or_else(|| ApiError::not_found(what))
}
