//! The rollups caught up from the stored items against the rollups recomputed from them
//! ([`REBUILD_SQL`]), on real SQLite with every migration applied: after batches of raw lines and
//! events whose writers catch up only when due (redelivered ones among them, within a batch and
//! across batches), after rebuilds, and through purges of every shape (mid-hour cutoffs, small
//! chunks, a budget that runs out and a run that resumes).

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::api::sql::SqlParam;
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::logs::classify::{LogLevel, LogType};
use crate::logs::{insert_statements, LogRow};
use crate::retention::{purge_before, purge_org};
use crate::runtime::Db;
use crate::testing::{run, store, SqliteDb};
use crate::time::UnixMs;
use serde_json::{Map, Value};

/// An exact UTC day (2026-01-30T00:00:00Z).
const DAY0: i64 = 1_769_731_200_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const ORGS: [&str; 2] = ["org_a", "org_b"];

/// Every rollup table with its columns, as compared.
const TABLES: [(&str, &str); 10] = [
    (
        "log_hourly",
        "org_id, hour, service, namespace, type, n, critical, warnings, hostile",
    ),
    (
        "log_source_hourly",
        "org_id, hour, service, namespace, source, n",
    ),
    ("log_source_hours", "org_id, hour, source, n"),
    (
        "log_source_daily",
        "org_id, day, service, namespace, source, n",
    ),
    (
        "log_attack_hourly",
        "org_id, source_ip, hour, service, namespace, n, last_ts, geo, geo_ts",
    ),
    ("log_attack_hours", "org_id, source_ip, hour, n, last_ts"),
    (
        "log_attack_daily",
        "org_id, day, service, namespace, source_ip, n",
    ),
    (
        "log_attackers",
        "org_id, source_ip, service, namespace, last_ts",
    ),
    ("log_attacker_ips", "org_id, source_ip, last_ts"),
    ("event_counts", "org_id, hour, event_name, severity, n"),
];

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// A raw line of `org` at `ts`: hostile or not by its address, type and status.
fn line(r: &mut Rng, org: &str, ts: i64) -> LogRow {
    let ips = [
        "203.0.113.7",
        "198.51.100.9",
        "127.0.0.1",
        "2001:db8::1",
        "::1",
        "not-an-ip",
    ];
    let types = [
        LogType::LoginFailure,
        LogType::NetworkScan,
        LogType::NetworkEvent,
        LogType::LoginSuccess,
    ];
    let levels = [
        LogLevel::Info,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
    ];
    let source_ip = (r.below(8) > 0).then(|| r.pick(&ips).to_string());
    LogRow {
        org_id: org.into(),
        ts,
        hour: ts - ts.rem_euclid(HOUR),
        log_type: types[r.below(4) as usize],
        action: None,
        level: levels[r.below(4) as usize],
        service: r.pick(&["web", "api"]).into(),
        namespace: r.pick(&["prod", "staging"]).into(),
        source_ip,
        user: None,
        hostname: None,
        target_ip: None,
        geo: (r.below(3) == 0).then(|| r.pick(&["DE", "FR", "US"]).to_string()),
        device: None,
        vpn: None,
        detail: Default::default(),
        status_code: [None, Some(200), Some(401), Some(429)][r.below(4) as usize],
        resource: None,
        message: "line".into(),
        event_id: None,
        event_name: None,
    }
}

fn event(n: u128, org: &str, name: &str, ip: &str, at: i64) -> EventRecord {
    EventRecord::assign(
        NewEvent {
            event_name: name.into(),
            actor_id: Some(format!("u{}", n % 5)),
            actor_email: None,
            user_ip: Some(ip.into()),
            metadata: Map::new(),
        },
        &OrgId(org.into()),
        EventId(uuid::Uuid::from_u128(n)),
        UnixMs(at),
        None,
    )
}

/// Every rollup as the dashboard reads it: after a catch-up that is always due.
fn snapshot(db: &SqliteDb) -> Vec<Vec<String>> {
    run(db.batch(&catch_up(0, 0))).expect("caught up");
    TABLES
        .iter()
        .map(|(table, cols)| {
            let mut rows: Vec<String> = db
                .rows(&format!("SELECT {cols} FROM {table}"), &[])
                .into_iter()
                .map(|v| v.to_string())
                .collect();
            rows.sort();
            rows
        })
        .collect()
}

