//! Split requests: a two-phase commit for a `/collect` request whose messages do not fit one
//! `sendBatch` (`message::fits_one_send`, at most a 1 MiB body of large events).
//!
//! Each `sendBatch` is accepted or refused whole, but a request spread over several can have
//! its first sends accepted and a later one refused. It is then answered `500`, and the SDKs
//! resend the whole batch (docs/api.md §9.11, no idempotency key): without this, the events
//! already sent would be stored twice. So a split request's messages carry a `hold` token (the
//! first event's id) and the consumer stores them only once the request has *committed*: after
//! its last send, the request writes the token to `held_commits` (D1) and only then answers
//! `202`. A request that cannot commit refunds all its events and answers `500`; the consumer
//! waits for a commit that never comes, then drops the messages.
//!
//! The timings keep a wide margin between the two sides: a request commits only within
//! [`COMMIT_WITHIN_MS`] of its round's start, and the consumer gives up on a message only when
//! it is [`DROP_AFTER_MS`] old, re-examining it every [`RETRY_DELAY_SECONDS`] until then (four
//! waits, within the queue's five retries).

use crate::access::ids::OrgId;
use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;

/// A split request that has not committed this long after its round started answers `500`.
pub const COMMIT_WITHIN_MS: i64 = 5_000;
/// How long the consumer puts back a message whose request has not committed (yet).
pub const RETRY_DELAY_SECONDS: u32 = 5;
/// Age at which the consumer drops a message whose request never committed.
pub const DROP_AFTER_MS: i64 = 20_000;
/// Commit records older than this are purged: every message they vouch for is long stored.
pub const KEEP_COMMITS_MS: i64 = 24 * 3_600_000;

// Checked when compiling: a commit lands within COMMIT_WITHIN_MS plus one D1 write, and the
// consumer waits far longer; the waits before a drop fit the queue's retries (wrangler.toml
// max_retries = 5).
const _: () = assert!(DROP_AFTER_MS >= COMMIT_WITHIN_MS * 4);
const _: () = assert!(DROP_AFTER_MS / (RETRY_DELAY_SECONDS as i64 * 1000) < 5);

/// What the consumer does with a held message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The request committed: store the events.
    Store,
    /// Not committed yet: deliver the message again after [`RETRY_DELAY_SECONDS`].
    Wait,
    /// Never committed (its request answered `500`, or never answered): drop the message.
    Drop,
}

/// The verdict for a held message of `age_ms` (since it was sent).
pub fn verdict(committed: bool, age_ms: i64) -> Verdict {
    if committed {
        Verdict::Store
    } else if age_ms >= DROP_AFTER_MS {
        Verdict::Drop
    } else {
        Verdict::Wait
    }
}

/// Whether a split request whose round started at `started` may still commit at `now`.
pub fn may_commit(started: UnixMs, now: UnixMs) -> bool {
    now.0 - started.0 < COMMIT_WITHIN_MS
}

/// The claims of a round that must commit now, given for each claim whether it is held, its
/// events sent in this round and how many of them went unsent. A held claim partly sent is not
/// among them: its sent part will never commit, so all its events are counted unsent here.
pub fn due_commits(held: &[bool], totals: &[usize], unsent: &mut [usize]) -> Vec<usize> {
    let mut due = Vec::new();
    for i in (0..held.len()).filter(|&i| held[i] && totals[i] > 0) {
        if unsent[i] == 0 {
            due.push(i);
        } else {
            unsent[i] = totals[i];
        }
    }
    due
}

/// Records that `hold`'s request sent all its messages. Idempotent.
pub fn commit_statement(hold: &str, org: &OrgId, now: UnixMs) -> Statement {
    (
        "INSERT OR IGNORE INTO held_commits (hold, org_id, committed_at) VALUES (?1, ?2, ?3)"
            .into(),
        vec![
            SqlParam::Text(hold.into()),
            SqlParam::Text(org.0.clone()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Which of `holds` (with their organisations) have committed: rows `{hold, org_id}`. A token
/// counts only for its own organisation.
pub fn committed_statement(holds: &[(&str, &OrgId)]) -> Statement {
    let list: Vec<[&str; 2]> = holds.iter().map(|(h, o)| [*h, o.0.as_str()]).collect();
    (
        "SELECT c.hold, c.org_id FROM held_commits c JOIN json_each(?1) j \
         ON c.hold = j.value ->> 0 AND c.org_id = j.value ->> 1"
            .into(),
        vec![SqlParam::Text(
            serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
        )],
    )
}

/// Deletes commit records older than [`KEEP_COMMITS_MS`] (the daily purge).
pub fn purge_statement(now: UnixMs) -> Statement {
    (
        "DELETE FROM held_commits WHERE committed_at < ?1".into(),
        vec![SqlParam::Number((now.0 - KEEP_COMMITS_MS) as f64)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sql::max_placeholder;

    #[test]
    fn a_held_message_waits_for_its_commit_and_is_dropped_only_long_after_any_commit() {
        assert_eq!(verdict(true, 0), Verdict::Store);
        assert_eq!(verdict(true, DROP_AFTER_MS * 10), Verdict::Store);
        assert_eq!(verdict(false, 0), Verdict::Wait);
        assert_eq!(verdict(false, DROP_AFTER_MS - 1), Verdict::Wait);
        assert_eq!(verdict(false, DROP_AFTER_MS), Verdict::Drop);
    }

    #[test]
    fn a_request_commits_only_within_its_window() {
        let t = UnixMs(1_000_000);
        assert!(may_commit(t, t));
        assert!(may_commit(t, UnixMs(t.0 + COMMIT_WITHIN_MS - 1)));
        assert!(!may_commit(t, UnixMs(t.0 + COMMIT_WITHIN_MS)));
    }

    #[test]
    fn only_fully_sent_held_claims_commit_and_a_partly_sent_one_refunds_everything() {
        // Claims: plain and partly sent; held and fully sent; held and partly sent; held but
        // refused (nothing to send); held and sent nothing at all.
        let held = [false, true, true, true, true];
        let totals = [10, 100, 100, 0, 100];
        let mut unsent = [4, 0, 60, 0, 100];
        assert_eq!(due_commits(&held, &totals, &mut unsent), vec![1]);
        assert_eq!(
            unsent,
            [4, 0, 100, 0, 100],
            "only the partly sent held claim changes"
        );
    }

    #[test]
    fn statements_bind_every_placeholder() {
        let org = OrgId("org_1".into());
        for (sql, params) in [
            commit_statement("h", &org, UnixMs(1)),
            committed_statement(&[("h", &org)]),
            purge_statement(UnixMs(KEEP_COMMITS_MS + 5)),
        ] {
            assert_eq!(max_placeholder(&sql), params.len(), "{sql}");
        }
        let (_, params) = committed_statement(&[("a", &org), ("b", &OrgId("o2".into()))]);
        assert_eq!(
            params,
            vec![SqlParam::Text(r#"[["a","org_1"],["b","o2"]]"#.into())]
        );
        assert_eq!(
            purge_statement(UnixMs(KEEP_COMMITS_MS + 5)).1,
            vec![SqlParam::Number(5.0)]
        );
    }
}
