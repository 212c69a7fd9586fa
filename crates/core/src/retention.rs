//! Retention purge planning (docs/api.md §3.4): which rows of which organisation
//! are past `now − retention`, deleted in bounded chunks so one cron run stays within D1's
//! per-invocation query budget and the next run resumes where it stopped.

/// Rows deleted per statement (docs/workers.md §6.2).
pub const DEFAULT_CHUNK_ROWS: u32 = 10_000;
/// DELETE statements per cron run: inside the free plan's 50 queries per invocation, with room
/// for the organisation listing.
pub const DEFAULT_MAX_STATEMENTS: u32 = 40;

/// A table purged by retention: its time column and the key a chunked DELETE selects by
/// (`rowid`, or the primary key columns of a `WITHOUT ROWID` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeTarget {
    pub table: &'static str,
    pub time_column: &'static str,
    pub key: &'static str,
}

/// Everything that holds tenant data with a time: events, dashboard log items, alerts and their
/// trigger records, incidents, the alert delivery log, and suppressions that ended (expired or
/// deleted; `ended_at` is NULL for one that has not, so it stays). Each has an index starting
/// `(org_id, <time>)` or a primary key starting with `org_id`. An organisation's detection
/// settings are one row with no time and are kept.
pub const PURGE_TARGETS: [PurgeTarget; 8] = [
    PurgeTarget {
        table: "events",
        time_column: "created_at",
        key: "rowid",
    },
    PurgeTarget {
        table: "logs",
        time_column: "ts",
        key: "rowid",
    },
    PurgeTarget {
        table: "alerts",
        time_column: "created_at",
        key: "rowid",
    },
    PurgeTarget {
        table: "alert_triggers",
        time_column: "created_at",
        key: "org_id, alert_type, dedup_key, event_id",
    },
    PurgeTarget {
        table: "incidents",
        time_column: "at",
        key: "id",
    },
    PurgeTarget {
        table: "deliveries",
        time_column: "created_at",
        key: "id",
    },
    PurgeTarget {
        table: "delivery_attempts",
        time_column: "at",
        key: "delivery_id, attempt",
    },
    PurgeTarget {
        table: "suppressions",
        time_column: "ended_at",
        key: "id",
    },
];

/// One chunked DELETE: binds `?1` = org id, `?2` = cutoff (ms). It removes at most `chunk`
/// rows, oldest first.
pub fn purge_chunk_sql(t: &PurgeTarget, chunk: u32) -> String {
    let PurgeTarget {
        table,
        time_column: time,
        key,
    } = t;
    format!(
        "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE org_id = ?1 AND {time} < ?2 \
         ORDER BY {time} LIMIT {chunk})"
    )
}

/// What one run did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub organisations: u32,
    pub rows_deleted: u64,
    pub statements: u32,
    /// True when the statement budget ran out before every table was clean.
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
    fn only_a_full_chunk_means_more() {
        assert!(more_to_delete(10, 10));
        assert!(!more_to_delete(9, 10));
        assert!(!more_to_delete(0, 10));
    }
}
