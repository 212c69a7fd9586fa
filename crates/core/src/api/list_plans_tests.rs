//! Every list query of the management API, taken exactly as the code builds it, on a generated
//! dataset large enough for a walk to show, checked the way SQLite runs it: first without
//! statistics (D1's state unless someone runs `ANALYZE`), then after `ANALYZE` (issue 18,
//! "queries stay fast"). Three organisations share the tables; in the largest, actors are
//! skewed (one holds a third of the events and alerts, hundreds a few each, a rare one three
//! at the far end of the window), and so are event names, alert statuses and types, while
//! ended suppressions outnumber the active ones twenty to one and are newer.
//!
//! Each statement must SEARCH an index by the organisation and then its filter's key — no SCAN
//! of a table, no walk bounded only by the organisation and the window — and a page whose index
//! gives its order must not sort all its matches. Rows visited are counted in virtual-machine
//! steps ([`SqliteDb::steps`], a proxy for D1's rows read): an ordered page costs about its own
//! rows, and a selective filter visits a small fraction of what the same statement visits
//! walking the organisation's newest-first index (the plan SQLite took for the actor filter).
//!
//! Some filters have no key of their own and stay walks of the window newest first that stop at
//! the page, checked as such (`Key::Walk`): a severity alone (on events an index would cost one
//! more row written per event), and on alerts `status=suppressed` together with other statuses.
//! Pages of several alert statuses or of one alert type seek their key but sort all its matches:
//! what their total visits anyway, not page-sized.

use crate::access::ids::{EventId, OrgId};
use crate::alerts::delivery::{destination, ledger};
use crate::alerts::suppress::{self, ListQuery};
use crate::alerts::AlertQuery;
use crate::analytics::dashboard::{self, DashboardQuery, Window};
use crate::analytics::events::EventQuery;
use crate::api::cursor::{Cursor, CursorKey};
use crate::api::sql::{SqlParam, Statement};
use crate::ingest::incidents::health_statements;
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::logs::classify::{IamAction, LogLevel, LogType};
use crate::logs::{hour_bucket, insert_statements, LogRow};
use crate::testing::{run, store, SqliteDb};
use crate::time::UnixMs;
use serde_json::Map;

const DAY: i64 = 86_400_000;
/// Requests are made at this instant, with 30 days' retention.
const NOW: i64 = 1_772_323_200_000;
const CUTOFF: i64 = NOW - 30 * DAY;
const ORGS: [(&str, usize); 3] = [("org_a", 24_000), ("org_b", 6_000), ("org_c", 3_000)];
const ORG: &str = "org_a";
/// An ordered page may take this many steps per row it answers or skips, plus `PAGE_STEPS`.
const STEPS_PER_ROW: i64 = 120;
const PAGE_STEPS: i64 = 2_000;
/// A selective filter takes at most this fraction of the steps of the walk through the
/// organisation's newest-first index.
const WALK_FRACTION: i64 = 4;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `i`-th of `n` rows of an organisation, newest first, spread over the window.
fn at(i: usize, n: usize) -> i64 {
    NOW - 1 - (i as i64) * (30 * DAY - 4 * 3_600_000) / n as i64
}

/// A third of the rows belong to `heavy`, a tenth to no actor, the rest to 400 users, and
/// the three oldest to `rare`.
fn actor(i: usize, n: usize) -> Option<String> {
    match i {
        i if i + 3 >= n => Some("rare".into()),
        i if i % 3 == 0 => Some("heavy".into()),
        i if i % 10 == 1 => None,
        i => Some(format!("user-{}", (i * 7919) % 400)),
    }
}

fn events(org: &str, n: usize, first_id: u128) -> Vec<EventRecord> {
    const MIX: [&str; 4] = [
        "auth.logout",
        "data.export",
        "admin.user_deleted",
        "custom.thing_happened",
    ];
    (0..n)
        .map(|i| {
            let name = match i % 10 {
                _ if i + 3 >= n => "auth.login_failed",
                _ if i + 7 >= n => "security.ip_blocked",
                0..=5 => "auth.login_failed",
                6 | 7 => "auth.login_success",
                8 => MIX[(i / 10) % MIX.len()],
                _ => "authz.role_changed",
            };
            EventRecord::assign(
                NewEvent {
                    event_name: name.into(),
                    actor_id: actor(i, n),
                    actor_email: None,
                    user_ip: None,
                    metadata: Map::new(),
                },
                &OrgId(org.into()),
                EventId(uuid::Uuid::from_u128(first_id + i as u128)),
                UnixMs(at(i, n)),
                None,
            )
        })
        .collect()
}

