//! The indexes of `events` and `logs` against the code that reads them
//! (`migrations/0016_lean_indexes.sql`, `0019_events_stored_once.sql`): every statement that
//! reads either table (or the view `items` over both), built by the code that issues it, must
//! plan as a search of the index meant for it — on its key, never a scan of the table or of the
//! organisation's window where a key bounds the read — with and without `ANALYZE` statistics;
//! and the migrations, applied to a database filled before them, keep every read's answer.

use crate::alerts::delivery::ledger::load_statements;
use crate::analytics::dashboard::{self, DashboardQuery, Window};
use crate::analytics::events::EventQuery;
use crate::api::sql::{by_id_sql, SqlParam, Statement};
use crate::detect::history::HistoryReads;
use crate::detect::{DetectionConfig, DetectionEvent, HistoryRequest};
use crate::intel::enrichment::threat_history_statements;
use crate::logs::detect::{history_statements, FailedLine, MAX_HISTORY_ROWS};
use crate::testing::SqliteDb;
use crate::time::UnixMs;
use serde_json::Value;
use std::collections::BTreeSet;

/// The newest stored time (2026-01-30T09:15:00Z).
const NOW: i64 = 1_769_764_500_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const BUSY: &str = "org_busy";
const QUIET: &str = "org_quiet";
/// The address most failed logins come from.
const FLOOD_IP: &str = "185.220.101.7";
/// The actor with the most events.
const ALICE: &str = "alice";

const FAILED: &str = "auth.login_failed";
const SUCCESS: &str = "auth.login_success";
const LIMITED: &str = "security.rate_limit_exceeded";
const BLOCKED: &str = "security.ip_blocked";
const OTHERS: [&str; 4] = [
    "auth.logout",
    "data.export",
    "admin.user_created",
    "auth.token_refreshed",
];

/// A small deterministic generator (an LCG), so the data is the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn text(s: &str) -> SqlParam {
    SqlParam::Text(s.into())
}

fn opt(s: Option<&str>) -> SqlParam {
    s.map_or(SqlParam::Null, text)
}

fn num(n: i64) -> SqlParam {
    SqlParam::Number(n as f64)
}

