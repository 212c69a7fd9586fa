//! `POST /loki/api/v1/push` (docs/dashboard.md §7): Loki JSON pushes (optionally gzip) become
//! classified `logs` rows; then the stored `login_failure` lines run brute-force detection with
//! the organisation's detection settings and suppressions (docs/api.md §12).
//! Answers `204` with the plan headers and no body. Never touches the monthly quota.

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use crate::d1::Store;
use edgesoc_core::api::sql::MAX_BOUND_JSON_BYTES;
use edgesoc_core::logs;
use edgesoc_core::logs::detect::{self, FailedLine};
use edgesoc_core::ApiError;
use serde_json::Value;
use worker::{Request, Response};

pub async fn push(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (content_type, content_encoding) = (header("Content-Type"), header("Content-Encoding"));
    let encoding = logs::check_headers(content_type.as_deref(), content_encoding.as_deref())?;
    let raw = read_body_limited(req.inner(), logs::MAX_WIRE_BYTES).await?;
    let body = logs::decode_body(raw, encoding, logs::MAX_BODY_BYTES)?;
    let streams = logs::parse_push(&body)?;
    drop(body);

    let org = &ctx.tenant.org_id;
    let built = logs::build_line_rows(&streams, org, ctx.now, ctx.tenant.cutoff(ctx.now));
    drop(streams);
    if built.dropped_old + built.dropped_future + built.dropped_empty > 0 {
        worker::console_log!(
            "loki push for {}: dropped {} entries before the cutoff, {} too far ahead, {} empty",
            org.0,
            built.dropped_old,
            built.dropped_future,
            built.dropped_empty
        );
    }

    // Every row comes back from the insert (RETURNING), so detection finds the stored failure
    // lines and their ids without another query.
    let statements =
        logs::insert_statements(&built.rows, true, MAX_BOUND_JSON_BYTES).map_err(|e| {
            worker::console_error!("loki rows: {e}");
            ApiError::internal()
        })?;
    // One batch: the whole push is stored, or nothing is (a shipper retry then loses nothing).
    let results = ctx.store()?.batch(&statements).await.map_err(|e| {
        worker::console_error!("loki insert of {} rows: {e}", built.rows.len());
        ApiError::unavailable("Log storage")
    })?;
    let lines: Vec<FailedLine> = results
        .iter()
        .flatten()
        .filter_map(FailedLine::from_returned)
        .collect();

    // The lines are stored: from here on a failure is logged, never answered with an error
    // (a retried push would store its lines twice).
    if !lines.is_empty() {
        crate::meter::detection();
        if let Err(e) = detect_lines(ctx, ctx.store()?, &lines).await {
            worker::console_error!(
                "loki brute-force detection over {} lines failed: {e}",
                lines.len()
            );
        }
    }
    Ok(no_content(ctx))
}

/// Brute force over the stored failure lines (the core's flow: settings and suppressions,
/// history, alert writes with their deliveries planned), then the deliveries queued.
async fn detect_lines(ctx: &Ctx, store: &Store, lines: &[FailedLine]) -> Result<(), String> {
    let org = &ctx.tenant.org_id;
    let dropped = detect::detect_lines(store, org, ctx.tenant.plan, lines, ctx.now).await?;
    if dropped > 0 {
        worker::console_warn!(
            "loki push for {}: {} brute-force alerts (a key in one de-duplication span each) over the per-push write budget were not stored",
            org.0,
            dropped
        );
    }
    if ctx.tenant.plan.is_pro_or_above() {
        crate::alerts::deliver::enqueue_for(ctx.env(), store, &org.0).await;
    }
    Ok(())
}

/// `204` with no body and no content type, carrying the CORS and tenant headers of every
/// other API response.
fn no_content(ctx: &Ctx) -> Response {
    let headers = ctx.json(200, &Value::Null).headers().clone();
    let _ = headers.delete("Content-Type");
    Response::builder()
        .with_status(204)
        .with_headers(headers)
        .empty()
}
