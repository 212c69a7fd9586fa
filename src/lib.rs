//! edgesoc Worker: the thin adapter between the Workers runtime and `edgesoc-core`.
//! Entry points live here; each binding has its own module.

mod access;
mod alerts;
mod analytics;
mod api;
mod d1;
mod detect;
mod faults;
mod ingest;
mod intel;
mod limits;
mod logs;
mod meter;
mod queue;
mod retention;
mod vars;

pub use limits::OrgLimiter;

use api::incoming::Incoming;
use edgesoc_core::ingest::agents::SWEEP_CRON;
use edgesoc_core::intel::refresh::REFRESH_CRON;
use edgesoc_core::time::UnixMs;
use wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, MessageBatch, Result, ScheduleContext, ScheduledEvent};

fn now() -> UnixMs {
    UnixMs(js_sys::Date::now() as i64)
}

// Each entry point runs inside `meter::run`, which logs its D1 statements and rows when
// `EDGESOC_D1_METER` is "1" (the route: method and path, queue name, or cron expression).

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let req = Incoming::new(req);
    let route = meter::enabled(&env).then(|| format!("{} {}", req.method, req.path));
    let resp = meter::run("fetch", route, api::handle(req, env, ctx, now())).await;
    Ok(resp.into())
}

#[event(queue)]
async fn queue(batch: MessageBatch<JsValue>, env: Env, _ctx: Context) -> Result<()> {
    let route = meter::enabled(&env).then(|| batch.queue());
    meter::run("queue", route, async {
        // Two queues: events to store (`edgesoc-detect`) and alert deliveries (`edgesoc-deliver`).
        if batch.queue().ends_with("-deliver") {
            alerts::deliver::consume(batch, &env).await;
        } else {
            ingest::consume::consume(batch, &env).await;
        }
    })
    .await;
    Ok(())
}

/// Cron triggers: the agent sweep every five minutes (`SWEEP_CRON`), the hourly network-list
/// refresh (`REFRESH_CRON`, which also queues alert deliveries whose message never went out,
/// catches the dashboard rollups up and drains the audit outbox) and, on every other schedule, the daily retention purge. Both use the trigger's scheduled time as "now", so
/// tests control time.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = UnixMs(event.schedule() as i64);
    let route = meter::enabled(&env).then(|| event.cron());
    meter::run("scheduled", route, async {
        if event.cron() == SWEEP_CRON {
            ingest::agents::sweep(&env, now).await;
        } else if event.cron() == REFRESH_CRON {
            refresh_lists(&env, now).await;
            alerts::deliver::sweep(&env, now).await;
            logs::catch_up_rollups(&env, now).await;
            access::audit::drain_all(&env).await;
        } else {
            purge(&env, now).await;
        }
    })
    .await;
}

async fn purge(env: &Env, now: UnixMs) {
    match retention::run(env, now).await {
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
    match intel::lists::refresh(env, now).await {
        Ok(outcomes) if outcomes.is_empty() => {
            worker::console_log!("network lists: refresh disabled (NETWORK_LIST_SOURCES is {{}})")
        }
        Ok(outcomes) => {
            for o in outcomes {
                match o.result {
                    Ok(intel::lists::Stored::Replaced(n)) => {
                        worker::console_log!("network lists: {} stored, {n} entries", o.list)
                    }
                    Ok(intel::lists::Stored::Unchanged(n)) => {
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