/// A day of a busy organisation and a quieter neighbour: events of every name detection reads
/// and of others, with and without an actor or an address, a flood of failed logins from one
/// address, each event's dashboard log item, and raw lines of every type. Times are unique, so
/// every read's order (and the rows at its bound) is the same through any index. Plain SQL,
/// the columns of `migrations/0001_init.sql` and `0004_logs.sql`, so it fills the schema as it
/// was before 0016 or 0019 (each event's item a `logs` row, as then: [`filled`] migrates it).
fn fill(db: &SqliteDb) {
    let mut rng = Rng(18);
    let mut n = 0u64;
    for (org, events, lines, offset) in [(BUSY, 1200, 900, 0), (QUIET, 300, 200, 13)] {
        for i in 0..events {
            n += 1;
            let name = match rng.below(20) {
                0..=6 => FAILED,
                7..=10 => SUCCESS,
                11..=12 => LIMITED,
                13 => BLOCKED,
                k => OTHERS[(k % 4) as usize],
            };
            // Rate-limit events mostly come from an application's limiter, without an actor.
            let actor = match (name, rng.below(12)) {
                (_, 0) | (LIMITED, 5..=11) => None,
                (_, 1..=4) => Some(ALICE.to_string()),
                (_, k) => Some(format!("user-{}", k * 7 + rng.below(5))),
            };
            let ip = match (name, rng.below(16)) {
                (_, 0) => None,
                (FAILED | LIMITED, 1..=9) => Some(FLOOD_IP.to_string()),
                (_, k) => Some(format!("203.0.113.{}", k * 11 + rng.below(9))),
            };
            let at = NOW - (events - i) * 71_000 + offset;
            let id = format!("00000000-0000-4000-8000-{n:012x}");
            let country = ["DE", "FR", "US", "de"][rng.below(4) as usize];
            db.exec(
                "INSERT INTO events (id, org_id, event_name, category, severity, instant_alert, actor_id, \
                 actor_email, user_ip, country_code, city, latitude, longitude, is_vpn, is_tor, is_proxy, \
                 is_datacenter, threat_score, forensics, metadata, created_at) VALUES (?1, ?2, ?3, 'auth', \
                 ?4, 0, ?5, NULL, ?6, ?7, 'Somewhere', 52.5, 13.4, 0, 0, 0, 0, 10, \
                 '{\"location\":{\"timezone\":\"Europe/Berlin\"},\"network\":{\"asn\":3320,\"asn_org\":\"DTAG\"}}', \
                 json_object('device_id', ?8, 'ip', ?6), ?9)",
                &[
                    text(&id),
                    text(org),
                    text(name),
                    text(["info", "medium", "high"][rng.below(3) as usize]),
                    opt(actor.as_deref()),
                    opt(ip.as_deref()),
                    text(country),
                    text(&format!("device-{}", rng.below(3))),
                    num(at),
                ],
            );
            let (kind, action) = match name {
                FAILED => ("login_failure", None),
                SUCCESS => ("login_success", None),
                "admin.user_created" => ("iam_change", Some("resource_created")),
                _ => ("network_event", None),
            };
            insert_log(
                db,
                org,
                at,
                kind,
                action,
                ip.as_deref(),
                actor.as_deref(),
                Some((id.as_str(), name)),
            );
        }
        for i in 0..lines {
            let at = NOW - (lines - i) * 97_000 + 3 + offset;
            let (kind, action) = match rng.below(5) {
                0 | 1 => ("login_failure", None),
                2 => ("iam_change", Some("policy_attached")),
                3 => ("network_scan", None),
                // Some lines are successful logins (sshd's, say): the identity reads take them.
                _ if i % 3 == 0 => ("login_success", None),
                _ => ("network_event", None),
            };
            let ip = match rng.below(8) {
                0 => None,
                1..=4 => Some(FLOOD_IP.to_string()),
                k => Some(format!("198.51.100.{}", k * 3 + rng.below(3))),
            };
            let user = match rng.below(6) {
                0 | 1 => None,
                2 => Some(ALICE.to_string()),
                k => Some(format!("user-{k}")),
            };
            insert_log(
                db,
                org,
                at,
                kind,
                action,
                ip.as_deref(),
                user.as_deref(),
                None,
            );
        }
    }
}

/// The database as [`fill`] and the migrations from 0019 leave it: what the code reads today.
fn filled() -> SqliteDb {
    let db = SqliteDb::migrated_before("0019");
    fill(&db);
    db.migrate_from("0019");
    db
}

/// One `logs` row: an event's item (`event` = its id and name) or a raw line.
#[allow(clippy::too_many_arguments)]
fn insert_log(
    db: &SqliteDb,
    org: &str,
    at: i64,
    kind: &str,
    action: Option<&str>,
    ip: Option<&str>,
    user: Option<&str>,
    event: Option<(&str, &str)>,
) {
    // An event's item has the event's `is_vpn` and a resource (its name, without metadata).
    db.exec(
        "INSERT INTO logs (org_id, ts, hour, type, action, level, service, namespace, source_ip, user, \
         vpn, resource, message, event_id, event_name) VALUES (?1, ?2, ?2 - ?2 % 3600000, ?3, ?4, 'warning', \
         'auth-service', 'prod', ?5, ?6, CASE WHEN ?7 IS NOT NULL THEN 0 END, ?8, 'a line', ?7, ?8)",
        &[
            text(org),
            num(at),
            text(kind),
            opt(action),
            opt(ip),
            opt(user),
            opt(event.map(|e| e.0)),
            opt(event.map(|e| e.1)),
        ],
    );
}

