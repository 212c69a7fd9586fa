//! `/audit` (docs/api.md §5.11): the organisation's audit log — a page of entries, an export
//! (NDJSON or CSV) and a verification of the hash chain — and the sealing every change's
//! handler runs after its batch. The router requires the admin scope; the chain, the SQL and
//! the checks are the core's (`edgesoc_core::access::audit`).

use crate::api::incoming::query_pairs;
use crate::api::{http, Ctx};
use crate::d1::{Primary, Shard};
use edgesoc_core::access::audit::{
    self, Change, Entry, Operator, Query, EXPORT_MAX, GENESIS, VERIFY_ROUND,
};
use edgesoc_core::access::tenant::Tenant;
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::api::params::aliased;
use edgesoc_core::api::sql::Statement;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde_json::{json, Value};
use worker::{Request, Response};

/// Hashes the organisation's unsealed entries, in order (at most one round; the next call
/// continues).
pub async fn seal(store: &Shard, org: &str) -> Result<(), ApiError> {
    let rows: Vec<Entry> = store.all(audit::unsealed_statement(org)).await?;
    if let Some(update) = audit::seal(org, &rows) {
        store.run(update).await?;
    }
    Ok(())
}

/// Runs `statements`, a change to global tables (keys, members, sessions, the organisation's
/// origins), on the primary and records `change` in the organisation's audit log on its shard
/// if the last of them changed a row, then seals the log; answers the statements' rows. Where
/// the shard is the primary: one batch, the entry guarded by `changes()` as for every other
/// change. Elsewhere: the change with a `changes()` read after it, then the entry; if the shard
/// fails, the change stands and the error is answered. Refused while the organisation moves.
pub async fn global_change(
    (primary, shard): (&Primary, &Shard),
    tenant: &Tenant,
    who: &Operator,
    mut statements: Vec<Statement>,
    change: &Change,
    now: UnixMs,
) -> Result<Vec<Vec<Value>>, ApiError> {
    if tenant.moving {
        // Its audit log is being copied: the entry would be left behind.
        return Err(ApiError::moving());
    }
    let org = &tenant.org_id.0;
    let n = statements.len();
    if shard.name().is_primary() {
        statements.push(audit::append_statement(org, who, change, now));
        let mut rows = primary.batch(&statements).await?;
        rows.truncate(n);
        seal_logged(shard, org).await;
        return Ok(rows);
    }
    statements.push((audit::CHANGED_SQL.into(), Vec::new()));
    let mut rows = primary.batch(&statements).await?;
    let changed = rows
        .pop()
        .and_then(|r| r.first().and_then(|v| v["n"].as_f64()))
        .is_some_and(|n| n > 0.0);
    if changed {
        shard
            .batch(&[audit::append_made_statement(org, who, change, now)])
            .await?;
        seal_logged(shard, org).await;
    }
    Ok(rows)
}

/// [`seal`], a failure logged: the entries are stored, and the next read of the log seals them.
pub async fn seal_logged(shard: &Shard, org: &str) {
    if let Err(e) = seal(shard, org).await {
        worker::console_error!("sealing the audit log: {e:?}");
    }
}

pub async fn list(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let q = Query::parse(&query_pairs(req)?)?;
    let org = &ctx.tenant.org_id.0;
    let store = ctx.shard()?;
    seal(store, org).await?;
    let mut rows: Vec<Entry> = store.all(audit::list_statement(org, &q)).await?;
    let more = rows.len() > q.limit as usize;
    rows.truncate(q.limit as usize);
    let next = more.then(|| rows.last().map(|e| e.seq as i64)).flatten();
    let data: Vec<Value> = rows.iter().map(Entry::to_api).collect();
    let m = meta(&ctx.tenant, ctx.now, None);
    Ok(ctx.json(
        200,
        &json!({"success": true, "data": data, "meta": m, "next_before": next}),
    ))
}

/// Entries oldest first after `after` (a seq; default from the start), at most
/// [`EXPORT_MAX`], as NDJSON (default) or CSV; `X-Next-After` names the next call's `after`.
pub async fn export(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let after = audit::parse_seq("after", aliased(&params, &["after"])?)?.unwrap_or(0);
    let format = aliased(&params, &["format"])?.unwrap_or("ndjson");
    if !["ndjson", "csv"].contains(&format) {
        return Err(ApiError::invalid("format", "must be ndjson or csv"));
    }
    let org = &ctx.tenant.org_id.0;
    let store = ctx.shard()?;
    seal(store, org).await?;
    let mut rows: Vec<Entry> = store
        .all(audit::range_statement(org, after + 1, EXPORT_MAX + 1))
        .await?;
    let more = rows.len() > EXPORT_MAX as usize;
    rows.truncate(EXPORT_MAX as usize);
    let (body, content_type) = if format == "csv" {
        (audit::csv(&rows), "text/csv; charset=utf-8")
    } else {
        let lines: Vec<String> = rows.iter().map(|e| e.to_api().to_string() + "\n").collect();
        (lines.concat(), "application/x-ndjson")
    };
    let mut headers = ctx.headers();
    if let Some(last) = rows.last().filter(|_| more) {
        headers.push(("X-Next-After", (last.seq as i64).to_string()));
    }
    headers.push((
        "Content-Disposition",
        format!("attachment; filename=\"audit-{org}.{format}\""),
    ));
    Ok(http::text(200, content_type, body, &headers))
}

/// Checks the chain from `from` (default 1) over at most [`VERIFY_ROUND`] entries: valid, or
/// the first entry that breaks it and why; `next_from` when more follow.
pub async fn verify(req: &Request, ctx: &Ctx) -> Result<Response, ApiError> {
    let params = query_pairs(req)?;
    let from = audit::parse_seq("from", aliased(&params, &["from"])?)?
        .unwrap_or(1)
        .max(1);
    let org = &ctx.tenant.org_id.0;
    let store = ctx.shard()?;
    seal(store, org).await?;
    let mut rows: Vec<Entry> = store
        .all(audit::range_statement(org, from - 1, VERIFY_ROUND + 2))
        .await?;
    let anchor = if from == 1 {
        GENESIS.to_string()
    } else {
        match rows.first() {
            Some(e) if e.seq as i64 == from - 1 => {
                let h = e.hash.clone().unwrap_or_default();
                rows.remove(0);
                h
            }
            _ => {
                return Err(ApiError::invalid(
                    "from",
                    "no entry precedes it: start at 1",
                ))
            }
        }
    };
    let more = rows.len() > VERIFY_ROUND as usize;
    rows.truncate(VERIFY_ROUND as usize);
    let verdict = audit::verify(from, &anchor, &rows);
    let next = (more && verdict.broken.is_none())
        .then(|| verdict.head.as_ref().map(|(seq, _)| seq + 1))
        .flatten();
    let body = single_envelope(verdict.to_api(next), meta(&ctx.tenant, ctx.now, None));
    Ok(ctx.json(200, &body))
}
