//! `/audit` (docs/api.md §5.11): the organisation's audit log — a page of entries, an export
//! (NDJSON or CSV) and a verification of the hash chain — and the sealing every change's
//! handler runs after its batch. The router requires the admin scope; the chain, the SQL and
//! the checks are the core's (`edgesoc_core::access::audit`).

use crate::api::incoming::query_pairs;
use crate::api::{http, Ctx};
use crate::d1::{Primary, Shard};
use edgesoc_core::access::audit::{
    self, Change, Entry, Operator, Outboxed, Query, EXPORT_MAX, GENESIS, VERIFY_ROUND,
};
use edgesoc_core::access::tenant::Tenant;
use edgesoc_core::api::envelope::{meta, single_envelope};
use edgesoc_core::api::params::aliased;
use edgesoc_core::api::sql::Statement;
use edgesoc_core::shards::{self, ShardName};
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
/// origins), on the primary and records `change` in the organisation's audit log if the last
/// of them changed a row, then seals the log; answers the statements' rows. Where the shard is
/// the primary: one batch, the entry guarded by `changes()` as for every other change.
/// Elsewhere: the entry goes to the primary's outbox in the change's batch, then to the log on
/// the shard ([`drain_outbox`]); if the shard fails, the entry waits in the outbox and the
/// change is answered. Refused while the organisation moves.
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
    let entry = if shard.name().is_primary() {
        audit::append_statement(org, who, change, now)
    } else {
        audit::outbox_statement(org, who, change, now)
    };
    statements.push(entry);
    let mut rows = primary.batch(&statements).await?;
    rows.truncate(n);
    if !shard.name().is_primary() {
        if let Err(e) = drain_outbox(primary, shard, org).await {
            worker::console_error!("audit: the entry waits in the outbox for {org}: {e:?}");
            return Ok(rows);
        }
    }
    seal_logged(shard, org).await;
    Ok(rows)
}

/// Appends the organisation's entries waiting in the primary's outbox to its log on `shard`,
/// then removes them from the outbox (an entry appended twice is skipped).
pub async fn drain_outbox(primary: &Primary, shard: &Shard, org: &str) -> Result<(), ApiError> {
    if shard.name().is_primary() {
        return Ok(());
    }
    let rows: Vec<Value> = primary.all(audit::outbox_waiting_statement(org)).await?;
    let waiting: Vec<Outboxed> = rows.into_iter().filter_map(Outboxed::from_row).collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let appends: Vec<Statement> = waiting.iter().map(audit::from_outbox_statement).collect();
    shard.batch(&appends).await?;
    primary.run(audit::outbox_done_statement(&waiting)).await?;
    Ok(())
}

/// The hourly drain: every organisation's waiting entries appended on its shard (those being
/// moved wait for the move to end).
pub async fn drain_all(env: &worker::Env) {
    let result = async {
        let primary = Primary::open(env)?;
        let rows: Vec<Value> = primary.all(audit::outbox_orgs_statement()).await?;
        let orgs: Vec<&str> = rows.iter().filter_map(|r| r["org_id"].as_str()).collect();
        if orgs.is_empty() {
            return Ok::<(), ApiError>(());
        }
        let registry: Vec<Value> = primary.all(shards::registry_statement(&orgs)).await?;
        for r in &registry {
            let (Some(org), Some(name)) = (
                r["id"].as_str(),
                ShardName::from_column(r["shard"].as_str()),
            ) else {
                continue;
            };
            if shards::is_moving(&registry, org) {
                continue;
            }
            let drained = match Shard::named(env, &name) {
                Ok(shard) => drain_outbox(&primary, &shard, org).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = drained {
                worker::console_error!("audit: draining the outbox of {org}: {e:?}");
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        worker::console_error!("audit: draining the outbox: {e:?}");
    }
}

/// Before the log is read: entries waiting in the outbox appended (not while the organisation
/// moves), then sealed.
async fn settle(ctx: &Ctx) -> Result<&Shard, ApiError> {
    let store = ctx.shard()?;
    if !ctx.tenant.moving {
        if let Err(e) = drain_outbox(ctx.primary()?, store, &ctx.tenant.org_id.0).await {
            worker::console_error!("audit: draining the outbox: {e:?}");
        }
    }
    seal(store, &ctx.tenant.org_id.0).await?;
    Ok(store)
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
    let store = settle(ctx).await?;
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
    let store = settle(ctx).await?;
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
    let store = settle(ctx).await?;
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