fn rebuilt(db: &SqliteDb) -> Vec<Vec<String>> {
    for org in ORGS {
        run(db.batch(&rebuild_statements(org))).expect("rebuilt");
    }
    snapshot(db)
}

/// "Now" for a writer's catch-up: the latest time in its batch, so over a fill some writers find
/// a catch-up due and most do not.
fn writer_now(times: impl Iterator<Item = i64>) -> i64 {
    times.max().unwrap_or(0)
}

/// Stores raw lines the way the Loki push does (or did, with `old`: before
/// migrations/0017_batched_rollups.sql, whose triggers kept the rollups).
fn store_lines(db: &SqliteDb, rows: &[LogRow], old: bool) {
    if old {
        crate::testing::legacy::store_lines(db, rows, false);
    } else {
        let mut statements = insert_statements(rows, true, 4096).expect("statements");
        let now = writer_now(rows.iter().map(|r| r.ts));
        statements.extend(catch_up(now, CATCH_UP_EVERY_MS));
        run(db.batch(&statements)).expect("stored");
    }
}

/// Stores events the way the queue consumer does (or did, with `old`: each event and its log
/// item, before 0017).
fn store_events(db: &SqliteDb, batch: &[EventRecord], old: bool) {
    if old {
        crate::testing::legacy::store_events(db, batch, false);
    } else {
        let now = UnixMs(writer_now(batch.iter().map(|e| e.created_at.0)));
        run(crate::ingest::consume::insert(
            db,
            batch,
            now,
            CATCH_UP_EVERY_MS,
        ))
        .expect("stored");
    }
}

/// Two organisations over three days: raw lines in pushes of up to 40, events in consumer
/// batches of up to 25, some batches delivered twice and some events twice in one batch.
fn filled() -> SqliteDb {
    let db = SqliteDb::migrated();
    fill(&db, 0x5eed, false);
    db
}

fn fill(db: &SqliteDb, seed: u64, old: bool) {
    let mut r = Rng(seed);
    let mut n = seed as u128 * 1000;
    for _ in 0..30 {
        let org = ORGS[r.below(2) as usize];
        let rows: Vec<LogRow> = (0..1 + r.below(40))
            .map(|_| {
                // Some lines share a millisecond, so ties of the latest geo are exercised.
                let ts = DAY0 + (r.below(3 * 24 * 60) as i64) * 60_000;
                line(&mut r, org, ts)
            })
            .collect();
        store_lines(db, &rows, old);
    }
    let names = [
        "auth.login_failed",
        "auth.login_success",
        "authz.access_denied",
        "security.ip_blocked",
        "data.export",
    ];
    let mut delivered: Vec<Vec<EventRecord>> = Vec::new();
    for _ in 0..20 {
        let org = ORGS[r.below(2) as usize];
        let mut batch: Vec<EventRecord> = (0..1 + r.below(25))
            .map(|_| {
                n += 1;
                let at = DAY0 + (r.below(3 * 24 * 60) as i64) * 60_000 + (n as i64 % 7);
                let ip = r.pick(&["203.0.113.7", "198.51.100.20", "127.0.0.1"]);
                event(n, org, r.pick(&names), ip, at)
            })
            .collect();
        if r.below(4) == 0 {
            batch.push(batch[0].clone());
        }
        store_events(db, &batch, old);
        if r.below(3) == 0 {
            delivered.push(batch);
        }
    }
    for batch in delivered {
        store_events(db, &batch, old);
    }
}

#[test]
fn an_installation_filled_before_the_migration_stays_exact() {
    // Rollups kept by the old per-row triggers, then migrations 0017 to 0019, then the new code.
    let db = SqliteDb::migrated_before("0017");
    fill(&db, 0x01d, true);
    let counted = db.count("SELECT sum(n) FROM log_hourly", &[]);
    assert!(counted > 0, "the triggers kept the old rollups");
    db.migrate_from("0017");
    assert_eq!(
        db.count("SELECT sum(n) FROM log_hourly", &[]),
        counted,
        "carried over"
    );
    assert_eq!(snapshot(&db), rebuilt(&db), "exact after the migration");
    fill(&db, 0x5eed, false);
    assert_eq!(snapshot(&db), rebuilt(&db), "exact after new batches");
    let cutoff = UnixMs(DAY0 + 40 * HOUR + 5);
    run(purge_org(&db, &OrgId("org_a".into()), cutoff, 50, 100)).expect("purged");
    assert_exact_after_purge(&db, "org_a", purge_before(cutoff).0);
}