/// Alert ids are UUIDs, as cursors require: the `i`-th of an organisation's.
fn alert_id(first_id: u128, i: usize) -> String {
    uuid::Uuid::from_u128((1 << 100) + first_id + i as u128).to_string()
}

/// A quarter of an organisation's events as alerts: mostly resolved (5 % open, 5 %
/// acknowledged, 5 % safe), a tenth suppressed, three of a rare type and three of `rare`.
fn alerts(org: &str, n: usize, first_id: u128) -> Vec<Statement> {
    const TYPES: [&str; 4] = [
        "brute_force_attack",
        "new_device",
        "geo_anomaly",
        "suspicious_network",
    ];
    (0..n)
        .map(|i| {
            let status = ["open", "acknowledged", "safe"]
                .get(i % 20)
                .copied()
                .unwrap_or("resolved");
            let alert_type = if (n - 6..n - 3).contains(&i) {
                "impossible_travel"
            } else {
                TYPES[i % TYPES.len()]
            };
            let severity = if i % 25 == 0 {
                "critical"
            } else {
                ["low", "medium", "high"][i % 3]
            };
            let text = |s: &str| SqlParam::Text(s.into());
            (
                "INSERT INTO alerts (id, org_id, alert_type, severity, status, title, description, \
                 actor_id, dedup_key, metadata, created_at, updated_at, suppressed_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 't', 'd', ?6, ?7, '{}', ?8, ?8, ?9)"
                    .into(),
                vec![
                    text(&alert_id(first_id, i)),
                    text(org),
                    text(alert_type),
                    text(severity),
                    text(status),
                    actor(i, n).map_or(SqlParam::Null, SqlParam::Text),
                    text(&format!("k{i}")),
                    SqlParam::Number(at(i, n) as f64),
                    if i % 10 == 5 {
                        text("sup_0123456789abcdef0123456789abcdef")
                    } else {
                        SqlParam::Null
                    },
                ],
            )
        })
        .collect()
}

/// `ended` suppressions that expired or were deleted over the last days, and `active` older
/// ones (a fifth of them expiring tomorrow).
fn suppressions(org: &str, ended: usize, active: usize) -> Vec<Statement> {
    (0..ended + active)
        .map(|i| {
            let (created, expires, deleted) = if i < ended {
                let c = NOW - 1 - i as i64 * 60_000;
                match i % 2 {
                    0 => (c, Some(c + 5_000), None),
                    _ => (c, None, Some(c + 1_000)),
                }
            } else {
                let expires = (i % 5 == 0).then_some(NOW + DAY);
                (NOW - 10 * DAY - i as i64 * 60_000, expires, None)
            };
            let ended_at = match (expires, deleted) {
                (Some(e), Some(d)) => Some(e.min(d)),
                (e, d) => e.or(d),
            };
            let number = |v: Option<i64>| v.map_or(SqlParam::Null, |v| SqlParam::Number(v as f64));
            (
                "INSERT INTO suppressions (id, org_id, scope, value, alert_types, reason, created_by, \
                 created_at, expires_at, deleted_at, deleted_by, ended_at) \
                 VALUES (?1, ?2, 'ip', ?3, NULL, 'r', 'api', ?4, ?5, ?6, ?7, ?8)"
                    .into(),
                vec![
                    SqlParam::Text(format!("sup_{org}_{i:08}")),
                    SqlParam::Text(org.into()),
                    SqlParam::Text(format!("203.0.113.{}", i % 256)),
                    SqlParam::Number(created as f64),
                    number(expires),
                    number(deleted),
                    deleted.map_or(SqlParam::Null, |_| SqlParam::Text("api".into())),
                    number(ended_at),
                ],
            )
        })
        .collect()
}

