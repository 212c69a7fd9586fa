//! Alert delivery in the Worker: the delivery queue's consumer, over the core's flow
//! (`edgesoc_core::alerts::delivery::deliver`), with outbound HTTP through `fetch` (bounded by a
//! timeout, redirects not followed) and email through the `send_email` binding `EMAIL`; and the
//! hourly sweep that queues deliveries whose message never went out or was lost.

use crate::d1::{self, Primary, Shard};
use crate::queue::{OutQueue, Received};
use crate::vars;
use edgesoc_core::alerts::delivery::deliver::{
    deliver_batch, enqueue_pending, DeliverEnv, Settings, DEFAULT_TIMEOUT_MS, PAGERDUTY_EVENTS_URL,
};
use edgesoc_core::alerts::delivery::destination::Allowed;
use edgesoc_core::alerts::delivery::format::HttpRequest;
use edgesoc_core::alerts::delivery::ledger;
use edgesoc_core::alerts::delivery::policy::{Answer, Policy};
use edgesoc_core::ingest::consume::Delivered;
use edgesoc_core::runtime::{Http, Mailer};
use edgesoc_core::time::UnixMs;
use futures_util::future::{select, Either};
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

/// The binding of the delivery queue's producer.
pub const QUEUE: &str = "DELIVERY_QUEUE";

fn now() -> UnixMs {
    UnixMs(js_sys::Date::now() as i64)
}

