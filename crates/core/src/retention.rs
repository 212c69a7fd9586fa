//! The retention purge (docs/api.md §3.4): an organisation's rows and rollup buckets before
//! its cutoff's hour, deleted in bounded chunks so one cron run stays within D1's
//! per-invocation query budget and the next run resumes where it stopped.

use crate::access::ids::OrgId;
use crate::api::sql::{SqlParam, Statement};
use crate::runtime::Db;
use crate::time::UnixMs;

/// Rows deleted per statement (docs/workers.md §6.2).
pub const DEFAULT_CHUNK_ROWS: u32 = 10_000;
/// D1 queries per cron run (a purge round's batch is one): inside the free plan's 50 queries
/// per invocation, with room for the organisation listing.
pub const DEFAULT_MAX_STATEMENTS: u32 = 40;

/// How a target's time column places a row in time: a row at an instant, or a rollup bucket
/// that is purged only once it lies wholly before the cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// A time in Unix ms.
    Instant,
    /// The start (Unix ms) of a UTC hour bucket.
    Hour,
    /// The start (Unix ms) of a UTC day bucket.
    Day,
    /// An hour number (Unix ms / 3,600,000), as `event_counts.hour`.
    HourNumber,
}

/// A table purged by retention: its time column, how that column buckets time, and the key a
/// chunked DELETE selects by (`rowid`, or the primary key columns of a `WITHOUT ROWID` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeTarget {
    pub table: &'static str,
    pub time_column: &'static str,
    pub key: &'static str,
    pub span: Span,
    /// A global table (on the primary database whatever the organisation's shard,
    /// `crate::shards`).
    pub global: bool,
}

const fn target(
    table: &'static str,
    time_column: &'static str,
    key: &'static str,
    span: Span,
) -> PurgeTarget {
    PurgeTarget {
        table,
        time_column,
        key,
        span,
        global: false,
    }
}

/// Which of an organisation's tables a purge visits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tables {
    /// Every one: the organisation's shard is the primary database.
    All,
    /// The global ones, on the primary.
    Global,
    /// Its own, on its shard.
    Own,
}

impl Tables {
    fn take(self, t: &PurgeTarget) -> bool {
        match self {
            Tables::All => true,
            Tables::Global => t.global,
            Tables::Own => !t.global,
        }
    }
}

/// Everything that holds tenant data with a time: events, dashboard log items, alerts and their
/// trigger records, incidents, the alert delivery log, suppressions that ended (expired or
/// deleted; `ended_at` is NULL for one that has not, so it stays), dashboard sessions past their
/// expiry, agents silent for longer than retention, and the rollups of events and
/// log items, bucket by bucket. Each has an index or a primary key starting `(org_id, <time>)`.
/// An organisation's detection settings are one row with no time and are kept.
pub const PURGE_TARGETS: [PurgeTarget; 20] = [
    target("events", "created_at", "rowid", Span::Instant),
    target("logs", "ts", "rowid", Span::Instant),
    target("alerts", "created_at", "rowid", Span::Instant),
    target(
        "alert_triggers",
        "created_at",
        "org_id, alert_type, dedup_key, event_id",
        Span::Instant,
    ),
    target("incidents", "at", "id", Span::Instant),
    target("deliveries", "created_at", "id", Span::Instant),
    target(
        "delivery_attempts",
        "at",
        "delivery_id, attempt",
        Span::Instant,
    ),
    target("suppressions", "ended_at", "id", Span::Instant),
    PurgeTarget {
        global: true,
        ..target("sessions", "expires_at", "id_hash", Span::Instant)
    },
    target("agents", "last_seen", "org_id, hostname", Span::Instant),
    target(
        "event_counts",
        "hour",
        "org_id, hour, event_name, severity",
        Span::HourNumber,
    ),
    target(
        "log_hourly",
        "hour",
        "org_id, hour, service, namespace, type",
        Span::Hour,
    ),
    target(
        "log_source_hourly",
        "hour",
        "org_id, hour, service, namespace, source",
        Span::Hour,
    ),
    target(
        "log_source_hours",
        "hour",
        "org_id, hour, source",
        Span::Hour,
    ),
    target(
        "log_source_daily",
        "day",
        "org_id, day, service, namespace, source",
        Span::Day,
    ),
    target(
        "log_attack_hourly",
        "hour",
        "org_id, source_ip, hour, service, namespace",
        Span::Hour,
    ),
    target(
        "log_attack_hours",
        "hour",
        "org_id, source_ip, hour",
        Span::Hour,
    ),
    target(
        "log_attack_daily",
        "day",
        "org_id, day, service, namespace, source_ip",
        Span::Day,
    ),
    // An attacker whose latest hostile item is purged has no item left.
    target(
        "log_attackers",
        "last_ts",
        "org_id, source_ip, service, namespace",
        Span::Instant,
    ),
    target(
        "log_attacker_ips",
        "last_ts",
        "org_id, source_ip",
        Span::Instant,
    ),
];

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What a run purges before: the organisation's cutoff (docs/api.md §3.4) rounded down to its
/// UTC hour, so every hour bucket holds either all of its rows or none and the hourly rollups
/// stay exact without being decremented. Rows between this and the cutoff are already invisible
/// to every read; the next run takes them.
pub fn purge_before(cutoff: UnixMs) -> UnixMs {
    UnixMs(cutoff.0.div_euclid(HOUR_MS) * HOUR_MS)
}