/// How a statement may read `events` and `logs`.
struct Reader {
    what: String,
    statement: Statement,
    /// The names `events` and `logs` go by in the statement (the tables or their aliases).
    aliases: &'static [&'static str],
    /// `(index, key)`: the indexes it may search (`rowid` for the integer primary key), each
    /// with the column whose equality must bound the search, when a key bounds the read.
    allowed: Vec<(&'static str, Option<&'static str>)>,
    /// Indexes its plan must search (the reads really are there).
    required: Vec<&'static str>,
}

impl Reader {
    fn new(
        what: impl Into<String>,
        statement: Statement,
        index: &'static str,
        key: Option<&'static str>,
    ) -> Reader {
        Reader {
            what: what.into(),
            statement,
            aliases: &["events", "logs"],
            allowed: vec![(index, key)],
            required: vec![index],
        }
    }
}

/// Every statement of the code that reads `events` or `logs` (the retention purge's chunks
/// apart: crates/core/src/retention.rs, through `events_org_created` and `logs_org_ts`).
fn readers() -> Vec<Reader> {
    let mut out = Vec::new();

    // Detection's history reads of the queue consumer: one statement per part, in part order.
    let mut trigger =
        DetectionEvent::new("00000000-0000-4000-8000-ffffffffffff", SUCCESS, UnixMs(NOW));
    trigger.source_ip = Some(FLOOD_IP.into());
    trigger.actor_id = Some(ALICE.into());
    let since = Some(UnixMs(NOW - DAY));
    let request = HistoryRequest {
        ip_failed_logins_since: since,
        actor_failed_logins_since: since,
        ip_rate_limits_since: since,
        actor_rate_limits_since: since,
        actor_logins_since: since,
        actor_countries_since: since,
        actor_devices_since: since,
        actor_prior_event: true,
    };
    let history = HistoryReads::new(vec![(trigger, BUSY.to_string(), request)]).statements();
    let expected = [
        ("ip failed logins", "logs_login_failure_ip", "source_ip"),
        ("actor failed logins", "logs_login_failure_user", "user"),
        ("ip rate limits", "events_rate_limit_ip", "user_ip"),
        ("actor rate limits", "events_rate_limit_actor", "actor_id"),
        ("actor logins", "events_org_actor_created", "actor_id"),
        ("actor countries", "events_org_actor_created", "actor_id"),
        ("actor devices", "events_org_actor_created", "actor_id"),
        ("actor prior event", "events_org_actor_created", "actor_id"),
    ];
    assert_eq!(history.len(), expected.len(), "one statement per part");
    for (statement, (what, index, key)) in history.into_iter().zip(expected) {
        let mut r = Reader::new(format!("detection: {what}"), statement, index, Some(key));
        // Failed logins are log items: raw lines' and events' are read apart, each on its index.
        if let Some(events_index) = match index {
            "logs_login_failure_ip" => Some("events_login_failure_ip"),
            "logs_login_failure_user" => Some("events_login_failure_user"),
            _ => None,
        } {
            r.allowed.push((events_index, Some("<expr>")));
            r.required.push(events_index);
        }
        // The identity reads take the actor's successful login lines too, on their own index.
        if index == "events_org_actor_created" {
            r.allowed.push(("logs_login_success_user", Some("user")));
            r.required.push("logs_login_success_user");
        }
        out.push(r);
    }

    // The threat score's failed-login counts (the third statement reads alerts).
    let ips: BTreeSet<String> = [FLOOD_IP.to_string(), "203.0.113.12".into()].into();
    let actors: BTreeSet<String> = [ALICE.to_string(), "user-40".into()].into();
    let threat = threat_history_statements(BUSY, &ips, &actors, UnixMs(NOW));
    out.push(Reader::new(
        "enrichment: failed logins by ip",
        threat[0].clone(),
        "events_login_failure_ip",
        Some("<expr>"),
    ));
    out.push(Reader::new(
        "enrichment: failed logins by actor",
        threat[1].clone(),
        "events_login_failure_user",
        Some("<expr>"),
    ));

    // Brute force from the Loki push: one statement per key kind.
    let lines: Vec<FailedLine> = [
        (FLOOD_IP, Some(ALICE)),
        ("198.51.100.4", None),
        ("198.51.100.5", Some("user-3")),
    ]
    .iter()
    .enumerate()
    .map(|(i, (ip, user))| FailedLine {
        id: format!("{}-{}", 90_000 + i, NOW / 1000),
        at: UnixMs(NOW - i as i64 * 1_000),
        ip: Some((*ip).into()),
        user: user.map(str::to_string),
    })
    .collect();
    let config = DetectionConfig::default();
    for (kind, statement) in history_statements(BUSY, &lines, &config) {
        let (index, key, events_index) = match kind {
            crate::logs::detect::KeyKind::Ip => (
                "logs_login_failure_ip",
                "source_ip",
                "events_login_failure_ip",
            ),
            crate::logs::detect::KeyKind::User => (
                "logs_login_failure_user",
                "user",
                "events_login_failure_user",
            ),
        };
        let mut r = Reader::new(
            format!("loki brute force: {kind:?}"),
            statement,
            index,
            Some(key),
        );
        r.aliases = &["logs", "l", "events", "e"];
        r.allowed.push((events_index, Some("<expr>")));
        r.required.push(events_index);
        out.push(r);
    }

    // The dashboard, unfiltered and filtered (the filtered anomalies look up their trigger
    // items): the window of logs_org_ts and events_org_created (through the view `items`), IAM
    // changes of logs_iam_ts and events_iam, trigger items by row id or event id, and the
    // blocked addresses by event name.
    let window = Window::new(24, UnixMs(NOW + 1_000), UnixMs(NOW - 30 * DAY));
    // A pivot (an address, a user) reads the window's items once, through the same two indexes.
    let pivot = |ip: Option<&str>, user: Option<&str>| DashboardQuery {
        source_ip: ip.map(str::to_string),
        user: user.map(str::to_string),
        ..DashboardQuery::default()
    };
    for (label, q) in [
        ("unfiltered", DashboardQuery::default()),
        (
            "service filter",
            DashboardQuery {
                service: Some("auth-service".into()),
                ..DashboardQuery::default()
            },
        ),
        ("address pivot", pivot(Some("203.0.113.7"), None)),
        ("user pivot", pivot(None, Some("alice"))),
    ] {
        for (i, statement) in dashboard::statements(&q, &window, BUSY)
            .into_iter()
            .enumerate()
        {
            let required = match i {
                _ if q.pivoted() => vec!["logs_org_ts", "events_org_created"],
                dashboard::LOGS => vec!["logs_org_ts", "events_org_created"],
                dashboard::IAM => vec!["logs_iam_ts", "events_iam"],
                _ => vec![],
            };
            out.push(Reader {
                what: format!("dashboard {label}: statement {i}"),
                statement,
                aliases: &["events", "logs", "l", "le"],
                allowed: vec![
                    ("logs_org_ts", None),
                    ("logs_iam_ts", None),
                    ("events_org_created", None),
                    ("events_iam", None),
                    ("rowid", Some("rowid")),
                    ("sqlite_autoindex_events_1", Some("id")),
                    ("events_org_name_created", Some("event_name")),
                ],
                required,
            });
        }
    }

    // GET /events: the page by filter, and the actor filter's plain total.
    /// `(label, event_name, actor_id, index, its key)`.
    type Filter<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
    );
    let filters: [Filter; 5] = [
        ("unfiltered", None, None, "events_org_created", None),
        ("severity", None, None, "events_org_created", None),
        (
            "name",
            Some(FAILED),
            None,
            "events_org_name_created",
            Some("event_name"),
        ),
        (
            "actor",
            None,
            Some(ALICE),
            "events_org_actor_created",
            Some("actor_id"),
        ),
        (
            "name and actor",
            Some(SUCCESS),
            Some(ALICE),
            "events_org_actor_created",
            Some("actor_id"),
        ),
    ];
    for (label, name, actor, index, key) in filters {
        let query = EventQuery {
            limit: 200,
            event_name: name.map(str::to_string),
            actor_id: actor.map(str::to_string),
            severities: if label == "severity" {
                vec![crate::ingest::catalogue::Severity::High]
            } else {
                Vec::new()
            },
            ..EventQuery::default()
        };
        let (page, total) = query.page_sql(BUSY, UnixMs(NOW - 30 * DAY));
        out.push(Reader::new(
            format!("GET /events {label}: page"),
            page,
            index,
            key,
        ));
        if actor.is_some() {
            out.push(Reader::new(
                format!("GET /events {label}: total"),
                total,
                index,
                key,
            ));
        }
    }
    out.push(Reader::new(
        "GET /events/:id",
        by_id_sql(
            "events",
            BUSY,
            "00000000-0000-4000-8000-000000000007",
            UnixMs(0),
        ),
        "sqlite_autoindex_events_1",
        Some("id"),
    ));

    // A delivery's events, by the ids its alert names.
    let mut ledger = Reader::new(
        "delivery: the alert's events",
        load_statements("del_1")[2].clone(),
        "sqlite_autoindex_events_1",
        Some("id"),
    );
    ledger.aliases = &["e"];
    out.push(ledger);
    out
}

