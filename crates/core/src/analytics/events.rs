//! `GET /events`: its query string (docs/api.md §5.2) and the org-scoped SQL it becomes, with
//! exact totals from the hourly rollup. Every statement starts from `org_id = ?1 AND
//! created_at >= cutoff`, so no filter combination can reach another tenant's rows or data
//! past retention.

use crate::api::cursor::{Cursor, CursorKey};
use crate::api::error::ApiError;
use crate::api::params::{aliased, parse_limit, parse_offset, parse_time_bound};
use crate::api::sql::{Filter, SqlParam, Statement};
use crate::ingest::catalogue::Severity;
use crate::time::UnixMs;

/// `/events` page size bounds.
pub const EVENTS_DEFAULT_LIMIT: u32 = 50;
pub const EVENTS_MAX_LIMIT: u32 = 200;

/// A parsed, validated `GET /events` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventQuery {
    pub limit: u32,
    pub offset: u32,
    pub event_name: Option<String>,
    pub actor_id: Option<String>,
    pub severities: Vec<Severity>,
    pub from: Option<UnixMs>,
    pub to: Option<UnixMs>,
    /// Keyset paging: rows strictly after this position (newest-first order); `offset` is
    /// then ignored.
    pub cursor: Option<Cursor>,
}

impl EventQuery {
    /// Parses the query string pairs of `GET /events`; `cursors` opens the `cursor` parameter.
    pub fn parse(params: &[(String, String)], cursors: &CursorKey) -> Result<EventQuery, ApiError> {
        let limit = parse_limit(
            aliased(params, &["limit"])?,
            EVENTS_DEFAULT_LIMIT,
            EVENTS_MAX_LIMIT,
        )?;
        let offset = parse_offset(aliased(params, &["offset"])?)?;
        let event_name =
            aliased(params, &["event_type", "event_name"])?.map(|s| s.trim().to_lowercase());
        let actor_id = aliased(params, &["actor_id"])?.map(str::to_string);
        let severities = match aliased(params, &["severity"])? {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|s| {
                    Severity::parse(s.trim()).ok_or_else(|| {
                        ApiError::invalid("severity", "must be info, low, medium, warning, high or critical (comma list allowed)")
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let from = aliased(params, &["from", "start_date"])?
            .map(|s| parse_time_bound("from", s, false))
            .transpose()?;
        let to = aliased(params, &["to", "end_date"])?
            .map(|s| parse_time_bound("to", s, true))
            .transpose()?;
        let cursor = aliased(params, &["cursor"])?
            .map(|c| cursors.decode(c))
            .transpose()?;
        Ok(EventQuery {
            cursor,
            limit,
            offset,
            event_name,
            actor_id,
            severities,
            from,
            to,
        })
    }

    /// `SELECT … LIMIT/OFFSET` for one page, newest first, and the statement for `total`.
    /// Without an actor filter the total comes from the hourly rollup (`event_counts`,
    /// maintained by triggers) plus exact counts of the partial hours at both edges, so it
    /// costs a few hundred rows instead of every match.
    pub fn page_sql(&self, org: &str, cutoff: UnixMs) -> (Statement, Statement) {
        let lower = self.from.map_or(cutoff, |from| from.max(cutoff));
        let (page, count) = self.filter(org, lower).page(
            self.table(),
            self.limit,
            self.offset,
            self.cursor.as_ref(),
        );
        if self.actor_id.is_some() {
            return (page, count);
        }
        (page, self.rollup_total(org, lower))
    }

    /// `events`, with the index a filtered page and its count must walk. Without `ANALYZE`
    /// statistics SQLite takes `events_org_created`, whose order saves a sort, and walks the
    /// organisation's whole window to find one actor's or one name's rows; these indexes hold
    /// the filter's key before `created_at`, so a page reads about its own rows and a count its
    /// own matches, with or without statistics (crates/core/src/api/list_plans_tests.rs).
    fn table(&self) -> &'static str {
        if self.actor_id.is_some() {
            // The actor's rows (a name, if any, filters them): an actor has few.
            "events INDEXED BY events_org_actor_created"
        } else if self.event_name.as_deref().is_some_and(|n| !is_routine(n)) {
            "events INDEXED BY events_org_name_created"
        } else {
            // A routine name is a large share of the events: newest first, stopping at the page.
            // No key to seek: newest first through `events_org_created`, stopping at the page.
            "events INDEXED BY events_org_created"
        }
    }

    fn rollup_total(&self, org: &str, lower: UnixMs) -> Statement {
        let w = HourWindow::new(lower, self.to);
        let mut params = vec![
            SqlParam::Text(org.into()),
            SqlParam::Number(lower.0 as f64),
            SqlParam::Number(w.head_end as f64),
            SqlParam::Number(w.first_hour as f64),
            SqlParam::Number(w.end_hour as f64),
            SqlParam::Number(w.tail_start as f64),
            SqlParam::Number(w.tail_end as f64),
        ];
        let mut extra = String::new();
        // The partial hours at the edges: one name's rows through its index (see `table`).
        let events = self.table();
        if let Some(name) = &self.event_name {
            params.push(SqlParam::Text(name.clone()));
            extra.push_str(&format!(" AND event_name = ?{}", params.len()));
            if !is_routine(name) {
                extra.push_str(&format!(" AND {NAMED_CONDITION}"));
            }
        }
        if !self.severities.is_empty() {
            let list: Vec<&str> = self.severities.iter().map(|s| s.as_str()).collect();
            params.push(SqlParam::Text(
                serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
            ));
            extra.push_str(&format!(
                " AND severity IN (SELECT value FROM json_each(?{}))",
                params.len()
            ));
        }
        let sql = format!(
            "SELECT (SELECT count(*) FROM {events} WHERE org_id = ?1 AND created_at >= ?2 AND created_at < ?3{extra}) \
             + (SELECT coalesce(sum(n), 0) FROM event_counts WHERE org_id = ?1 AND hour >= ?4 AND hour < ?5{extra}) \
             + (SELECT count(*) FROM {events} WHERE org_id = ?1 AND created_at >= ?6 AND created_at <= ?7{extra}) AS total"
        );
        (sql, params)
    }

    /// `events` with the index the page (and an actor filter's total) reads, named so that the
    /// plan is a range of the filter's key with or without `ANALYZE` statistics: without them
    /// SQLite prefers `events_org_created`, which matches the `ORDER BY` but walks the whole
    /// window for an actor's or a name's rows. An actor is the narrower key when both are given.
    fn filter(&self, org: &str, lower: UnixMs) -> Filter {
        let mut f = Filter::new(org, lower);
        f.le("created_at", self.to);
        f.eq("event_name", self.event_name.as_deref());
        if self.event_name.as_deref().is_some_and(|n| !is_routine(n)) {
            f.condition(NAMED_CONDITION);
        }
        f.eq("actor_id", self.actor_id.as_deref());
        f.any_of(
            "severity",
            &self
                .severities
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
        );
        f
    }
}

/// The routine, high-volume event names that `events_org_name_created` leaves out
/// (migrations/0021_leaner_event_indexes.sql): a list filtered by one of them walks the
/// organisation's events newest first, where they are a large share, and stops at its page.
pub const ROUTINE_NAMES: [&str; 3] = ["auth.login_success", "auth.logout", "auth.token_refreshed"];

/// The condition of `events_org_name_created`, which a query naming the index repeats (SQLite
/// uses a partial index only when the query holds its condition).
pub const NAMED_CONDITION: &str =
    "event_name NOT IN ('auth.login_success', 'auth.logout', 'auth.token_refreshed')";

fn is_routine(name: &str) -> bool {
    ROUTINE_NAMES.contains(&name)
}

const HOUR_MS: i64 = 3_600_000;

/// `[lower, upper]` split into a partial head (`[lower, head_end)`), whole hours
/// (`first_hour..end_hour`, counted from the rollup) and a partial tail
/// (`[tail_start, tail_end]`, empty when `tail_start > tail_end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HourWindow {
    head_end: i64,
    first_hour: i64,
    end_hour: i64,
    tail_start: i64,
    tail_end: i64,
}

impl HourWindow {
    fn new(lower: UnixMs, upper: Option<UnixMs>) -> HourWindow {
        let first_hour = lower.0.div_euclid(HOUR_MS) + i64::from(lower.0.rem_euclid(HOUR_MS) != 0);
        let lower_edge = first_hour * HOUR_MS;
        match upper {
            // No upper bound: every whole hour from the first on, nothing after.
            None => HourWindow {
                head_end: lower_edge,
                first_hour,
                end_hour: i64::MAX / HOUR_MS,
                tail_start: 1,
                tail_end: 0,
            },
            Some(u) => {
                // Hour h is whole when its last millisecond, (h+1)·H − 1, is ≤ upper.
                let end_hour = (u.0 + 1).div_euclid(HOUR_MS).max(first_hour);
                HourWindow {
                    head_end: lower_edge.min(u.0 + 1),
                    first_hour,
                    end_hour,
                    tail_start: (end_hour * HOUR_MS).max(lower_edge),
                    tail_end: u.0,
                }
            }
        }
    }

    /// The same arithmetic over in-memory times: the head, whole hours and tail must count
    /// each time in `[lower, upper]` exactly once (tested against a plain filter).
    #[cfg(test)]
    fn count(&self, lower: i64, times: &[i64]) -> usize {
        let hour = |t: i64| t.div_euclid(HOUR_MS);
        let head = times
            .iter()
            .filter(|&&t| t >= lower && t < self.head_end)
            .count();
        let hours = times
            .iter()
            .filter(|&&t| hour(t) >= self.first_hour && hour(t) < self.end_hour)
            .count();
        let tail = times
            .iter()
            .filter(|&&t| t >= self.tail_start && t <= self.tail_end)
            .count();
        head + hours + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::MAX_OFFSET;
    use crate::api::sql::EVENT_COLUMNS;

    fn key() -> CursorKey {
        CursorKey::new("test-secret", "org_a", "events")
    }

    fn q(pairs: &[(&str, &str)]) -> Result<EventQuery, ApiError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EventQuery::parse(&owned, &key())
    }

    #[test]
    fn limit_is_clamped_and_must_be_an_integer() {
        assert_eq!(q(&[]).unwrap().limit, 50);
        assert_eq!(q(&[("limit", "500")]).unwrap().limit, 200);
        assert_eq!(q(&[("limit", "0")]).unwrap().limit, 1);
        assert_eq!(q(&[("limit", "-5")]).unwrap().limit, 1);
        assert_eq!(
            q(&[("limit", "ten")]).unwrap_err().details[0].field,
            "limit"
        );
        assert_eq!(
            q(&[("offset", "-1")]).unwrap_err().details[0].field,
            "offset"
        );
        // Integers past i64 clamp like any other large value; only non-integers are refused.
        assert_eq!(q(&[("limit", "99999999999999999999")]).unwrap().limit, 200);
        assert_eq!(q(&[("limit", "-99999999999999999999")]).unwrap().limit, 1);
        assert_eq!(
            q(&[("offset", "99999999999999999999")]).unwrap().offset,
            MAX_OFFSET
        );
        assert_eq!(
            q(&[("offset", "-99999999999999999999")])
                .unwrap_err()
                .details[0]
                .field,
            "offset"
        );
        assert!(q(&[("limit", "1e3")]).is_err());
        assert!(q(&[("limit", "12abc")]).is_err());
    }

    #[test]
    fn both_vocabularies_are_accepted_and_must_agree() {
        assert_eq!(
            q(&[("event_name", "auth.logout")])
                .unwrap()
                .event_name
                .as_deref(),
            Some("auth.logout")
        );
        assert_eq!(
            q(&[("event_type", "Auth.Logout")])
                .unwrap()
                .event_name
                .as_deref(),
            Some("auth.logout")
        );
        assert!(q(&[("event_type", "a.b"), ("event_name", "a.b")]).is_ok());
        assert_eq!(
            q(&[("event_type", "a.b"), ("event_name", "c.d")])
                .unwrap_err()
                .status(),
            400
        );
        let b = q(&[("start_date", "2026-01-30"), ("end_date", "2026-01-30")]).unwrap();
        assert_eq!(b.from.unwrap().iso_millis(), "2026-01-30T00:00:00.000Z");
        assert_eq!(b.to.unwrap().iso_millis(), "2026-01-30T23:59:59.999Z");
        assert_eq!(
            q(&[("from", "2026-01-30T09:15:00.123Z")])
                .unwrap()
                .from
                .unwrap()
                .iso_millis(),
            "2026-01-30T09:15:00.123Z"
        );
        assert_eq!(
            q(&[("from", "yesterday")]).unwrap_err().details[0].field,
            "from"
        );
    }

    #[test]
    fn severity_lists_are_validated() {
        assert_eq!(
            q(&[("severity", "high,critical")]).unwrap().severities,
            vec![Severity::High, Severity::Critical]
        );
        assert_eq!(
            q(&[("severity", "urgent")]).unwrap_err().details[0].field,
            "severity"
        );
    }

    #[test]
    fn sql_is_always_org_and_cutoff_scoped() {
        let query = q(&[
            ("actor_id", "u1"),
            ("severity", "low"),
            ("from", "2020-01-01"),
            ("limit", "10"),
            ("offset", "20"),
        ])
        .unwrap();
        let ((page, params), (count, cparams)) = query.page_sql("org_a", UnixMs(1_000));
        assert!(page.starts_with(&format!("SELECT {EVENT_COLUMNS} FROM events INDEXED BY events_org_actor_created WHERE org_id = ?1 AND created_at >= ?2 AND actor_id = ?3 AND severity IN")));
        assert!(
            page.ends_with("ORDER BY created_at DESC, id DESC LIMIT 11 OFFSET 20"),
            "one extra row probes for more"
        );
        assert!(count.contains("org_id = ?1"));
        assert_eq!(params, cparams);
        assert_eq!(params[0], SqlParam::Text("org_a".into()));
        // `from` before the cutoff is raised to the cutoff (2020 < 1970+1s is false, so from wins here).
        assert_eq!(params[1], SqlParam::Number(1_577_836_800_000.0));
        let early = q(&[("from", "1970-01-01")])
            .unwrap()
            .page_sql("o", UnixMs(5_000))
            .0
             .1;
        assert_eq!(
            early[1],
            SqlParam::Number(5_000.0),
            "the effective lower bound is max(from, cutoff)"
        );
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let c = Cursor {
            created_at: UnixMs(1_769_764_500_123),
            id: "6ba7b810-9dad-41d1-80b4-00c04fd430c8".into(),
        };
        let sealed = key().encode(&c);
        assert_eq!(key().decode(&sealed).unwrap(), c);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (position, tag) = sealed.split_once('.').unwrap();
        // A hand-made cursor for a real position of the caller's (the old, unsealed form).
        let hand_made = b64.encode(format!("{}:{}", c.created_at.0, c.id));
        let edited = format!(
            "{}.{tag}",
            b64.encode(format!("{}:{}", c.created_at.0 + 1, c.id))
        );
        let mut flipped_tag = b64.decode(tag).unwrap();
        flipped_tag[0] ^= 1;
        let flipped = format!("{position}.{}", b64.encode(flipped_tag));
        let short = format!("{position}.{}", &tag[..8]);
        let other_org = CursorKey::new("test-secret", "org_b", "events").encode(&c);
        let other_list = CursorKey::new("test-secret", "org_a", "alerts").encode(&c);
        let other_secret = CursorKey::new("another-secret", "org_a", "events").encode(&c);
        for bad in [
            "",
            "!!!",
            "bm9jb2xvbg",
            "MTIzOm5vdC1hLXV1aWQ",
            &hand_made,
            &edited,
            &flipped,
            &short,
            &other_org,
            &other_list,
            &other_secret,
        ] {
            assert_eq!(
                key().decode(bad).unwrap_err().details[0].field,
                "cursor",
                "{bad}"
            );
        }
        let query = q(&[("cursor", &sealed), ("offset", "40"), ("limit", "5")]).unwrap();
        let ((page, params), (count, cparams)) = query.page_sql("o", UnixMs(0));
        assert!(
            page.contains("AND created_at <= ?3 AND (created_at < ?3 OR id < ?4)"),
            "{page}"
        );
        assert!(
            page.ends_with("LIMIT 6 OFFSET 0"),
            "the cursor replaces the offset"
        );
        assert_eq!(params.len(), 4);
        assert!(!count.contains("id <"), "the total ignores the cursor");
        assert!(!cparams.contains(&SqlParam::Text(c.id.clone())));
    }

    #[test]
    fn the_hour_split_counts_every_time_exactly_once() {
        // Deterministic pseudo-random times and windows around hour boundaries.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = 1_769_760_000_000_i64; // an exact hour
        let times: Vec<i64> = (0..2000)
            .map(|_| base + (next() % (30 * HOUR_MS as u64)) as i64)
            .collect();
        let edges = [
            0,
            1,
            HOUR_MS - 1,
            HOUR_MS,
            HOUR_MS + 1,
            5 * HOUR_MS + 123,
            7 * HOUR_MS,
        ];
        let mut cases = 0;
        for &lo in &edges {
            for hi in
                edges
                    .iter()
                    .map(|e| Some(e + 3 * HOUR_MS))
                    .chain([None, Some(lo), Some(lo + 10)])
            {
                for shift in [0, 17 * HOUR_MS / 10] {
                    let lower = base + lo + shift;
                    let upper = hi.map(|h| base + h + shift);
                    let want = times
                        .iter()
                        .filter(|&&t| t >= lower && upper.is_none_or(|u| t <= u))
                        .count();
                    let w = HourWindow::new(UnixMs(lower), upper.map(UnixMs));
                    assert_eq!(
                        w.count(lower, &times),
                        want,
                        "lower {lower} upper {upper:?} {w:?}"
                    );
                    cases += 1;
                }
            }
        }
        assert!(cases > 100);
    }

    #[test]
    fn totals_use_the_rollup_unless_an_actor_is_filtered() {
        let rollup = q(&[("event_type", "auth.login_failed"), ("severity", "medium")])
            .unwrap()
            .page_sql("o", UnixMs(0))
            .1;
        assert!(rollup.0.contains("FROM event_counts"));
        assert!(
            rollup.0.contains("event_name = ?8") && rollup.0.contains("json_each(?9)"),
            "{}",
            rollup.0
        );
        assert_eq!(rollup.1.len(), 9);
        let actor = q(&[("actor_id", "u1")]).unwrap().page_sql("o", UnixMs(0)).1;
        assert!(actor.0.starts_with("SELECT count(*) AS total FROM events"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "events_sql_tests.rs"]
mod sql_tests;