/// The deployment's delivery settings, from its vars (docs/api.md §11.5).
pub fn settings(env: &Env) -> Settings {
    let flag = |name: &str| {
        env.var(name)
            .map(|v| matches!(v.to_string().trim(), "1" | "true" | "yes"))
            .unwrap_or(false)
    };
    let text = |name: &str| {
        env.var(name)
            .map(|v| v.to_string().trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
    };
    let defaults = Policy::default();
    Settings {
        policy: Policy {
            base_seconds: vars::positive_u32(
                env,
                "DELIVERY_BACKOFF_SECONDS",
                defaults.base_seconds,
            ),
            max_attempts: vars::positive_u32(env, "DELIVERY_MAX_ATTEMPTS", defaults.max_attempts),
            ..defaults
        },
        timeout_ms: vars::positive_u32(env, "DELIVERY_TIMEOUT_MS", DEFAULT_TIMEOUT_MS),
        allowed: Allowed {
            http_loopback: flag("DELIVERY_ALLOW_HTTP_LOOPBACK"),
            email: mailer(env).is_some() && text("EMAIL_FROM").is_some(),
        },
        pagerduty_url: text("PAGERDUTY_EVENTS_URL").unwrap_or_else(|| PAGERDUTY_EVENTS_URL.into()),
        public_url: text("PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:8787".into()),
        email_from: text("EMAIL_FROM"),
    }
}

/// Outbound HTTP through the runtime's `fetch`.
pub struct Fetcher;

impl Http for Fetcher {
    async fn post(&self, request: &HttpRequest, timeout_ms: u32) -> (Answer, u32) {
        let started = js_sys::Date::now();
        let controller = AbortController::default();
        let signal = controller.signal();
        let work = async {
            let headers = Headers::new();
            for (k, v) in &request.headers {
                headers.set(k, v).map_err(|e| e.to_string())?;
            }
            let _ = headers.set("user-agent", "edgesoc-alerts");
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_headers(headers)
                .with_redirect(RequestRedirect::Manual)
                .with_body(Some(JsValue::from_str(&request.body)));
            let req = Request::new_with_init(&request.url, &init).map_err(|e| e.to_string())?;
            let resp = Fetch::Request(req)
                .send_with_signal(&signal)
                .await
                .map_err(|e| e.to_string())?;
            let retry_after = resp.headers().get("retry-after").ok().flatten();
            Ok::<_, String>((resp.status_code(), retry_after))
        };
        let timer = Delay::from(Duration::from_millis(timeout_ms.into()));
        let answer = match select(pin!(work), pin!(timer)).await {
            Either::Left((Ok((status, retry_after)), _)) => Answer::Status {
                status,
                retry_after,
            },
            Either::Left((Err(e), _)) => Answer::Failed(e),
            Either::Right(_) => {
                controller.abort();
                Answer::Timeout
            }
        };
        (answer, (js_sys::Date::now() - started).max(0.0) as u32)
    }
}

/// Email through the `send_email` binding.
pub struct EmailBinding(worker::SendEmail);

/// The `send_email` binding `EMAIL`, when the deployment configured one.
pub fn mailer(env: &Env) -> Option<EmailBinding> {
    let bound = js_sys::Reflect::get(env, &JsValue::from_str("EMAIL")).ok()?;
    if !bound.is_object() {
        return None;
    }
    env.send_email("EMAIL").ok().map(EmailBinding)
}

impl Mailer for EmailBinding {
    async fn send(&self, from: &str, to: &str, raw: &str) -> Result<(), String> {
        let message = worker::EmailMessage::new(from, to, raw).map_err(|e| format!("{e:?}"))?;
        self.0
            .send(&message)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }
}

/// The delivery queue's consumer: one attempt per message, on the shard of the delivery's
/// organisation (`crate::d1::route`).
pub async fn consume(batch: worker::MessageBatch<JsValue>, env: &Env) {
    let received = Received::new(batch, now());
    let groups = match Primary::open(env) {
        Ok(primary) => d1::route(env, &primary, &received.messages, ledger::message_org).await,
        Err(e) => Err(e),
    };
    let groups = match groups {
        Ok(groups) => groups,
        Err(e) => return received.retry_all(&format!("delivery queue: {e}")),
    };
    let settings = settings(env);
    let mailer = mailer(env);
    let flow = async |shard: &Shard, messages: &[Delivered]| {
        let on = DeliverEnv {
            db: shard,
            http: &Fetcher,
            mailer: mailer.as_ref(),
            settings: &settings,
            now: &now,
        };
        deliver_batch(&on, messages).await
    };
    received
        .answer_by_shard(env, "delivery queue", QUEUE, groups, flow)
        .await;
}

/// The hourly sweep, shard by shard: queues every pending delivery that never reached the queue
/// or whose retry is long overdue, except those of organisations being moved.
pub async fn sweep(env: &Env, at: UnixMs) {
    let paused = match d1::moving_orgs(env).await {
        Ok(paused) => paused,
        Err(e) => return worker::console_error!("alert delivery: sweep: {e}"),
    };
    for name in d1::shards(env) {
        let result = async {
            let store = Shard::named(env, &name).map_err(|e| e.to_string())?;
            let queue = OutQueue::from_env(env, QUEUE, crate::faults::from_env(env))?;
            enqueue_pending(&store, &queue, &[], Some(at), &paused, now()).await
        }
        .await;
        match result {
            Ok(0) => {}
            Ok(n) => worker::console_log!(
                "alert delivery: {n} overdue deliveries of {name} queued again"
            ),
            Err(e) => worker::console_error!("alert delivery: sweep of {name} failed: {e}"),
        }
    }
}

/// Queues the pending deliveries of `org` now (after a PATCH resolved an alert, or a Loki push
/// raised one); a failure is left to the hourly sweep, and logged.
pub async fn enqueue_for(env: &Env, store: &Shard, org: &str) {
    let queue = match OutQueue::from_env(env, QUEUE, crate::faults::from_env(env)) {
        Ok(q) => q,
        Err(e) => return worker::console_error!("alert delivery: {e}"),
    };
    if let Err(e) = enqueue_pending(store, &queue, &[org], None, &[], now()).await {
        worker::console_error!(
            "alert delivery: queueing for {org} failed (the sweep retries): {e}"
        );
    }
}