/// The `EXPLAIN QUERY PLAN` lines of `statement`.
fn plan(db: &SqliteDb, (sql, params): &Statement) -> Vec<String> {
    db.rows(&format!("EXPLAIN QUERY PLAN {sql}"), params)
        .iter()
        .map(|r| r["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether `index` is one of `events` or `logs`.
fn ours(index: &str) -> bool {
    [
        "events_",
        "logs_",
        "sqlite_autoindex_events_",
        "sqlite_autoindex_logs_",
    ]
    .iter()
    .any(|p| index.starts_with(p))
}

/// Checks `r`'s plan on `db`: no scan of `events` or `logs`, every search of them on an
/// allowed index and bounded by its key, every required index searched. A search through one
/// of their indexes counts whatever the alias (the dashboard's `x` is also a rollup's).
fn check(db: &SqliteDb, r: &Reader, stats: &str) {
    let lines = plan(db, &r.statement);
    let shown = lines.join("\n  ");
    let mut searched = BTreeSet::new();
    for line in &lines {
        let mut words = line.splitn(3, ' ');
        let (op, target, rest) = (
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
            words.next().unwrap_or_default(),
        );
        let aliased = r.aliases.contains(&target);
        assert!(
            !(aliased && op == "SCAN"),
            "{} ({stats}) scans {target}:\n  {shown}",
            r.what
        );
        if op != "SEARCH" {
            continue;
        }
        let how = rest.strip_prefix("USING ").unwrap_or(rest);
        let index = if how.starts_with("INTEGER PRIMARY KEY") {
            "rowid"
        } else {
            how.strip_prefix("COVERING INDEX ")
                .or_else(|| how.strip_prefix("INDEX "))
                .and_then(|named| named.split(' ').next())
                .unwrap_or(how)
        };
        if !aliased && !ours(index) {
            continue;
        }
        let (_, key) = r
            .allowed
            .iter()
            .find(|(name, _)| *name == index)
            .unwrap_or_else(|| panic!("{} ({stats}) searches {index}:\n  {shown}", r.what));
        if let Some(key) = key {
            assert!(
                line.contains(&format!("{key}=?")),
                "{} ({stats}): {index} without its key {key}:\n  {shown}",
                r.what
            );
        }
        searched.insert(index.to_string());
    }
    for index in &r.required {
        assert!(
            searched.contains(*index),
            "{} ({stats}) does not search {index}:\n  {shown}",
            r.what
        );
    }
}

#[test]
fn every_read_of_events_and_logs_searches_its_index_with_and_without_statistics() {
    let readers = readers();
    let db = SqliteDb::migrated();
    for r in &readers {
        check(&db, r, "empty, no statistics");
    }
    let db = filled();
    for r in &readers {
        check(&db, r, "filled, no statistics");
    }
    db.exec("ANALYZE", &[]);
    assert!(db.count("SELECT count(*) FROM sqlite_stat1", &[]) > 0);
    for r in &readers {
        check(&db, r, "ANALYZE");
    }
}

#[test]
fn events_and_logs_have_exactly_the_indexes_their_readers_use() {
    let db = SqliteDb::migrated();
    let names = |table: &str| -> Vec<String> {
        db.rows(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1 ORDER BY name",
            &[text(table)],
        )
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
    };
    assert_eq!(
        names("events"),
        [
            "events_iam",
            "events_login_failure_ip",
            "events_login_failure_user",
            "events_org_actor_created",
            "events_org_created",
            "events_org_name_created",
            "events_rate_limit_actor",
            "events_rate_limit_ip",
            "sqlite_autoindex_events_1",
        ]
    );
    assert_eq!(
        names("logs"),
        [
            "logs_iam_ts",
            "logs_login_failure_ip",
            "logs_login_failure_user",
            "logs_login_success_user",
            "logs_org_ts",
            "sqlite_autoindex_logs_1",
        ]
    );
    // Every index but the primary keys' is searched by some reader.
    let used: BTreeSet<&str> = readers().iter().flat_map(|r| r.required.clone()).collect();
    for name in names("events").iter().chain(names("logs").iter()) {
        assert!(
            used.contains(name.as_str()) || name.starts_with("sqlite_autoindex_logs"),
            "{name} is read by nothing"
        );
    }
}

/// The statement without its `INDEXED BY` clauses: what it is on a schema without the indexes
/// it names (before 0016), leaving the choice to SQLite.
fn without_hints((sql, params): &Statement) -> Statement {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql.as_str();
    while let Some(at) = rest.find("INDEXED BY ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "INDEXED BY ".len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = after[end..].trim_start();
    }
    out.push_str(rest);
    (out, params.clone())
}

/// Every row of both tables, in a fixed order.
fn contents(db: &SqliteDb) -> (Vec<Value>, Vec<Value>) {
    (
        db.rows("SELECT * FROM events ORDER BY id", &[]),
        db.rows("SELECT * FROM logs ORDER BY id", &[]),
    )
}

/// The readers whose answers the migration must keep: all but the dashboard's aggregates,
/// which read the rollups (not this migration's business) and only the future-stamped items
/// from `logs`, and the delivery's events (no delivery here; it reads by primary key).
fn answering_readers() -> Vec<Reader> {
    readers()
        .into_iter()
        .filter(|r| !r.what.starts_with("dashboard") || !r.required.is_empty())
        .filter(|r| !r.what.starts_with("delivery"))
        .collect()
}

/// Whether `rows` hold something: a row with a value other than null, 0 or an empty JSON
/// array, besides the group and key columns the batched reads echo.
fn substantive(rows: &[Value]) -> bool {
    rows.iter().any(|row| {
        row.as_object().is_some_and(|o| {
            o.iter().any(|(column, v)| {
                let echoed = matches!(column.as_str(), "g" | "k");
                let empty = v.is_null() || *v == 0 || v.as_str() == Some("[]");
                !echoed && !empty
            })
        })
    })
}

/// Every read's answer on `db`, each checked to find something.
fn answers(db: &SqliteDb, readers: &[Reader]) -> Vec<Vec<Value>> {
    readers
        .iter()
        .map(|r| {
            let rows = db.rows(&r.statement.0, &r.statement.1);
            assert!(substantive(&rows), "{} finds nothing: {rows:?}", r.what);
            rows
        })
        .collect()
}

fn assert_integrity(db: &SqliteDb) {
    assert_eq!(
        db.rows("PRAGMA integrity_check", &[]),
        vec![serde_json::json!({"integrity_check": "ok"})],
        "every index holds exactly its rows"
    );
}

#[test]
fn the_migrations_keep_every_row_and_every_reads_answer_of_a_filled_database() {
    let db = SqliteDb::migrated_before("0016");
    fill(&db);
    let rows = contents(&db);
    assert_eq!((rows.0.len(), rows.1.len()), (1500, 2600));
    let readers = answering_readers();
    // The reads of the code before 0016, as SQLite chose their indexes then.
    // The reads that need nothing of 0019 (its columns, indexes and view) nor of 0027 (lines'
    // locations).
    let old = |r: &&Reader| {
        !["item", "events_iam", "logs_login_success_user"]
            .iter()
            .any(|later| r.statement.0.contains(later))
    };
    let before: Vec<Vec<Value>> = readers
        .iter()
        .filter(old)
        .map(|r| {
            let (sql, params) = without_hints(&r.statement);
            db.rows(&sql, &params)
        })
        .collect();
    assert!(!before.is_empty());

    db.apply_migration("0016");
    assert_eq!(contents(&db), rows, "every row as it was");
    assert_integrity(&db);
    for (r, want) in readers.iter().filter(old).zip(&before) {
        assert_eq!(&db.rows(&r.statement.0, &r.statement.1), want, "{}", r.what);
    }

    // Then the rest, to today's schema: every read answers as on the same data filled just
    // before 0019 (which `the_0019_migration_moves_each_item_into_its_event` checks).
    db.migrate_from("0017");
    assert_integrity(&db);
    assert_eq!(answers(&db, &readers), answers(&filled(), &readers));
}

#[test]
fn the_0019_migration_moves_each_item_into_its_event() {
    let db = SqliteDb::migrated_before("0019");
    fill(&db);
    let items = db.rows("SELECT * FROM logs ORDER BY id", &[]);
    let events = db.rows("SELECT * FROM events ORDER BY id", &[]);
    assert_eq!((items.len(), events.len()), (2600, 1500));

    db.apply_migration("0019");
    assert_integrity(&db);
    // The same items, id for id, column for column; the raw lines alone stay in `logs`.
    assert_eq!(db.rows("SELECT * FROM items ORDER BY id", &[]), items);
    assert_eq!(
        db.count("SELECT count(*) FROM logs WHERE event_id IS NOT NULL", &[]),
        0
    );
    assert_eq!(db.count("SELECT count(*) FROM logs", &[]), 1100);
    // Every event as it was, besides the columns of its item.
    let own = crate::api::sql::EVENT_COLUMNS;
    assert_eq!(
        db.rows(&format!("SELECT {own} FROM events ORDER BY id"), &[]),
        events
    );
    // A new event (stored by today's code, so with the later migrations too) is stored once,
    // with its item, numbered after every stored item, and found by the reads of the new indexes.
    db.migrate_from("0020");
    let (record, item) = new_failed_login(&db);
    assert_eq!(
        db.count(
            "SELECT count(*) FROM items WHERE event_id = ?1",
            &[text(&record.id.to_string())]
        ),
        1
    );
    assert_eq!(
        db.count("SELECT max(id) FROM items", &[]),
        db.count(
            "SELECT id FROM items WHERE event_id = ?1",
            &[text(&record.id.to_string())]
        )
    );
    assert_eq!(item.source_ip.as_deref(), Some("192.0.2.1"));
    let threat = threat_history_statements(
        BUSY,
        &["192.0.2.1".to_string()].into(),
        &["mallory".to_string()].into(),
        UnixMs(NOW + 2),
    );
    for statement in &threat[..2] {
        let rows = db.rows(&statement.0, &statement.1);
        assert_eq!(rows[0]["n"], 1, "{rows:?}");
    }
}

/// Stores a failed login of `mallory` from 192.0.2.1 through the consumer's insert.
fn new_failed_login(db: &SqliteDb) -> (crate::ingest::record::EventRecord, crate::logs::LogRow) {
    let record = crate::ingest::record::EventRecord::assign(
        crate::ingest::NewEvent {
            event_name: FAILED.into(),
            actor_id: Some("mallory".into()),
            actor_email: None,
            user_ip: Some("192.0.2.1".into()),
            metadata: serde_json::Map::new(),
        },
        &crate::access::ids::OrgId(BUSY.into()),
        crate::access::ids::EventId(uuid::Uuid::from_u128(0xeeee)),
        UnixMs(NOW + 1),
        None,
    );
    crate::testing::store(db, std::slice::from_ref(&record));
    let item = crate::logs::event_row(&record);
    (record, item)
}

#[test]
fn the_loki_history_read_keeps_the_newest_rows_of_all_keys_at_its_bound() {
    // One address floods past the bound, in raw lines and in events; two others fail now and
    // then in between. The read is each key's newest rows of each table, then the newest of
    // those: exactly the newest items of all the keys together, as one ordered read of the
    // window would return them.
    let db = SqliteDb::migrated();
    let flood = i64::from(MAX_HISTORY_ROWS) + 50;
    let ip = "CASE WHEN i % 997 = 5 THEN '198.51.100.1' WHEN i % 991 = 7 THEN '198.51.100.2' ELSE ?4 END";
    db.exec(
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO logs (id, org_id, ts, hour, type, level, service, namespace, source_ip, user, message) \
             SELECT i + 1, ?2, ?3 - i * 10, 0, 'login_failure', 'warning', 's', 'n', {ip}, 'u' || (i % 3), 'x' \
             FROM n WHERE i % 4 <> 1"
        ),
        &[num(flood - 1), text(BUSY), num(NOW), text(FLOOD_IP)],
    );
    // Every fourth a failed login event, numbered in the same sequence.
    db.exec(
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO events (rowid, id, org_id, event_name, category, severity, instant_alert, actor_id, \
             user_ip, metadata, created_at, item_type) \
             SELECT i + 1, printf('00000000-0000-4000-8000-%012d', i), ?2, 'auth.login_failed', 'auth', 'medium', 0, \
             'u' || (i % 3), {ip}, '{{}}', ?3 - i * 10, 'login_failure' FROM n WHERE i % 4 = 1"
        ),
        &[num(flood - 1), text(BUSY), num(NOW), text(FLOOD_IP)],
    );
    let lines: Vec<FailedLine> = [FLOOD_IP, "198.51.100.1", "198.51.100.2"]
        .iter()
        .map(|ip| FailedLine {
            id: "1-1".into(),
            at: UnixMs(NOW),
            ip: Some((*ip).into()),
            user: None,
        })
        .collect();
    let mut config = DetectionConfig::default();
    config.brute_force_ip.window_minutes = 24 * 60;
    let statements = history_statements(BUSY, &lines, &config);
    let (_, (sql, params)) = &statements[0];
    let got = db.rows(sql, params);
    let plain = format!(
        "SELECT coalesce(event_id, id || '-' || (ts / 1000)) AS event_id, ts AS at, source_ip AS k, user AS p \
         FROM items WHERE org_id = ?1 AND type = 'login_failure' AND ts >= ?2 AND ts <= ?3 \
         AND source_ip IN (SELECT value FROM json_each(?4)) ORDER BY ts DESC, id DESC LIMIT {MAX_HISTORY_ROWS}"
    );
    let want = db.rows(&plain, params);
    assert_eq!(got.len(), MAX_HISTORY_ROWS as usize);
    assert_eq!(got, want);
    let quiet = got.iter().filter(|r| r["k"] != FLOOD_IP).count();
    assert!(quiet > 20, "the quiet keys' rows are among them: {quiet}");
    let events = got
        .iter()
        .filter(|r| r["event_id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(events.count() > 4000, "events are among them");
}