#[test]
fn hostile_is_the_generated_column() {
    let db = SqliteDb::migrated();
    let ips = [
        "203.0.113.7",
        "127.0.0.9",
        "0.0.0.0",
        "1.2.3.4.5",
        "2001:DB8::1",
        "::1",
        "::ffff:127.0.0.1",
        "x",
    ];
    let mut i = 0;
    for ip in ips.iter().map(|s| Some(*s)).chain([None]) {
        for ty in ["login_failure", "network_scan", "network_event"] {
            for name in [None, Some("authz.access_denied"), Some("data.export")] {
                for status in [None, Some(200.0), Some(401.0), Some(429.0)] {
                    i += 1;
                    let text =
                        |s: Option<&str>| s.map_or(SqlParam::Null, |s| SqlParam::Text(s.into()));
                    let status = status.map_or(SqlParam::Null, SqlParam::Number);
                    let params = [text(ip), SqlParam::Text(ty.into()), text(name), status];
                    db.exec(
                        "INSERT INTO logs (org_id, ts, hour, type, level, service, namespace, source_ip, status_code, \
                         message, event_name) VALUES ('o', 0, 0, ?2, 'info', 's', 'n', ?1, ?4, 'm', ?3)",
                        &params,
                    );
                    let expr = format!(
                        "SELECT {HOSTILE_SQL} AS h FROM (SELECT ?1 AS source_ip, ?2 AS type, ?3 AS event_name, \
                         ?4 AS status_code)"
                    );
                    let want = db.count(&format!("SELECT hostile FROM logs WHERE id = {i}"), &[]);
                    assert_eq!(db.count(&expr, &params), want, "{ip:?} {ty} {name:?}");
                }
            }
        }
    }
}

#[test]
fn batches_keep_every_rollup_exact() {
    let db = filled();
    let kept = snapshot(&db);
    assert!(kept.iter().all(|rows| !rows.is_empty()), "every table used");
    assert_eq!(kept, rebuilt(&db));
}

#[test]
fn a_redelivered_batch_changes_nothing() {
    let db = SqliteDb::migrated();
    let batch: Vec<EventRecord> = (1..=30)
        .map(|n| {
            event(
                n,
                "org_a",
                "auth.login_failed",
                "203.0.113.7",
                DAY0 + n as i64 * 1000,
            )
        })
        .collect();
    store(&db, &batch);
    let once = snapshot(&db);
    store(&db, &batch);
    store(&db, &batch[5..12]);
    assert_eq!(snapshot(&db), once);
    assert_eq!(once, rebuilt(&db));
    assert_eq!(db.count("SELECT sum(n) FROM event_counts", &[]), 30);
}

/// Hourly rows and the attackers' tables equal a recount of what is stored; a day row counts at
/// least what its day holds and is gone once its whole day is.
fn assert_exact_after_purge(db: &SqliteDb, org: &str, before: i64) {
    let kept = snapshot(db);
    let truth = rebuilt(db);
    for (i, (table, _)) in TABLES.iter().enumerate() {
        if table.ends_with("_daily") {
            continue;
        }
        assert_eq!(kept[i], truth[i], "{table}");
    }
    for table in ["log_source_daily", "log_attack_daily"] {
        let stale = db.count(
            &format!("SELECT count(*) FROM {table} WHERE org_id = ?2 AND day + 86400000 <= ?1"),
            &[SqlParam::Number(before as f64), SqlParam::Text(org.into())],
        );
        assert_eq!(stale, 0, "{table}: no day wholly purged is kept");
    }
}

