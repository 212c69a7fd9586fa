//! The Worker's side of the limiter protocol (`edgesoc_core::limits::limiter`): one stub per
//! organisation, called with the runtime's own request objects.

use crate::api::error::OrUnavailable;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::faults::Faults;
use edgesoc_core::limits::limiter::{Admission, LimiterReply, LimiterRequest};
use edgesoc_core::runtime;
use edgesoc_core::ApiError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys;
use worker::Env;

/// The Worker side of the protocol: one stub per organisation. Calls go through the runtime's
/// own request objects: workers-rs's `Request`/`Response` conversions (and its streamed body
/// reads) cost more CPU than the limiter's decision.
pub struct LimiterClient {
    stub: worker::worker_sys::DurableObject,
    faults: Faults,
}

impl LimiterClient {
    pub fn for_org(env: &Env, org: &OrgId, faults: Faults) -> std::result::Result<Self, ApiError> {
        let ns = env
            .durable_object("LIMITER")
            .or_internal("LIMITER binding")?;
        let stub = ns.get_by_name(&org.0).or_unavailable("rate limiter")?;
        Ok(LimiterClient {
            stub: stub.into_rpc(),
            faults,
        })
    }

    /// Decides `items` in order in one round trip; one reply per item.
    pub async fn admit(
        &self,
        items: Vec<Admission>,
    ) -> std::result::Result<Vec<LimiterReply>, ApiError> {
        let n = items.len();
        let replies: Vec<LimiterReply> = self.call(&LimiterRequest::Admit { items }).await?;
        if replies.len() != n {
            worker::console_error!("rate limiter answered {} of {n} admissions", replies.len());
            return Err(ApiError::unavailable("rate limiter"));
        }
        Ok(replies)
    }

    /// Gives back `count` events reserved in `month`.
    pub async fn refund(
        &self,
        count: u64,
        month: String,
        monthly_limit: Option<u64>,
    ) -> std::result::Result<LimiterReply, ApiError> {
        self.call(&LimiterRequest::Refund {
            count,
            month,
            monthly_limit,
        })
        .await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        op: &LimiterRequest,
    ) -> std::result::Result<T, ApiError> {
        if crate::faults::strikes(&self.faults, "limiter") {
            return Err(ApiError::unavailable("rate limiter"));
        }
        let body = serde_json::to_string(op).or_internal("limiter request")?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&body));
        let req = web_sys::Request::new_with_str_and_init("https://limiter/", &init)
            .map_err(worker::Error::from)
            .or_internal("limiter request")?;
        let promise = self
            .stub
            .fetch_with_request(&req)
            .map_err(worker::Error::from)
            .or_unavailable("rate limiter")?;
        let resp: web_sys::Response = JsFuture::from(promise)
            .await
            .and_then(|r| r.dyn_into())
            .map_err(worker::Error::from)
            .or_unavailable("rate limiter")?;
        let text = match resp.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        }
        .unwrap_or_default();
        if resp.status() != 200 {
            worker::console_error!("rate limiter answered {}: {text}", resp.status());
            return Err(ApiError::unavailable("rate limiter"));
        }
        serde_json::from_str::<T>(&text).or_unavailable("rate limiter")
    }
}

impl runtime::Limiter for LimiterClient {
    async fn admit(&self, items: Vec<Admission>) -> Result<Vec<LimiterReply>, ApiError> {
        LimiterClient::admit(self, items).await
    }

    async fn refund(&self, count: u64, month: &str) -> Result<(), ApiError> {
        LimiterClient::refund(self, count, month.to_string(), None)
            .await
            .map(|_| ())
    }
}