/// 20 destinations; the first three with `attempts` delivery attempts each.
fn destinations(org: &str, attempts: usize) -> Vec<Statement> {
    let mut out = Vec::new();
    for d in 0..20 {
        let dest = format!("{org}-dest-{d:02}");
        out.push((
            "INSERT INTO destinations (id, org_id, name, kind, target, secret, min_severity, \
             alert_types, enabled, created_at, updated_at) \
             VALUES (?1, ?2, ?1, 'webhook', 'https://example.com/hook', NULL, 'low', NULL, 1, ?3, ?3)"
                .into(),
            vec![
                SqlParam::Text(dest.clone()),
                SqlParam::Text(org.into()),
                SqlParam::Number((CUTOFF + d * 1000) as f64),
            ],
        ));
        for i in 0..if d < 3 { attempts } else { 0 } {
            let id = format!("{dest}.{i}");
            let when = SqlParam::Number(at(i, attempts) as f64);
            out.push((
                "INSERT INTO deliveries (id, org_id, destination_id, alert_id, reason, status, \
                 attempts, queued_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, 'a', 'raise:1', 'delivered', 1, ?4, ?4, ?4)"
                    .into(),
                vec![
                    SqlParam::Text(id.clone()),
                    SqlParam::Text(org.into()),
                    SqlParam::Text(dest.clone()),
                    when.clone(),
                ],
            ));
            out.push((
                "INSERT INTO delivery_attempts (delivery_id, attempt, org_id, destination_id, at, \
                 status, latency_ms, error, outcome, next_attempt_at) \
                 VALUES (?1, 1, ?2, ?3, ?4, 200, 12, NULL, 'delivered', NULL)"
                    .into(),
                vec![
                    SqlParam::Text(id),
                    SqlParam::Text(org.into()),
                    SqlParam::Text(dest.clone()),
                    when,
                ],
            ));
        }
    }
    out
}

fn incidents(org: &str, n: usize) -> Vec<Statement> {
    (0..n)
        .map(|i| {
            (
                "INSERT INTO incidents (id, org_id, kind, events, event_ids, detail, at, refunded) \
                 VALUES (?1, ?2, 'undecodable_message', 3, '[]', 'd', ?3, 1)"
                    .into(),
                vec![
                    SqlParam::Text(format!("{org}-incident-{i}")),
                    SqlParam::Text(org.into()),
                    SqlParam::Number(at(i, n) as f64),
                ],
            )
        })
        .collect()
}

/// `n` raw log lines spread over the window like the events, a fifth of them IAM changes.
fn lines(org: &str, n: usize) -> Vec<Statement> {
    let rows: Vec<LogRow> = (0..n)
        .map(|i| {
            let ts = at(i, n) - 17;
            let (log_type, action) = match i % 5 {
                0 => (LogType::IamChange, Some(IamAction::PolicyAttached)),
                1 => (LogType::LoginFailure, None),
                _ => (LogType::NetworkEvent, None),
            };
            LogRow {
                org_id: org.into(),
                ts,
                hour: hour_bucket(ts),
                log_type,
                action,
                level: LogLevel::Info,
                service: "web".into(),
                namespace: "prod".into(),
                source_ip: Some(format!("198.51.100.{}", i % 200)),
                user: actor(i, n),
                hostname: None,
                target_ip: None,
                geo: None,
                device: None,
                vpn: None,
                detail: Default::default(),
                status_code: Some(200),
                resource: None,
                message: "GET / 200".into(),
                event_id: None,
                event_name: None,
            }
        })
        .collect();
    insert_statements(&rows, false, 1 << 20).expect("statements")
}

fn dataset() -> SqliteDb {
    let db = SqliteDb::migrated();
    let mut first_id = 1;
    for (org, n) in ORGS {
        run(crate::runtime::Db::batch(&db, &lines(org, n / 4))).expect("lines stored");
        store(&db, &events(org, n, first_id));
        let mut writes = alerts(org, n / 4, first_id);
        first_id += n as u128;
        writes.extend(suppressions(org, n / 8, n / 160));
        writes.extend(destinations(org, n / 24));
        writes.extend(incidents(org, n / 600));
        run(crate::runtime::Db::batch(&db, &writes)).expect("seeded");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM events WHERE org_id = 'org_a'", &[]),
        24_000
    );
    db
}

/// What every SEARCH of a table in a statement's plan must look like.
#[derive(Clone, Copy, Debug)]
enum Key {
    /// `(table, text)`: the part after `USING` contains `text`, e.g. `(org_id=? AND actor_id=?`.
    Seek(&'static str, &'static str),
    /// A walk of the window newest first that stops at the page (no key of its own).
    Walk(&'static str),
}

struct Case {
    what: String,
    stmt: Statement,
    keys: Vec<Key>,
    /// A page whose order comes from its index: no sort of all its matches, and about its own
    /// rows' worth of steps (`rows` it may skip or answer).
    ordered: Option<usize>,
    /// Selective: the index it names, and the organisation's newest-first index to compare with.
    walk: Option<(&'static str, &'static str)>,
}

fn case(what: impl Into<String>, stmt: Statement, keys: &[Key]) -> Case {
    Case {
        what: what.into(),
        stmt,
        keys: keys.to_vec(),
        ordered: None,
        walk: None,
    }
}

impl Case {
    fn ordered(mut self, rows: usize) -> Case {
        self.ordered = Some(rows);
        self
    }