#[test]
fn the_purge_removes_whole_buckets_and_keeps_the_rest_exact() {
    for (chunk, cutoff) in [
        (10_000, DAY0 + 30 * HOUR + 17 * 60_000),
        (7, DAY0 + 49 * HOUR),
        (3, DAY0 + 49 * HOUR - 1),
    ] {
        let db = filled();
        let daily_before = snapshot(&db);
        let org = OrgId("org_a".into());
        let before = purge_before(UnixMs(cutoff)).0;
        let in_last_hour = |db: &SqliteDb| {
            db.count(
                "SELECT count(*) FROM logs WHERE org_id = 'org_a' AND ts >= ?1 AND ts < ?2",
                &[
                    SqlParam::Number(before as f64),
                    SqlParam::Number(cutoff as f64),
                ],
            )
        };
        let kept_then = in_last_hour(&db);
        let done = run(purge_org(&db, &org, UnixMs(cutoff), chunk, 10_000)).expect("purged");
        assert!(done.complete && done.rows_deleted > 0);
        assert_eq!(before % HOUR, 0);
        assert!(before <= cutoff && cutoff - before < HOUR);
        let old = |table: &str, col: &str| {
            db.count(
                &format!("SELECT count(*) FROM {table} WHERE org_id = 'org_a' AND {col} < ?1"),
                &[SqlParam::Number(before as f64)],
            )
        };
        assert_eq!(old("logs", "ts") + old("events", "created_at"), 0);
        assert_eq!(
            kept_then,
            in_last_hour(&db),
            "rows of the cutoff's hour wait for the next run"
        );
        assert_exact_after_purge(&db, "org_a", before);
        // The other organisation is untouched.
        let b = |rows: &Vec<Vec<String>>| -> Vec<Vec<String>> {
            rows.iter()
                .map(|t| t.iter().filter(|r| r.contains("org_b")).cloned().collect())
                .collect()
        };
        assert_eq!(b(&snapshot(&db)), b(&daily_before));
    }
}

#[test]
fn a_purge_out_of_rounds_resumes() {
    let db = filled();
    let org = OrgId("org_b".into());
    let cutoff = UnixMs(DAY0 + 60 * HOUR);
    let first = run(purge_org(&db, &org, cutoff, 5, 2)).expect("first run");
    assert!(!first.complete && first.rounds == 2);
    let rest = run(purge_org(&db, &org, cutoff, 5, 10_000)).expect("second run");
    assert!(rest.complete);
    assert_exact_after_purge(&db, "org_b", purge_before(cutoff).0);
    // Once clean, a run is one round that deletes nothing.
    let again = run(purge_org(&db, &org, cutoff, 5, 10_000)).expect("third run");
    assert_eq!((again.rounds, again.rows_deleted), (1, 0));
}

#[test]
fn a_batch_of_one_key_is_one_row_per_rollup() {
    // 200 hostile lines of one source, service and hour.
    let db = SqliteDb::migrated();
    let mut r = Rng(7);
    let rows: Vec<LogRow> = (0..200)
        .map(|i| {
            let mut row = line(&mut r, "org_a", DAY0 + i * 1000);
            row.source_ip = Some("203.0.113.7".into());
            row.service = "web".into();
            row.namespace = "prod".into();
            row.log_type = LogType::LoginFailure;
            row
        })
        .collect();
    run(db.batch(&insert_statements(&rows, false, 1 << 20).unwrap())).unwrap();
    // Caught up after the hour closed: the folded rollup has it too.
    run(db.batch(&catch_up(DAY0 + HOUR, 0))).unwrap();
    let rollup_rows: i64 = TABLES
        .iter()
        .map(|(t, _)| db.count(&format!("SELECT count(*) FROM {t}"), &[]))
        .sum();
    assert_eq!(rollup_rows, 9, "one row in each log rollup");
    let hourly: Value = db.rows("SELECT n, hostile FROM log_hourly", &[])[0].clone();
    assert_eq!(hourly["n"], 200);
    assert_eq!(hourly["hostile"], 200);
}

