//! `GET /events`'s statements on real SQLite with every migration applied. Events are stored
//! the way the queue consumer stores them, so the `event_counts` rollup is kept as in
//! production, at and around hour edges (h − 1 ms, h, h + 1 ms); the rollup-based
//! total of windows starting and ending on and around those edges must equal a plain
//! `count(*)` over the same filter. A second organisation's rows sit at the same times, so a
//! statement that leaves the caller's organisation counts them too.

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::api::sql::max_placeholder;
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::testing::{store, SqliteDb};
use serde_json::Map;

/// An exact UTC hour (2026-01-30T08:00:00Z).
const BASE: i64 = 1_769_760_000_000;
const ORG: &str = "org_a";
const OTHER_ORG: &str = "org_b";
/// Names of three severities (medium, info, high) and a custom one (info).
const NAMES: [&str; 4] = [
    "auth.login_failed",
    "auth.logout",
    "admin.user_deleted",
    "custom.thing_happened",
];

fn record(n: &mut u128, org: &str, name: &str, at: i64) -> EventRecord {
    *n += 1;
    EventRecord::assign(
        NewEvent {
            event_name: name.into(),
            actor_id: Some("u1".into()),
            actor_email: None,
            user_ip: None,
            metadata: Map::new(),
        },
        &OrgId(org.into()),
        EventId(uuid::Uuid::from_u128(*n)),
        UnixMs(at),
        None,
    )
}

/// Events of both organisations at h − 1, h, h + 1 and h + 30 min of six hours (the other
/// organisation's twice over, so leaking it changes every total).
fn seeded() -> SqliteDb {
    let db = SqliteDb::migrated();
    let mut n = 0;
    let mut records = Vec::new();
    for hour in 0..6 {
        let h = BASE + hour * HOUR_MS;
        for (i, at) in [h - 1, h, h + 1, h + HOUR_MS / 2].into_iter().enumerate() {
            let name = NAMES[(hour as usize + i) % NAMES.len()];
            records.push(record(&mut n, ORG, name, at));
            for _ in 0..2 {
                records.push(record(&mut n, OTHER_ORG, name, at));
            }
        }
    }
    store(&db, &records);
    assert_eq!(
        db.count("SELECT sum(n) FROM event_counts", &[]),
        db.count("SELECT count(*) FROM events", &[]),
        "the inserts keep the rollup"
    );
    db
}

/// The plain count the total must equal: `org`'s events in `[lower, upper]` with `query`'s
/// event name and severities.
fn plain_count(db: &SqliteDb, org: &str, query: &EventQuery, lower: i64) -> i64 {
    let severities: Vec<&str> = query.severities.iter().map(|s| s.as_str()).collect();
    db.count(
        "SELECT count(*) FROM events WHERE org_id = ?1 AND created_at >= ?2 AND created_at <= ?3 \
         AND (?4 IS NULL OR event_name = ?4) \
         AND (?5 = '[]' OR severity IN (SELECT value FROM json_each(?5)))",
        &[
            SqlParam::Text(org.into()),
            SqlParam::Number(lower as f64),
            SqlParam::Number(query.to.map_or(i64::MAX / 2, |t| t.0) as f64),
            query
                .event_name
                .clone()
                .map_or(SqlParam::Null, SqlParam::Text),
            SqlParam::Text(serde_json::to_string(&severities).unwrap()),
        ],
    )
}

/// The filters the total is checked under: none, a name, severities, both.
fn filters() -> Vec<(Option<String>, Vec<Severity>)> {
    vec![
        (None, vec![]),
        (Some("auth.login_failed".into()), vec![]),
        (None, vec![Severity::Medium, Severity::High]),
        (Some("auth.logout".into()), vec![Severity::Info]),
        (Some("auth.logout".into()), vec![Severity::High]),
    ]
}

