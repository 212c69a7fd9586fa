//! The daily retention purge (cron trigger). Rows past retention are already invisible to every
//! read (queries bound `created_at >= cutoff`); this reclaims the space in bounded chunks.
//! Safe to run twice (DELETE is idempotent) and resumable (a run that hits its statement budget
//! leaves the rest for the next run).

use crate::d1::{Primary, Shard};
use crate::vars;
use edgesoc_core::api::sql::SqlParam;
use edgesoc_core::ingest::hold;
use edgesoc_core::retention::{
    purge_tables, OrgPurge, PurgeReport, Tables, DEFAULT_CHUNK_ROWS, DEFAULT_MAX_STATEMENTS,
};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use worker::Env;

/// Purges every organisation's expired rows as of `now`: its own tables on its shard, and where
/// that is not the primary, its sessions on the primary. An organisation being moved waits.
pub async fn run(env: &Env, now: UnixMs) -> Result<PurgeReport, ApiError> {
    let store = Primary::open(env)?;
    let chunk = vars::positive_u32(env, "PURGE_CHUNK_ROWS", DEFAULT_CHUNK_ROWS);
    let budget = vars::positive_u32(env, "PURGE_MAX_STATEMENTS", DEFAULT_MAX_STATEMENTS);
    let mut report = PurgeReport::default();
    // Split requests' commit records (not per organisation): old ones vouch for messages
    // stored long ago. First, so a run whose budget runs out on organisations still does it.
    report.rows_deleted += store.run(hold::purge_statement(now)).await?;
    report.statements += 1;
    for tenant in crate::access::all_tenants(&store).await? {
        report.organisations += 1;
        let left = budget.saturating_sub(report.statements);
        let org = &tenant.org_id;
        if tenant.moving {
            // Its rows are being copied to another database: purged there after the move.
            report.incomplete = true;
            continue;
        }
        let shard = match Shard::of(env, &tenant) {
            Ok(shard) => shard,
            Err(e) => {
                // One organisation on a database this Worker does not serve: the others go on.
                worker::console_error!("purge of {}: {e}", org.0);
                report.incomplete = true;
                continue;
            }
        };
        let cutoff = tenant.cutoff(now);
        let done = if shard.name().is_primary() {
            purge_tables(&store, org, cutoff, chunk, left, Tables::All).await?
        } else {
            let own = purge_tables(&shard, org, cutoff, chunk, left, Tables::Own).await?;
            let rest = left.saturating_sub(own.rounds);
            let global = purge_tables(&store, org, cutoff, chunk, rest, Tables::Global).await?;
            OrgPurge {
                rows_deleted: own.rows_deleted + global.rows_deleted,
                rounds: own.rounds + global.rounds,
                complete: own.complete && global.complete,
            }
        };
        report.statements += done.rounds;
        report.rows_deleted += done.rows_deleted;
        if !done.complete {
            report.incomplete = true;
            return Ok(report);
        }
        // Fully purged: this organisation goes to the back of the next run's queue.
        let mark = "UPDATE orgs SET purged_at = ?2 WHERE id = ?1";
        let params = vec![
            SqlParam::Text(org.0.clone()),
            SqlParam::Number(now.0 as f64),
        ];
        store.run((mark.to_string(), params)).await?;
    }
    Ok(report)
}