#[test]
fn the_folded_rollup_counts_each_item_once_whether_folded_or_late() {
    let db = SqliteDb::migrated();
    let mut r = Rng(11);
    let h0 = DAY0 + 5 * HOUR;
    let store = |db: &SqliteDb, r: &mut Rng, ts: i64, caught_up_at: i64| {
        let mut row = line(r, "org_a", ts);
        row.source_ip = Some("203.0.113.9".into());
        row.service = "web".into();
        row.namespace = "prod".into();
        let mut statements = insert_statements(&[row], false, 1 << 20).unwrap();
        statements.extend(catch_up(caught_up_at, 0));
        run(db.batch(&statements)).unwrap();
    };
    let daily = |db: &SqliteDb| {
        db.count(
            "SELECT coalesce(sum(n), 0) FROM log_source_hours WHERE source = '203.0.113.9'",
            &[],
        )
    };
    let folded = |db: &SqliteDb| db.count("SELECT hour FROM rollup_fold", &[]);
    // Two items of the open hour: hourly only.
    store(&db, &mut r, h0 + 60_000, h0 + 600_000);
    store(&db, &mut r, h0 + 120_000, h0 + 700_000);
    assert_eq!((daily(&db), folded(&db)), (0, h0));
    // The hour closes: one fold adds it.
    run(db.batch(&catch_up(h0 + HOUR + 300_000, 0))).unwrap();
    assert_eq!((daily(&db), folded(&db)), (2, h0 + HOUR));
    // A late item of the folded hour goes to the folded rollup directly.
    store(&db, &mut r, h0 + 180_000, h0 + HOUR + 600_000);
    assert_eq!(daily(&db), 3);
    // The next hour's item waits for its fold; a catch-up in the same hour folds nothing.
    store(&db, &mut r, h0 + HOUR + 60_000, h0 + HOUR + 900_000);
    run(db.batch(&catch_up(h0 + 2 * HOUR - 1, 0))).unwrap();
    assert_eq!(daily(&db), 3);
    run(db.batch(&catch_up(h0 + 2 * HOUR, 0))).unwrap();
    assert_eq!((daily(&db), folded(&db)), (4, h0 + 2 * HOUR));
    let hourly = db.count("SELECT sum(n) FROM log_source_hourly", &[]);
    assert_eq!(hourly, 4, "the hourly rollup counts every item once");
    let before = snapshot(&db);
    run(db.batch(&rebuild_statements("org_a"))).unwrap();
    assert_eq!(
        snapshot(&db),
        before,
        "the rollups equal their recomputation"
    );
}

/// The sum of `log_hourly.n`: the items the rollups count.
fn counted(db: &SqliteDb) -> i64 {
    db.count("SELECT coalesce(sum(n), 0) FROM log_hourly", &[])
}

fn lines_at(r: &mut Rng, n: usize, ts: i64) -> Vec<LogRow> {
    (0..n).map(|_| line(r, "org_a", ts)).collect()
}

/// Stores `rows` as a writer at `now` does: the inserts and, in the same batch, a catch-up of
/// the rollups when one is due at `every_ms`.
fn write_then_catch_up(db: &SqliteDb, rows: &[LogRow], now: i64, every_ms: i64) {
    let mut statements = insert_statements(rows, false, 1 << 20).unwrap();
    statements.extend(catch_up(now, every_ms));
    run(db.batch(&statements)).unwrap();
}

#[test]
fn a_writer_catches_up_once_its_interval_has_passed() {
    let db = SqliteDb::migrated();
    let mut r = Rng(11);
    let write = |rows: &[LogRow], now: i64| write_then_catch_up(&db, rows, now, CATCH_UP_EVERY_MS);
    // The mark starts at 0: the first writer catches up, its own items included.
    write(&lines_at(&mut r, 5, DAY0), DAY0);
    assert_eq!(counted(&db), 5);
    // Within the interval: stored, not counted yet, and no rollup row written.
    let rows_before = db.count("SELECT count(*) FROM log_source_hourly", &[]);
    write(
        &lines_at(&mut r, 7, DAY0 + HOUR),
        DAY0 + CATCH_UP_EVERY_MS - 1,
    );
    assert_eq!(counted(&db), 5);
    assert_eq!(
        db.count("SELECT count(*) FROM log_source_hourly", &[]),
        rows_before
    );
    // Once the interval has passed, everything waiting is counted, once.
    write(
        &lines_at(&mut r, 3, DAY0 + 2 * HOUR),
        DAY0 + CATCH_UP_EVERY_MS,
    );
    assert_eq!(counted(&db), 15);
    write(&[], DAY0 + 3 * CATCH_UP_EVERY_MS);
    assert_eq!(counted(&db), 15);
    let mark = db.rows("SELECT upto, at FROM rollup_marks WHERE org_id = ''", &[]);
    assert_eq!(mark[0]["upto"], 15);
    assert_eq!(
        mark[0]["at"],
        DAY0 + CATCH_UP_EVERY_MS,
        "nothing waited: the mark stays"
    );
    assert_eq!(snapshot(&db), rebuilt(&db));
}

