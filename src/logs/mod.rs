//! `POST /loki/api/v1/push` (docs/dashboard.md §7): Loki JSON pushes (optionally gzip) and
//! protobuf pushes (snappy: Promtail, Alloy, Vector) become
//! classified `logs` rows; then the stored `login_failure` lines run brute-force detection and
//! the `login_success` lines naming a user the identity rules, with the organisation's detection
//! settings and suppressions (docs/api.md §12).
//! Answers `204` with the plan headers and no body, or `400` naming the entries left out
//! (the rest stored), as Loki does. `POST /v1/logs` takes OTLP/HTTP logs the same way.
//! Never touches the monthly quota.

pub mod loki;
pub mod read;

use crate::api::http::read_body_limited;
use crate::api::Ctx;
use crate::d1::Shard;
use edgesoc_core::api::sql::MAX_BOUND_JSON_BYTES;
use edgesoc_core::logs;
use edgesoc_core::logs::detect::{self, FailedLine};
use edgesoc_core::logs::logins::LoginLine;
use edgesoc_core::logs::otlp;
use edgesoc_core::logs::rollups;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::Value;
use worker::{Request, Response};

pub async fn push(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (format, body) = read_body(req, logs::check_headers).await?;
    let streams = logs::parse_body(format, &body)?;
    drop(body);
    let rejected = store(ctx, streams).await?;
    if rejected.count > 0 {
        // Loki's answer to a partly refused push: 400 naming what was refused, the rest stored
        // (a shipper does not retry a 400, so nothing is stored twice).
        return Err(ApiError::invalid("streams", rejected.message));
    }
    Ok(no_content(ctx))
}

/// `POST /v1/logs` (docs/dashboard.md §7.6): an OTLP/HTTP logs export, JSON or protobuf,
/// stored like a push; answered `200` with an `ExportLogsServiceResponse` in the request's
/// encoding whose `partial_success` counts the records not stored, or `400` when none was.
pub async fn otlp(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let (format, body) = read_body(req, otlp::check_headers).await?;
    let export = otlp::parse_export(format, &body, ctx.now)?;
    drop(body);
    let rejected = store(ctx, export.streams).await?;
    if rejected.stored == 0 {
        return Err(ApiError::invalid("resourceLogs", rejected.message));
    }
    let content_type = match format {
        logs::Format::Json => "application/json",
        logs::Format::Protobuf => "application/x-protobuf",
    };
    let headers = ctx.json(200, &Value::Null).headers().clone();
    let _ = headers.set("Content-Type", content_type);
    Ok(Response::builder()
        .with_status(200)
        .with_headers(headers)
        .fixed(otlp::response_body(format, &rejected)))
}

/// A route's check of `Content-Type` and `Content-Encoding`: [`logs::check_headers`] (Loki) or
/// [`otlp::check_headers`].
type HeaderCheck =
    fn(Option<&str>, Option<&str>) -> Result<(logs::Format, logs::Encoding), ApiError>;

/// The body's format, by `check` over `Content-Type` and `Content-Encoding` (415), and the body
/// read and decompressed within the push limits (413, or 400 for a body that is not gzip).
async fn read_body(req: &Request, check: HeaderCheck) -> Result<(logs::Format, Vec<u8>), ApiError> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (content_type, content_encoding) = (header("Content-Type"), header("Content-Encoding"));
    let (format, encoding) = check(content_type.as_deref(), content_encoding.as_deref())?;
    let raw = read_body_limited(req.inner(), logs::MAX_WIRE_BYTES).await?;
    Ok((
        format,
        logs::decode_body(raw, encoding, logs::MAX_BODY_BYTES)?,
    ))
}

/// Stores the entries of `streams` that are inside the time bounds as classified `logs` rows
/// in one batch (all or nothing), runs detection over the stored login lines, and says which
/// entries were left out.
async fn store(ctx: &Ctx, streams: Vec<logs::PushStream>) -> Result<logs::Rejected, ApiError> {
    let org = &ctx.tenant.org_id;
    let cutoff = ctx.tenant.cutoff(ctx.now);
    let mut built = logs::build_line_rows(&streams, org, ctx.now, cutoff);
    drop(streams);
    let rejected = built.rejected(cutoff);
    if built.rows.is_empty() {
        return Ok(rejected);
    }
    enrich(ctx, &mut built.rows).await;

    // Every row comes back from the insert (RETURNING), so detection finds the stored failure
    // lines and their ids without another query.
    let mut statements =
        logs::insert_statements(&built.rows, true, MAX_BOUND_JSON_BYTES).map_err(|e| {
            worker::console_error!("log rows: {e}");
            ApiError::internal()
        })?;
    // The dashboard rollups, caught up with the stored items when due (they return no rows).
    statements.extend(rollups::catch_up(ctx.now.0, catch_up_every_ms(ctx.env())));
    // One batch: the whole push is stored, or nothing is (a shipper retry then loses nothing).
    let results = ctx.shard()?.batch(&statements).await.map_err(|e| {
        worker::console_error!("log insert of {} rows: {e}", built.rows.len());
        ApiError::unavailable("Log storage")
    })?;
    let stored: Vec<logs::StoredLine> = results
        .iter()
        .flatten()
        .filter_map(logs::StoredLine::from_returned)
        .collect();
    let failed: Vec<FailedLine> = stored.iter().filter_map(FailedLine::from_stored).collect();
    let logins: Vec<LoginLine> = stored
        .iter()
        .filter_map(|line| LoginLine::from_stored(line, org))
        .collect();
    drop(stored);

    // The lines are stored: from here on a failure is logged, never answered with an error
    // (a retried push would store its lines twice).
    if !failed.is_empty() || !logins.is_empty() {
        crate::meter::detection();
        detect(ctx, ctx.shard()?, &failed, &logins).await;
    }
    Ok(rejected)
}