    fn against(mut self, named: &'static str, org_index: &'static str) -> Case {
        self.walk = Some((named, org_index));
        self
    }
}

const EVENTS_BY_TIME: Key = Key::Seek("events", "(org_id=? AND created_at>");
const HOURS: Key = Key::Seek("event_counts", "(org_id=? AND hour>");

fn event_cases(db: &SqliteDb) -> Vec<Case> {
    let cursors = CursorKey::new("test-secret", ORG, "events");
    let build = |pairs: &[(&str, &str)]| {
        EventQuery::parse(&params(pairs), &cursors)
            .unwrap()
            .page_sql(ORG, UnixMs(CUTOFF))
    };
    // A cursor at the heavy actor's 120th newest event.
    let (page, _) = build(&[("actor_id", "heavy"), ("limit", "200")]);
    let row = &db.rows(&page.0, &page.1)[119];
    let cursor = cursors.encode(&Cursor {
        created_at: UnixMs(row["created_at"].as_i64().unwrap()),
        id: row["id"].as_str().unwrap().into(),
    });
    let day = |d: i64| UnixMs(NOW - d * DAY).iso_millis();
    let (from, to) = (day(20), day(19));
    let actor = Key::Seek("events", "(org_id=? AND actor_id=? AND created_at>");
    let name = Key::Seek("events", "(org_id=? AND event_name=? AND created_at>");
    let actor_walk = ("events_org_actor_created", "events_org_created");
    let name_walk = ("events_org_name_created", "events_org_created");
    let mut out = Vec::new();
    let mut both = |what: &str,
                    pairs: &[(&str, &str)],
                    keys: &[Key],
                    total_keys: &[Key],
                    rows: usize,
                    walk: Option<(&'static str, &'static str)>,
                    total_walk: bool| {
        let (page, total) = build(pairs);
        let mut p = case(format!("GET /events?{what} page"), page, keys).ordered(rows);
        let mut t = case(format!("GET /events?{what} total"), total, total_keys);
        if let Some((named, org_index)) = walk {
            p = p.against(named, org_index);
            if total_walk {
                t = t.against(named, org_index);
            }
        }
        out.extend([p, t]);
    };
    both(
        "",
        &[],
        &[EVENTS_BY_TIME],
        &[EVENTS_BY_TIME, HOURS],
        51,
        None,
        false,
    );
    both(
        "offset=150",
        &[("offset", "150")],
        &[EVENTS_BY_TIME],
        &[EVENTS_BY_TIME, HOURS],
        201,
        None,
        false,
    );
    both(
        "to=… (one day)",
        &[("from", from.as_str()), ("to", to.as_str())],
        &[EVENTS_BY_TIME],
        &[EVENTS_BY_TIME, HOURS],
        51,
        None,
        false,
    );
    both(
        "actor_id=rare",
        &[("actor_id", "rare")],
        &[actor],
        &[actor],
        51,
        Some(actor_walk),
        true,
    );
    both(
        "actor_id=heavy",
        &[("actor_id", "heavy")],
        &[actor],
        &[actor],
        51,
        None,
        false,
    );
    both(
        "actor_id=heavy&cursor=…",
        &[("actor_id", "heavy"), ("cursor", cursor.as_str())],
        &[actor],
        &[actor],
        51,
        None,
        false,
    );
    both(
        "actor_id=heavy&from=…&to=… (one day)",
        &[
            ("actor_id", "heavy"),
            ("from", from.as_str()),
            ("to", to.as_str()),
        ],
        &[actor],
        &[actor],
        51,
        None,
        false,
    );
    both(
        "actor_id=rare&severity=medium,high",
        &[("actor_id", "rare"), ("severity", "medium,high")],
        &[actor],
        &[actor],
        51,
        Some(actor_walk),
        true,
    );
    both(
        "actor_id=heavy&event_type=auth.login_success",
        &[("actor_id", "heavy"), ("event_type", "auth.login_success")],
        &[actor],
        &[actor],
        51,
        None,
        false,
    );
    both(
        "actor_id=rare&event_name=auth.login_failed",
        &[("actor_id", "rare"), ("event_name", "auth.login_failed")],
        &[actor],
        &[actor],
        51,
        Some(actor_walk),
        true,
    );
    both(
        "event_type=security.ip_blocked",
        &[("event_type", "security.ip_blocked")],
        &[name],
        &[name, HOURS],
        51,
        Some(name_walk),
        false,
    );
    // A routine name (crate::analytics::events::ROUTINE_NAMES, left out of the name index):
    // newest first until the page fills; a fifth of the events here.
    both(
        "event_type=auth.login_success",
        &[("event_type", "auth.login_success")],
        &[Key::Walk("events")],
        &[EVENTS_BY_TIME, HOURS],
        51 * 6,
        None,
        false,
    );
    both(
        "event_name=auth.login_failed&severity=medium&cursor=…",
        &[
            ("event_name", "auth.login_failed"),
            ("severity", "medium"),
            ("cursor", cursor.as_str()),
        ],
        &[name],
        &[name, HOURS],
        51,
        None,
        false,
    );
    // No key of its own: newest first until the page fills (a common severity here).
    both(
        "severity=medium",
        &[("severity", "medium")],
        &[Key::Walk("events")],
        &[EVENTS_BY_TIME, HOURS],
        51 * 2,
        None,
        false,
    );
    out
}

fn alert_cases() -> Vec<Case> {
    let cursors = CursorKey::new("test-secret", ORG, "alerts");
    let build = |pairs: &[(&str, &str)]| {
        AlertQuery::parse(&params(pairs), &cursors)
            .unwrap()
            .page_sql(ORG, UnixMs(CUTOFF))
    };
    let cursor = cursors.encode(&Cursor {
        created_at: UnixMs(at(2_000, 6_000)),
        id: alert_id(1, 2_000),
    });
    let actor = Key::Seek(
        "alerts",
        "alerts_org_actor (org_id=? AND actor_id=? AND created_at>",
    );
    let status = Key::Seek("alerts", "alerts_org_status (org_id=? AND status=?");
    let kind = Key::Seek("alerts", "(org_id=? AND alert_type=?");
    let suppressed = Key::Seek("alerts", "alerts_org_suppressed (org_id=? AND created_at>");
    let by_time = Key::Seek("alerts", "(org_id=? AND created_at>");
    let mut out = Vec::new();
    let mut both = |what: &str,
                    pairs: &[(&str, &str)],
                    key: Key,
                    rows: Option<usize>,
                    walk: Option<(&'static str, &'static str)>,
                    page_too: bool| {
        let (page, total) = build(pairs);
        let mut p = case(format!("GET /alerts?{what} page"), page, &[key]);
        let mut t = case(format!("GET /alerts?{what} total"), total, &[key]);
        if let Some(rows) = rows {
            p = p.ordered(rows);
        }
        if let Some((named, org_index)) = walk {
            if page_too {
                p = p.against(named, org_index);
            }
            t = t.against(named, org_index);
        }
        out.extend([p, t]);
    };
    let actor_walk = Some(("alerts_org_actor", "alerts_org_created"));
    let status_walk = Some(("alerts_org_status", "alerts_org_created"));
    both("", &[], by_time, Some(101), None, true);
    both(
        "actor_id=rare",
        &[("actor_id", "rare")],
        actor,
        Some(101),
        actor_walk,
        true,
    );
    both(
        "actor_id=heavy",
        &[("actor_id", "heavy")],
        actor,
        Some(101),
        None,
        true,
    );
    both(
        "actor_id=heavy&status=resolved&severity=low",
        &[
            ("actor_id", "heavy"),
            ("status", "resolved"),
            ("severity", "low"),
        ],
        actor,
        Some(101 * 8),
        None,
        true,
    );
    both(
        "status=open",
        &[("status", "open")],
        status,
        Some(101),
        status_walk,
        true,
    );
    both(
        "status=acknowledged&cursor=…",
        &[("status", "acknowledged"), ("cursor", cursor.as_str())],
        status,
        Some(101),
        status_walk,
        true,
    );
    // Several statuses: each one's range, merged by a sort of all their matches — what the
    // total visits anyway, so not page-sized: a page of common statuses costs more than the walk
    // that stops at the page, one of rare statuses far less.
    both(
        "status=open,safe",
        &[("status", "open,safe")],
        status,
        None,
        status_walk,
        false,
    );
    both(
        "status=suppressed",
        &[("status", "suppressed")],
        suppressed,
        Some(101),
        None,
        true,
    );
    both(
        "alert_type=impossible_travel",
        &[("alert_type", "impossible_travel")],
        kind,
        None,
        Some(("alerts_dedup", "alerts_org_created")),
        true,
    );
    both(
        "alert_type=brute_force&status=open",
        &[("alert_type", "brute_force"), ("status", "open")],
        kind,
        None,
        None,
        true,
    );
    // No key of their own: newest first until the page fills.
    both(
        "severity=high",
        &[("severity", "high")],
        Key::Walk("alerts"),
        Some(101 * 4),
        None,
        true,
    );
    both(
        "status=suppressed,open",
        &[("status", "suppressed,open")],
        Key::Walk("alerts"),
        Some(101 * 8),
        None,
        true,
    );
    out
}

fn other_cases() -> Vec<Case> {
    let list = |pairs: &[(&str, &str)]| {
        let q = ListQuery::parse(&params(pairs)).unwrap();
        suppress::list_statement(ORG, q.ended, UnixMs(NOW), UnixMs(CUTOFF), q.limit)
    };
    let [incident_total, incidents_recent] = health_statements(&OrgId(ORG.into()), UnixMs(CUTOFF));
    let attempts = Key::Seek("t", "(org_id=? AND destination_id=?");
    let delivery = Key::Seek("l", "(id=?");
    let incident = Key::Seek("incidents", "(org_id=? AND at>");
    vec![
        case(
            "GET /suppressions",
            list(&[]),
            &[Key::Seek(
                "suppressions",
                "suppressions_org_ended (org_id=? AND ended_at",
            )],
        )
        .against("suppressions_org_ended", "suppressions_org_created"),
        case(
            "GET /suppressions?include=expired&limit=50",
            list(&[("include", "expired"), ("limit", "50")]),
            &[Key::Seek("suppressions", "(org_id=?")],
        )
        .ordered(51),
        case(
            "GET /destinations",
            destination::list_statement(ORG),
            &[Key::Seek("destinations", "(org_id=?")],
        )
        .ordered(21),
        case(
            "GET /destinations/:id/deliveries",
            ledger::attempts_statement(ORG, "org_a-dest-01", 50),
            &[attempts, delivery],
        )
        .ordered(51),
        case(
            "GET /destinations/:id/deliveries (none yet)",
            ledger::attempts_statement(ORG, "org_a-dest-19", 50),
            &[attempts, delivery],
        )
        .ordered(1),
        case("GET /health incidents total", incident_total, &[incident]),
        case(
            "GET /health incidents recent",
            incidents_recent,
            &[incident],
        )
        .ordered(6),
    ]
}

/// The dashboard's two lists of log items (raw lines in `logs`, events' items in their `events`
/// rows): each merges its two tables' newest-first index scans up to its limit, so a page takes
/// about its own rows' steps whatever the window holds (24 h: about 1,000 items, 7 days: seven
/// times that).
fn dashboard_cases() -> Vec<Case> {
    let items = [
        Key::Seek("logs", "logs_org_ts (org_id=? AND ts>"),
        Key::Seek("events", "events_org_created (org_id=? AND created_at>"),
        // The items a filtered list picked, read by row id.
        Key::Seek("logs", "INTEGER PRIMARY KEY (rowid=?)"),
        Key::Seek("events", "INTEGER PRIMARY KEY (rowid=?)"),
    ];
    let iam = [
        Key::Seek("logs", "logs_iam_ts (org_id=? AND ts>"),
        Key::Seek("events", "events_iam (org_id=? AND created_at>"),
    ];
    let mut out = Vec::new();
    for hours in [24, 168] {
        for service in [None, Some("web")] {
            let q = DashboardQuery {
                hours,
                log_limit: 50,
                iam_limit: 20,
                service: service.map(str::to_string),
                ..DashboardQuery::default()
            };
            let w = Window::new(q.hours, UnixMs(NOW), UnixMs(CUTOFF));
            let mut statements = dashboard::statements(&q, &w, ORG);
            let label = format!(
                "hours={hours}{}",
                service.map_or(String::new(), |s| format!("&service={s}"))
            );
            // Filtered, a list also passes over the other services' items until it has its own
            // (web's are a fifth, all raw lines), newest first across both tables: what one
            // table's walk took before 0019. Were the filter pushed into each table's arm, the
            // events' arm, with no web item, would walk its whole window first (7 days: more
            // than twice these bounds).
            let walked = if service.is_some() { 4 } else { 1 };
            out.push(
                case(
                    format!("GET /ui/mock-data?{label} iamChanges"),
                    statements.remove(dashboard::IAM),
                    &iam,
                )
                .ordered(2 * 21 * walked),
            );
            out.push(
                case(
                    format!("GET /ui/mock-data?{label} logs"),
                    statements.remove(dashboard::LOGS),
                    &items,
                )
                .ordered(2 * 51 * walked),
            );
        }
    }
    out
}

/// `SEARCH <table> USING <rest>` or `SCAN <table>…` of one plan line.
fn access(detail: &str) -> Option<(&str, &str, &str)> {
    let (verb, rest) = detail.split_once(' ')?;
    if verb != "SEARCH" && verb != "SCAN" {
        return None;
    }
    let (table, using) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((verb, table, using))
}

/// Checks one case; answers its line of the report.
fn check(db: &SqliteDb, stats: &str, c: &Case) -> String {
    let (sql, params) = &c.stmt;
    let plan = db.plan(sql, params);
    let shown = format!("{} ({stats}):\n  {sql}\n  {}", c.what, plan.join("\n  "));
    let mut searched = 0;
    for detail in &plan {
        let Some((verb, table, using)) = access(detail) else {
            continue;
        };
        if verb == "SCAN" {
            // `r`, `pick`: the dashboard's wrappers over its own statement's rows (the one-row
            // JSON, the filtered lists' newest-first scan and the items it picked).
            assert!(
                table == "json_each"
                    || table == "r"
                    || table == "pick"
                    || detail.starts_with("SCAN CONSTANT ROW"),
                "a table scan: {shown}"
            );
            continue;
        }
        searched += 1;
        let fits = c.keys.iter().any(|k| match *k {
            Key::Seek(t, text) => t == table && using.contains(text),
            Key::Walk(t) => t == table && using.contains("(org_id=? AND created_at>"),
        });
        assert!(
            fits,
            "SEARCH {table} {using} is not one of {:?}: {shown}",
            c.keys
        );
    }
    assert!(searched > 0, "no search at all: {shown}");
    let (rows, steps) = db.steps(sql, params);
    if let Some(bound) = c.ordered {
        assert!(
            !plan.iter().any(|d| d.contains("TEMP B-TREE FOR ORDER BY")),
            "sorts all its matches: {shown}"
        );
        let most = STEPS_PER_ROW * bound as i64 + PAGE_STEPS;
        assert!(
            steps <= most,
            "{steps} steps for a page of {rows} rows (at most {most}): {shown}"
        );
    }
    let mut line = format!("{:<64} {:>6} rows {:>9} steps", c.what, rows, steps);
    if let Some((named, org_index)) = c.walk {
        let walking = sql.replace(
            &format!("INDEXED BY {named}"),
            &format!("INDEXED BY {org_index}"),
        );
        assert_ne!(&walking, sql, "{named} is not named: {shown}");
        let (walk_rows, walk_steps) = db.steps(&walking, params);
        assert_eq!(walk_rows, rows, "the same answer either way: {shown}");
        assert!(
            steps * WALK_FRACTION <= walk_steps,
            "{steps} steps, walking {org_index} {walk_steps}: {shown}"
        );
        line.push_str(&format!(" (walking {org_index}: {walk_steps})"));
    }
    format!("{line}\n    {}", plan.join("; "))
}

#[test]
fn every_list_query_seeks_its_filter_with_and_without_statistics() {
    let db = dataset();
    for stats in ["no statistics", "after ANALYZE"] {
        if stats == "after ANALYZE" {
            db.exec("ANALYZE", &[]);
            assert!(db.count("SELECT count(*) FROM sqlite_stat1", &[]) > 0);
        }
        let mut cases = event_cases(&db);
        cases.extend(alert_cases());
        cases.extend(other_cases());
        cases.extend(dashboard_cases());
        let report: Vec<String> = cases.iter().map(|c| check(&db, stats, c)).collect();
        eprintln!("list query plans, {stats}:\n{}", report.join("\n"));
    }
}