#[test]
fn a_backlog_is_caught_up_whatever_the_time() {
    let db = SqliteDb::migrated();
    let mut r = Rng(12);
    run(db.batch(&catch_up(DAY0, 0))).unwrap();
    let rows = lines_at(&mut r, CATCH_UP_BACKLOG as usize, DAY0);
    run(db.batch(&insert_statements(&rows, false, 1 << 20).unwrap())).unwrap();
    run(db.batch(&catch_up(DAY0 + 1, CATCH_UP_EVERY_MS))).unwrap();
    assert_eq!(counted(&db), CATCH_UP_BACKLOG);
}

#[test]
fn a_rebuilt_organisation_is_not_counted_again() {
    let db = SqliteDb::migrated();
    let mut r = Rng(13);
    // Items of both organisations wait; org_a's are seeded and rebuilt, org_b's are not.
    let mut rows = lines_at(&mut r, 20, DAY0);
    rows.extend((0..10).map(|_| line(&mut r, "org_b", DAY0 + HOUR)));
    run(db.batch(&insert_statements(&rows, false, 1 << 20).unwrap())).unwrap();
    run(db.batch(&rebuild_statements("org_a"))).unwrap();
    assert_eq!(counted(&db), 20);
    assert_eq!(db.count("SELECT count(*) FROM rollup_marks", &[]), 2);
    // The catch-up counts org_b's items only, then drops org_a's mark, which it has passed.
    run(db.batch(&catch_up(DAY0, 0))).unwrap();
    assert_eq!(counted(&db), 30);
    assert_eq!(db.count("SELECT count(*) FROM rollup_marks", &[]), 1);
    // Later items of org_a count as any.
    run(db.batch(&insert_statements(&lines_at(&mut r, 4, DAY0), false, 1 << 20).unwrap())).unwrap();
    assert_eq!(snapshot(&db), rebuilt(&db));
    assert_eq!(counted(&db), 34);
}

#[test]
fn a_catch_up_is_told_by_its_tag_and_nothing_else_is() {
    assert!(catch_up(0, 0).iter().all(|(sql, _)| is_catch_up(sql)));
    let mut r = Rng(14);
    let rows = lines_at(&mut r, 3, DAY0);
    assert!(!insert_statements(&rows, true, 1 << 20)
        .unwrap()
        .iter()
        .any(|(sql, _)| is_catch_up(sql)));
    assert!(!rebuild_statements("org_a")
        .iter()
        .any(|(sql, _)| is_catch_up(sql)));
}

#[test]
fn event_counts_catch_up_with_the_rollups() {
    let db = SqliteDb::migrated();
    let at = |n: u128| DAY0 + n as i64 * 60_000;
    let batch: Vec<EventRecord> = (1..=6)
        .map(|n| event(n, "org_a", "auth.login_failed", "203.0.113.7", at(n)))
        .collect();
    let insert = |b: &[EventRecord], now: i64| {
        run(crate::ingest::consume::insert(
            &db,
            b,
            UnixMs(now),
            CATCH_UP_EVERY_MS,
        ))
        .unwrap();
    };
    insert(&batch[..2], DAY0);
    let counts = |db: &SqliteDb| db.count("SELECT coalesce(sum(n), 0) FROM event_counts", &[]);
    assert_eq!(counts(&db), 2, "the first catch-up is due at once");
    insert(&batch[2..], DAY0 + 1);
    assert_eq!(counts(&db), 2, "not due: stored, not counted yet");
    // A redelivery stores nothing, so the next catch-up counts each event once.
    insert(&batch, DAY0 + 2);
    run(db.batch(&catch_up(DAY0 + 3, 0))).unwrap();
    assert_eq!(counts(&db), 6);
    assert_eq!(snapshot(&db), rebuilt(&db));
}