/// On Pro and above, each line's public address enriched as an event's is (location, network
/// flags, ASN, threat score: `logs::enrich`), in one batch of five reads per push; a failed
/// lookup leaves the lines as they are and never fails the push.
async fn enrich(ctx: &Ctx, rows: &mut [logs::LogRow]) {
    // Free shows no location or network flags (docs/dashboard.md §1): nothing to look up.
    if !ctx.tenant.plan.is_pro_or_above() {
        return;
    }
    let Some(lookups) = logs::enrich::Lookups::of(rows) else {
        return;
    };
    let (Ok(store), Ok(primary)) = (ctx.shard(), ctx.primary()) else {
        return;
    };
    let mut statements = lookups.statements(&ctx.tenant.org_id.0, ctx.now);
    let lists = crate::intel::lists::current(primary).await;
    // The IP tables are the primary's, the threat history the shard's: one batch when they are
    // the same database.
    let answered = if store.name().is_primary() {
        store.batch(&statements).await
    } else {
        let history = statements.split_off(logs::enrich::TABLE_STATEMENTS);
        match primary.batch(&statements).await {
            Ok(mut tables) => store.batch(&history).await.map(|h| {
                tables.extend(h);
                tables
            }),
            Err(e) => Err(e),
        }
    };
    let done = match answered {
        Ok(results) => lookups.apply(rows, results, &lists),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = done {
        worker::console_error!("log address lookup of {} addresses: {e}", lookups.ips.len());
    }
}

/// Detection over the stored login lines: brute force over the failures (the core's flow:
/// settings and suppressions, history, alert writes with their deliveries planned), the identity
/// rules over the successes (`logs::logins`), then the deliveries queued. Logs what fails.
async fn detect(ctx: &Ctx, store: &Shard, failed: &[FailedLine], logins: &[LoginLine]) {
    let (org, plan) = (&ctx.tenant.org_id, ctx.tenant.plan);
    if !failed.is_empty() {
        match detect::detect_lines(store, org, plan, failed, ctx.now).await {
            Ok(0) => {}
            Ok(dropped) => worker::console_warn!(
                "log push for {}: {} brute-force alerts (a key in one de-duplication span each) over the per-push write budget were not stored",
                org.0,
                dropped
            ),
            Err(e) => worker::console_error!(
                "brute-force detection over {} log lines failed: {e}",
                failed.len()
            ),
        }
    }
    if let (false, Ok(primary)) = (logins.is_empty(), ctx.primary()) {
        let lists = crate::intel::lists::current(primary).await;
        match logs::logins::detect_logins(store, plan, logins, &lists, ctx.now).await {
            Ok(0) => {}
            Ok(left) => worker::console_warn!(
                "log push for {}: {} older login lines over the per-push bound were not judged",
                org.0,
                left
            ),
            Err(e) => worker::console_error!(
                "identity detection over {} login lines failed: {e}",
                logins.len()
            ),
        }
    }
    if plan.is_pro_or_above() {
        crate::alerts::deliver::enqueue_for(ctx.env(), store, &org.0).await;
    }
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

/// How often writers catch the dashboard rollups up: `ROLLUP_CATCH_UP_SECONDS` (var; 0 = with
/// every insert batch), by default `CATCH_UP_EVERY_MS`.
pub fn catch_up_every_ms(env: &worker::Env) -> i64 {
    let default = (rollups::CATCH_UP_EVERY_MS / 1000) as u32;
    i64::from(crate::vars::u32_or(env, "ROLLUP_CATCH_UP_SECONDS", default)) * 1000
}

/// The hourly cron's catch-up of the dashboard rollups on every shard, when due: items stored
/// after the last writer's catch-up are counted within the hour even if no one writes or reads
/// the dashboard.
pub async fn catch_up_rollups(env: &worker::Env, now: UnixMs) {
    let statements = rollups::catch_up(now.0, catch_up_every_ms(env));
    for name in crate::d1::shards(env) {
        let done = match Shard::named(env, &name) {
            Ok(store) => store.batch(&statements).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            worker::console_error!("rollup catch-up of {name} failed: {e}");
        }
    }
}