impl PurgeTarget {
    /// The value `?2` of [`purge_chunk_sql`] for rows purged before `before` (an hour start, see
    /// [`purge_before`]): a row goes when its time is before it, a bucket when all of it is. A
    /// day bucket straddling `before` stays, counting a few purged rows: the dashboard reads day
    /// buckets only as upper bounds (crates/core/src/analytics/dashboard/sql.rs, `cuts`).
    pub fn bound(&self, before: UnixMs) -> i64 {
        match self.span {
            Span::Instant => before.0,
            Span::Hour => before.0 - HOUR_MS + 1,
            Span::Day => before.0 - DAY_MS + 1,
            Span::HourNumber => before.0.div_euclid(HOUR_MS),
        }
    }
}

/// One chunked DELETE: binds `?1` = org id, `?2` = [`PurgeTarget::bound`]. It removes at most
/// `chunk` rows, oldest first.
pub fn purge_chunk_sql(t: &PurgeTarget, chunk: u32) -> String {
    let PurgeTarget {
        table,
        time_column: time,
        key,
        ..
    } = t;
    format!(
        "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE org_id = ?1 AND {time} < ?2 \
         ORDER BY {time} LIMIT {chunk})"
    )
}

/// What purging one organisation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgPurge {
    pub rows_deleted: u64,
    /// D1 batches run: one per round, each a chunked DELETE of every table not yet clean.
    pub rounds: u32,
    /// False when `max_rounds` ran out before every table was clean.
    pub complete: bool,
}

/// Purges `org`'s rows and rollup buckets before `purge_before(cutoff)`, in rounds: each one
/// D1 batch (one transaction, one query of the invocation's budget) with a chunked DELETE for
/// every table that may hold more, at most `max_rounds` of them.
pub async fn purge_org<D: Db>(
    db: &D,
    org: &OrgId,
    cutoff: UnixMs,
    chunk: u32,
    max_rounds: u32,
) -> Result<OrgPurge, D::Error> {
    purge_tables(db, org, cutoff, chunk, max_rounds, Tables::All).await
}

/// [`purge_org`] over `tables` only: the global ones on the primary, the organisation's own
/// on its shard, when they are two databases.
pub async fn purge_tables<D: Db>(
    db: &D,
    org: &OrgId,
    cutoff: UnixMs,
    chunk: u32,
    max_rounds: u32,
    tables: Tables,
) -> Result<OrgPurge, D::Error> {
    let before = purge_before(cutoff);
    let mut pending: Vec<&PurgeTarget> = PURGE_TARGETS.iter().filter(|t| tables.take(t)).collect();
    let mut done = OrgPurge::default();
    while !pending.is_empty() {
        if done.rounds >= max_rounds {
            return Ok(done);
        }
        let statements: Vec<Statement> = pending
            .iter()
            .map(|t| {
                let params = vec![
                    SqlParam::Text(org.0.clone()),
                    SqlParam::Number(t.bound(before) as f64),
                ];
                (purge_chunk_sql(t, chunk), params)
            })
            .collect();
        let changed = db.changes(&statements).await?;
        done.rounds += 1;
        done.rows_deleted += changed.iter().sum::<u64>();
        pending = pending
            .into_iter()
            .zip(changed)
            .filter(|(_, n)| more_to_delete(*n, chunk))
            .map(|(t, _)| t)
            .collect();
    }
    done.complete = true;
    Ok(done)
}

/// What one run did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub organisations: u32,
    pub rows_deleted: u64,
    /// D1 queries run (a purge round's batch counts once).
    pub statements: u32,
    /// True when the query budget ran out before every table was clean.
    pub incomplete: bool,
}

/// Decides whether to issue another DELETE for the same (org, table) after one deleted
/// `deleted` rows: only a full chunk means more may remain.
pub fn more_to_delete(deleted: u64, chunk: u32) -> bool {
    deleted >= u64::from(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_is_chunked_and_org_scoped() {
        let sql = purge_chunk_sql(&PURGE_TARGETS[0], 500);
        assert!(sql.contains("org_id = ?1 AND created_at < ?2"));
        assert!(sql.ends_with("LIMIT 500)"));
        let logs = purge_chunk_sql(&PURGE_TARGETS[1], 10);
        assert!(logs.contains("FROM logs WHERE org_id = ?1 AND ts < ?2 ORDER BY ts"));
        let triggers = purge_chunk_sql(&PURGE_TARGETS[3], 10);
        assert!(triggers.starts_with(
            "DELETE FROM alert_triggers WHERE (org_id, alert_type, dedup_key, event_id) IN"
        ));
    }

    #[test]
    fn sessions_alone_are_global() {
        let global: Vec<_> = PURGE_TARGETS
            .iter()
            .filter(|t| Tables::Global.take(t))
            .collect();
        assert_eq!(
            global.iter().map(|t| t.table).collect::<Vec<_>>(),
            ["sessions"]
        );
        let own = PURGE_TARGETS.iter().filter(|t| Tables::Own.take(t)).count();
        assert_eq!(own + 1, PURGE_TARGETS.len());
        assert!(PURGE_TARGETS.iter().all(|t| Tables::All.take(t)));
    }

    #[test]
    fn only_a_full_chunk_means_more() {
        assert!(more_to_delete(10, 10));
        assert!(!more_to_delete(9, 10));
        assert!(!more_to_delete(0, 10));
    }
}
