//! edgesoc Worker: the thin adapter between the Workers runtime and `edgesoc-core`.
//! Entry points live here; each binding has its own module.

mod commit;
mod detection;
mod error;
mod faults;
mod handlers;
mod http;
mod incidents;
mod incoming;
mod limiter;
mod lists;
mod openapi;
mod pipeline;
mod purge;
mod queue;
mod store;
mod tenants;

pub use limiter::OrgLimiter;

use edgesoc_core::intel::refresh::REFRESH_CRON;
use edgesoc_core::time::UnixMs;
use incoming::Incoming;
use wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, MessageBatch, Result, ScheduleContext, ScheduledEvent};

fn now() -> UnixMs {
    UnixMs(js_sys::Date::now() as i64)
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let req = Incoming::new(req);
    let resp = if req.method.eq_ignore_ascii_case("OPTIONS") {
        http::preflight()
    } else if openapi::is_spec_path(&req.path) {
        openapi::respond(&req.method)
    } else {
        pipeline::handle(req, env, &ctx, now()).await
    };
    Ok(resp.into())
}

#[event(queue)]
async fn queue(batch: MessageBatch<JsValue>, env: Env, _ctx: Context) -> Result<()> {
    queue::consume(batch, &env).await;
    Ok(())
}

/// Cron triggers: the hourly network-list refresh (`REFRESH_CRON`) and, on every other
/// schedule, the daily retention purge. Both use the trigger's scheduled time as "now", so
/// tests control time.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = UnixMs(event.schedule() as i64);
    if event.cron() == REFRESH_CRON {
        refresh_lists(&env, now).await;
    } else {
        purge(&env, now).await;
    }
}

async fn purge(env: &Env, now: UnixMs) {
    match purge::run(env, now).await {
        Ok(r) => worker::console_log!(
            "retention purge: {} organisations, {} rows deleted in {} statements{}",
            r.organisations,
            r.rows_deleted,
            r.statements,
            if r.incomplete {
                " (budget reached; the next run continues)"
            } else {
                ""
            }
        ),
        Err(e) => worker::console_error!("retention purge failed: {e}"),
    }
}

async fn refresh_lists(env: &Env, now: UnixMs) {
    match lists::refresh(env, now).await {
        Ok(outcomes) if outcomes.is_empty() => {
            worker::console_log!("network lists: refresh disabled (NETWORK_LIST_SOURCES is {{}})")
        }
        Ok(outcomes) => {
            for o in outcomes {
                match o.result {
                    Ok(lists::Stored::Replaced(n)) => {
                        worker::console_log!("network lists: {} stored, {n} entries", o.list)
                    }
                    Ok(lists::Stored::Unchanged(n)) => {
                        worker::console_log!("network lists: {} unchanged, {n} entries", o.list)
                    }
                    Err(e) => worker::console_error!(
                        "network lists: {} kept the list in force: {e}",
                        o.list
                    ),
                }
            }
        }
        Err(e) => worker::console_error!("network lists: refresh failed: {e}"),
    }
}
