//! Retention purge planning (api-contract §3 "Retention"): which rows of which organisation
//! are past `now − retention`, deleted in bounded chunks so one cron run stays within D1's
//! per-invocation query budget and the next run resumes where it stopped.

/// Rows deleted per statement (workers-rs-notes §7: about 10,000).
pub const DEFAULT_CHUNK_ROWS: u32 = 10_000;
/// DELETE statements per cron run: inside the free plan's 50 queries per invocation, with room
/// for the organisation listing.
pub const DEFAULT_MAX_STATEMENTS: u32 = 40;

/// Tables purged by retention, each keyed by `(org_id, created_at)`.
pub const PURGED_TABLES: [&str; 1] = ["events"];

/// One chunked DELETE for `table`: binds `?1` = org id, `?2` = cutoff (ms). It removes at most
/// `chunk` rows, oldest first, through the `(org_id, created_at)` index.
pub fn purge_chunk_sql(table: &str, chunk: u32) -> String {
    format!(
        "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE org_id = ?1 AND created_at < ?2 \
         ORDER BY created_at LIMIT {chunk})"
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
        let sql = purge_chunk_sql("events", 500);
        assert!(sql.contains("org_id = ?1 AND created_at < ?2"));
        assert!(sql.ends_with("LIMIT 500)"));
    }

    #[test]
    fn only_a_full_chunk_means_more() {
        assert!(more_to_delete(10, 10));
        assert!(!more_to_delete(9, 10));
        assert!(!more_to_delete(0, 10));
    }
}