#[test]
fn the_fold_and_the_dashboards_source_totals_seek_by_hour_or_source() {
    use crate::analytics::dashboard::{self, DashboardQuery, Window};
    let db = filled();
    // Without statistics, as a fresh D1 database plans.
    for (sql, params) in fold(DAY0 + 3 * DAY) {
        let plan = db.plan(&sql, &params);
        assert!(
            !plan.iter().any(|l| l.starts_with("SCAN x")),
            "{sql}:\n{}",
            plan.join("\n")
        );
    }
    run(db.batch(&catch_up(DAY0 + 2 * DAY + 5 * HOUR, 0))).unwrap();
    let w = Window::new(24, UnixMs(DAY0 + 2 * DAY + 6 * HOUR), UnixMs(0));
    let (sql, params) =
        &dashboard::statements(&DashboardQuery::default(), &w, "org_a")[dashboard::SOURCES];
    let plan = db.plan(sql, params);
    // The candidates' folded hours from the narrow rollup by source, the rest by source too.
    for seek in [
        "SEARCH log_source_hours USING COVERING INDEX log_source_hours_by_source (org_id=? AND source=?",
        "SEARCH log_source_hourly USING COVERING INDEX log_source_hourly_by_source (org_id=? AND source=?",
    ] {
        assert!(plan.iter().any(|l| l.starts_with(seek)), "{}", plan.join("\n"));
    }
    assert!(
        !plan
            .iter()
            .any(|l| l.starts_with("SEARCH log_") && l.ends_with("(org_id=?)")),
        "{}",
        plan.join("\n")
    );
}

#[test]
fn a_catch_up_reads_the_items_by_row_id_range() {
    let db = filled();
    for (sql, params) in catch_up(DAY0, 0) {
        let plan = db.plan(&sql, &params);
        for table in ["logs", "events"] {
            assert!(
                !plan.iter().any(|l| l.starts_with(&format!("SCAN {table}"))),
                "{table} scanned by {sql}:\n{}",
                plan.join("\n")
            );
        }
        if sql.contains("FROM items i") || sql.contains("FROM events ev") {
            assert!(
                plan.iter()
                    .any(|l| l.contains("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")),
                "{}",
                plan.join("\n")
            );
        }
    }
}

#[test]
fn a_rebuild_with_nothing_else_waiting_moves_the_mark_of_all() {
    let db = SqliteDb::migrated();
    let mut r = Rng(15);
    run(db.batch(&insert_statements(&lines_at(&mut r, 30, DAY0), false, 1 << 20).unwrap()))
        .unwrap();
    run(db.batch(&rebuild_statements("org_a"))).unwrap();
    let floor = || db.count("SELECT upto FROM rollup_marks WHERE org_id = ''", &[]);
    assert_eq!(floor(), 30, "only org_a's rows waited");
    // With another organisation's rows waiting, the mark of all stays for them.
    let other: Vec<LogRow> = (0..5).map(|_| line(&mut r, "org_b", DAY0)).collect();
    run(db.batch(&insert_statements(&other, false, 1 << 20).unwrap())).unwrap();
    run(db.batch(&insert_statements(&lines_at(&mut r, 3, DAY0), false, 1 << 20).unwrap())).unwrap();
    run(db.batch(&rebuild_statements("org_a"))).unwrap();
    assert_eq!(floor(), 30);
    assert_eq!(snapshot(&db), rebuilt(&db));
    assert_eq!(counted(&db), 38);
}

#[test]
fn items_stored_after_the_newest_were_deleted_are_numbered_past_the_mark_and_counted() {
    // An organisation moved away (scripts/lib/move.mjs) or purged whole takes the newest ids with
    // it; the next items must not be numbered at or below what the mark already counts.
    let db = SqliteDb::migrated();
    let mut r = Rng(13);
    let write = |rows: &[LogRow], now: i64| write_then_catch_up(&db, rows, now, 0);
    write(&lines_at(&mut r, 6, DAY0), DAY0);
    assert_eq!(counted(&db), 6);
    db.rows("DELETE FROM logs", &[]);
    db.rows("DELETE FROM log_hourly", &[]);
    write(&lines_at(&mut r, 4, DAY0 + HOUR), DAY0 + HOUR);
    let ids = db.rows("SELECT min(id) AS lo FROM logs", &[]);
    assert_eq!(ids[0]["lo"], 7, "numbered after the mark (6), not from 1");
    assert_eq!(counted(&db), 4, "and counted by the catch-up");
}