#[test]
fn rollup_totals_equal_a_plain_count_at_every_hour_edge() {
    let db = seeded();
    let h = |k: i64| BASE + k * HOUR_MS;
    let starts = [
        h(0) - 1,
        h(0),
        h(1) - 1,
        h(1),
        h(1) + 1,
        h(1) + HOUR_MS / 2,
        h(2) - 1,
    ];
    let ends = |lower: i64| {
        let mut e: Vec<Option<i64>> = vec![None, Some(lower), Some(lower + 1)];
        for k in [1, 2, 4, 5] {
            e.extend([h(k) - 1, h(k), h(k) + 1, h(k) + HOUR_MS / 2].map(Some));
        }
        e.into_iter()
            .filter(|u| u.is_none_or(|u| u >= lower))
            .collect::<Vec<_>>()
    };
    let (mut cases, mut counted, mut from_rollup) = (0, 0, 0);
    for lower in starts {
        for upper in ends(lower) {
            for (event_name, severities) in filters() {
                let query = EventQuery {
                    limit: 50,
                    from: Some(UnixMs(lower)),
                    to: upper.map(UnixMs),
                    event_name,
                    severities,
                    ..EventQuery::default()
                };
                let (_, (sql, params)) = query.page_sql(ORG, UnixMs(0));
                assert!(sql.contains("FROM event_counts"), "{sql}");
                let total = db.count(&sql, &params);
                let want = plain_count(&db, ORG, &query, lower);
                assert_eq!(
                    total,
                    want,
                    "from {lower} ({} ms past the hour) to {upper:?}, {:?} {:?}",
                    lower.rem_euclid(HOUR_MS),
                    query.event_name,
                    query.severities
                );
                let w = HourWindow::new(UnixMs(lower), upper.map(UnixMs));
                from_rollup += usize::from(w.end_hour > w.first_hour && want > 0);
                counted += usize::from(want > 0);
                cases += 1;
            }
        }
    }
    assert!(
        cases > 300 && counted > 200 && from_rollup > 100,
        "{cases} {counted} {from_rollup}"
    );
}

#[test]
fn the_retention_cutoff_on_an_hour_edge_bounds_the_total_like_from() {
    let db = seeded();
    let h1 = BASE + HOUR_MS;
    for cutoff in [h1 - 1, h1, h1 + 1] {
        for from in [None, Some(BASE), Some(cutoff)] {
            for to in [None, Some(h1 + 2 * HOUR_MS), Some(h1 + 2 * HOUR_MS - 1)] {
                let query = EventQuery {
                    limit: 50,
                    from: from.map(UnixMs),
                    to: to.map(UnixMs),
                    ..EventQuery::default()
                };
                let (_, (sql, params)) = query.page_sql(ORG, UnixMs(cutoff));
                assert_eq!(
                    db.count(&sql, &params),
                    plain_count(&db, ORG, &query, cutoff),
                    "cutoff {cutoff}, from {from:?}, to {to:?}"
                );
            }
        }
    }
}

#[test]
fn every_total_and_page_binds_the_callers_organisation_and_counts_only_its_rows() {
    let db = seeded();
    let mine = |org: &str| {
        db.count(
            "SELECT count(*) FROM events WHERE org_id = ?1",
            &[SqlParam::Text(org.into())],
        )
    };
    assert_eq!((mine(ORG), mine(OTHER_ORG)), (24, 48));
    for (event_name, severities) in filters() {
        for actor_id in [None, Some("u1".to_string())] {
            let query = EventQuery {
                limit: 200,
                event_name: event_name.clone(),
                severities: severities.clone(),
                actor_id,
                ..EventQuery::default()
            };
            let ((page, page_params), (total, total_params)) = query.page_sql(ORG, UnixMs(0));
            for (sql, params) in [(&page, &page_params), (&total, &total_params)] {
                assert_eq!(params[0], SqlParam::Text(ORG.into()), "{sql}");
                assert_eq!(max_placeholder(sql), params.len(), "{sql}");
                // Every read of a table in the statement is scoped by `org_id = ?1`.
                let reads =
                    sql.matches(" FROM events").count() + sql.matches(" FROM event_counts").count();
                assert_eq!(sql.matches("WHERE org_id = ?1 AND").count(), reads, "{sql}");
            }
            let rows = db.rows(&page, &page_params);
            assert!(!rows.is_empty() || event_name.as_deref() == Some("auth.logout"));
            assert!(rows.iter().all(|r| r["org_id"] == ORG), "{page}");
            let want = plain_count(&db, ORG, &query, 0);
            assert_eq!(db.count(&total, &total_params), want, "{total}");
            assert_eq!(rows.len() as i64, want, "one page holds them all");
        }
    }
}
