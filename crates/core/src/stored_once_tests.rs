//! Migration 0019 (each event stored once, its log item in its own row) against the code before
//! it: the same data, stored the way a running installation stored it before the migration
//! (`crate::testing::legacy`: each event also a `logs` row) and then migrated, and stored by
//! today's code, answers every reader alike — every dashboard response (filtered, cut at its
//! limits, with items stamped after the window and items at the same millisecond as others),
//! detection's history reads and verdicts, the Loki push's brute-force history, the threat
//! score's counts and `GET /events` pages and totals — and holds the same items, row ids and
//! rollups. (The answers were also compared, once, with those of the code before 0019 on its own
//! schema: identical.)
use crate::access::ids::{EventId, OrgId};
use crate::analytics::dashboard::{self, DashboardQuery, Window};
use crate::analytics::events::EventQuery;
use crate::api::sql::SqlParam;
use crate::detect::history::HistoryReads;
use crate::detect::{DetectionConfig, DetectionEvent, HistoryRequest};
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::intel::enrichment::threat_history_statements;
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::logs::classify::{IamAction, LogLevel, LogType};
use crate::logs::detect::{history_statements, FailedLine};
use crate::logs::{insert_statements, LogRow};
use crate::runtime::Db;
use crate::testing::{legacy, run, store, SqliteDb};
use crate::time::UnixMs;
use serde_json::{json, Map, Value};

const NOW: i64 = 1_769_764_500_123;
const HOUR: i64 = 3_600_000;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn opt(r: &mut Rng, xs: &[&str]) -> Option<String> {
    let i = r.below(xs.len() as u64 + 1) as usize;
    xs.get(i).map(|s| s.to_string())
}

fn line(r: &mut Rng, org: &str, ts: i64) -> LogRow {
    let types = [
        LogType::LoginFailure,
        LogType::NetworkScan,
        LogType::NetworkEvent,
        LogType::LoginSuccess,
        LogType::IamChange,
    ];
    let t = types[r.below(5) as usize];
    LogRow {
        org_id: org.into(),
        ts,
        hour: ts - ts.rem_euclid(HOUR),
        log_type: t,
        action: (t == LogType::IamChange).then_some(IamAction::PolicyAttached),
        level: [
            LogLevel::Info,
            LogLevel::Warning,
            LogLevel::Error,
            LogLevel::Critical,
        ][r.below(4) as usize],
        service: r.pick(&["web", "auth", "sshd"]).into(),
        namespace: r.pick(&["prod", "litesoc", "default"]).into(),
        source_ip: opt(
            r,
            &["203.0.113.7", "198.51.100.9", "127.0.0.1", "2001:db8::1"],
        ),
        user: opt(r, &["bob", "u1", "alice"]),
        hostname: opt(r, &["h1"]),
        target_ip: opt(r, &["10.0.0.1"]),
        geo: opt(r, &["DE", "FR"]),
        device: opt(r, &["ios"]),
        vpn: [None, Some(true), Some(false)][r.below(3) as usize],
        detail: Default::default(),
        status_code: [None, Some(200), Some(401), Some(429)][r.below(4) as usize],
        resource: (t == LogType::IamChange).then(|| "bucket".to_string()),
        message: "a line".into(),
        event_id: None,
        event_name: None,
    }
}

fn event(r: &mut Rng, n: u128, org: &str, at: i64) -> EventRecord {
    let name = r.pick(&[
        "auth.login_failed",
        "auth.login_failed",
        "auth.login_success",
        "admin.user_created",
        "authz.role_changed",
        "authz.access_denied",
        "security.ip_blocked",
        "custom.login_failed_attempt",
        "data.export",
        "security.rate_limit_exceeded",
    ]);
    let mut metadata = Map::new();
    if r.below(3) == 0 {
        metadata.insert("service".into(), json!(r.pick(&["web", "auth", "billing"])));
    }
    if r.below(3) == 0 {
        metadata.insert("namespace".into(), json!(r.pick(&["prod", "litesoc", " "])));
    }
    if r.below(4) == 0 {
        metadata.insert("hostname".into(), json!("host-1"));
    }
    if r.below(4) == 0 {
        metadata.insert("status_code".into(), json!(r.pick(&["401", "200", "x"])));
    }
    if r.below(4) == 0 {
        metadata.insert(
            "message".into(),
            json!(r.pick(&["bad password", "", "role changed"])),
        );
    }
    if r.below(5) == 0 {
        metadata.insert("device".into(), json!("android"));
    }
    if r.below(5) == 0 {
        metadata.insert("resource".into(), json!("repo-7"));
    }
    if r.below(5) == 0 {
        metadata.insert("target_ip".into(), json!("10.1.1.1"));
    }
    if r.below(5) == 0 {
        metadata.insert("ip".into(), json!("203.0.113.7"));
    }
    if r.below(5) == 0 {
        metadata.insert("device_id".into(), json!(r.pick(&["d1", "d2"])));
    }
    let mut rec = EventRecord::assign(
        NewEvent {
            event_name: name.into(),
            actor_id: opt(r, &["bob", "u1", " bob ", "alice"]),
            actor_email: None,
            user_ip: opt(
                r,
                &[
                    "203.0.113.7",
                    " 203.0.113.7 ",
                    "",
                    "198.51.100.9",
                    "2001:db8::1",
                    "127.0.0.1",
                ],
            ),
            metadata,
        },
        &OrgId(org.into()),
        EventId(uuid::Uuid::from_u128(n)),
        UnixMs(at),
        None,
    );
    rec.enrichment.country_code = opt(r, &["DE", "US", ""]);
    rec.enrichment.is_vpn = [None, Some(true), Some(false)][r.below(3) as usize];
    rec.enrichment.latitude = Some(52.5);
    rec.enrichment.longitude = Some(13.4 + r.below(100) as f64);
    rec
}

/// Fills `db` through the write paths (lines through the Loki insert, events through the
/// consumer's insert; as before 0019 with `before_0019`), interleaved, with redeliveries, ties
/// between lines and events, future-stamped lines, padded and blank addresses and actors.
/// Returns the line ids (`<id>-<sec>`).
fn fill(db: &SqliteDb, before_0019: bool) -> Vec<String> {
    let mut r = Rng(0x9e3779b97f4a7c15);
    let mut n = 0u128;
    let mut line_ids = Vec::new();
    let mut redeliver = Vec::new();
    for round in 0..40 {
        let org = ["org_a", "org_a", "org_b"][r.below(3) as usize];
        // A push of lines.
        let rows: Vec<LogRow> = (0..1 + r.below(12))
            .map(|_| {
                let ts = if r.below(15) == 0 {
                    NOW + 1 + r.below(300_000) as i64
                } else {
                    NOW - (r.below(30 * 60) as i64) * 60_000
                };
                line(&mut r, org, ts)
            })
            .collect();
        let res = if before_0019 {
            legacy::store_lines(db, &rows, true)
        } else {
            run(db.batch(&insert_statements(&rows, true, 4096).unwrap())).unwrap()
        };
        for rows in res {
            for row in rows {
                if let (Some(id), Some(ts)) = (row["id"].as_i64(), row["ts"].as_i64()) {
                    line_ids.push(format!("{id}-{}", ts / 1000));
                }
            }
        }
        // A consumer batch of events, some at the same millisecond as a line.
        let batch: Vec<EventRecord> = (0..1 + r.below(10))
            .map(|_| {
                n += 1;
                let at = if r.below(4) == 0 {
                    rows[0].ts.min(NOW)
                } else {
                    NOW - (r.below(30 * 60) as i64) * 60_000 - (n as i64 % 7)
                };
                event(&mut r, n, org, at)
            })
            .collect();
        store_events(db, &batch, before_0019);
        if round % 7 == 3 {
            redeliver.push(batch);
        }
        if round % 11 == 5 {
            for b in redeliver.drain(..) {
                store_events(db, &b, before_0019);
            }
        }
    }
    for b in redeliver {
        store_events(db, &b, before_0019);
    }
    line_ids
}

fn store_events(db: &SqliteDb, batch: &[EventRecord], before_0019: bool) {
    if before_0019 {
        legacy::store_events(db, batch, true);
    } else {
        store(db, batch);
    }
}

fn alerts(db: &SqliteDb, line_ids: &[String]) {
    let ev = |i: u128| EventId(uuid::Uuid::from_u128(i)).to_string();
    let triggers = [
        ev(3),
        ev(10),
        ev(25),
        line_ids[2].clone(),
        line_ids[9].clone(),
        "999-1".to_string(),
        ev(77),
        ev(4000),
    ];
    for (i, t) in triggers.iter().enumerate() {
        db.exec(
            "INSERT INTO alerts (id, org_id, alert_type, severity, status, title, description, source_ip, actor_id, \
             dedup_key, trigger_event_id, metadata, created_at, updated_at) VALUES (?1, ?2, 'brute_force_attack', ?3, \
             'open', 't', 'd', ?4, 'bob', ?1, ?5, '{}', ?6, ?6)",
            &[
                SqlParam::Text(format!("alert-{i}")),
                SqlParam::Text(if i % 3 == 2 { "org_b" } else { "org_a" }.into()),
                SqlParam::Text(["low", "medium", "high", "critical"][i % 4].into()),
                SqlParam::Text(["203.0.113.7", "198.51.100.9", "2001:db8::1"][i % 3].into()),
                SqlParam::Text(t.clone()),
                SqlParam::Number((NOW - i as i64 * 600_000) as f64),
            ],
        );
    }
}

fn answers(db: &SqliteDb, line_ids: &[String]) -> Value {
    let mut out = Map::new();
    // Dashboard.
    for org in ["org_a", "org_b"] {
        for (label, params) in [
            ("default", vec![]),
            ("service auth", vec![("service", "auth")]),
            ("service billing", vec![("service", "billing")]),
            ("namespace litesoc", vec![("namespace", "litesoc")]),
            ("namespace prod", vec![("namespace", "prod")]),
            (
                "small",
                vec![
                    ("log_limit", "7"),
                    ("iam_limit", "2"),
                    ("anomaly_limit", "3"),
                ],
            ),
            ("hours 1", vec![("hours", "1")]),
            ("hours 168", vec![("hours", "168"), ("log_limit", "5000")]),
        ] {
            let pairs: Vec<(String, String)> = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let q = DashboardQuery::parse(&pairs).unwrap();
            for (end, cutoff) in [
                (NOW, NOW - 30 * 86_400_000),
                (NOW - 20 * 60_000, NOW - 30 * 86_400_000),
            ] {
                let w = Window::new(q.hours, UnixMs(end), UnixMs(cutoff));
                let rows = run(db.batch(&dashboard::statements(&q, &w, org))).unwrap();
                for redact in [false, true] {
                    let v = dashboard::assemble(rows.clone(), &w, redact).unwrap();
                    out.insert(
                        format!("dashboard {org} {label} end {end} redact {redact}"),
                        v,
                    );
                }
            }
        }
    }
    // Detection history reads.
    let since = Some(UnixMs(NOW - 24 * HOUR));
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
    let mut trig = Vec::new();
    for (i, (ip, actor)) in [
        ("203.0.113.7", "bob"),
        ("198.51.100.9", "u1"),
        ("2001:db8::1", "alice"),
        ("127.0.0.1", " bob "),
    ]
    .iter()
    .enumerate()
    {
        for org in ["org_a", "org_b"] {
            let mut e = DetectionEvent::new(
                format!("00000000-0000-4000-8000-{i:012}"),
                "auth.login_failed",
                UnixMs(NOW),
            );
            e.source_ip = Some(ip.to_string());
            e.actor_id = Some(actor.to_string());
            trig.push((e, org.to_string(), request));
        }
    }
    let mut reads = HistoryReads::new(trig);
    for (i, s) in reads.statements().iter().enumerate() {
        out.insert(format!("history {i}"), json!(db.rows(&s.0, &s.1)));
    }
    // Loki brute-force history.
    let lines: Vec<FailedLine> = [
        ("203.0.113.7", Some("bob")),
        ("198.51.100.9", None),
        ("2001:db8::1", Some("alice")),
    ]
    .iter()
    .enumerate()
    .map(|(i, (ip, user))| FailedLine {
        id: format!("{}-{}", 90_000 + i, NOW / 1000),
        at: UnixMs(NOW - i as i64 * 1000),
        ip: Some(ip.to_string()),
        user: user.map(str::to_string),
    })
    .collect();
    let mut config = DetectionConfig::default();
    config.brute_force_ip.window_minutes = 24 * 60;
    config.brute_force_account.window_minutes = 24 * 60;
    for org in ["org_a", "org_b"] {
        for (kind, s) in history_statements(org, &lines, &config) {
            out.insert(format!("loki {org} {kind:?}"), json!(db.rows(&s.0, &s.1)));
        }
    }
    // Enrichment's threat history.
    for org in ["org_a", "org_b"] {
        let ips = [
            "203.0.113.7",
            " 203.0.113.7 ",
            "",
            "198.51.100.9",
            "2001:db8::1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let actors = ["bob", " bob ", "u1", "alice"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (i, s) in threat_history_statements(org, &ips, &actors, UnixMs(NOW))
            .iter()
            .enumerate()
        {
            out.insert(format!("threat {org} {i}"), json!(db.rows(&s.0, &s.1)));
        }
    }
    // GET /events.
    for org in ["org_a", "org_b"] {
        for (label, q) in [
            (
                "all",
                EventQuery {
                    limit: 500,
                    ..EventQuery::default()
                },
            ),
            (
                "actor",
                EventQuery {
                    limit: 500,
                    actor_id: Some("bob".into()),
                    ..EventQuery::default()
                },
            ),
            (
                "name",
                EventQuery {
                    limit: 5,
                    event_name: Some("auth.login_failed".into()),
                    ..EventQuery::default()
                },
            ),
        ] {
            let (page, total) = q.page_sql(org, UnixMs(NOW - 30 * 86_400_000));
            out.insert(
                format!("events {org} {label} page"),
                json!(db.rows(&page.0, &page.1)),
            );
            out.insert(
                format!("events {org} {label} total"),
                json!(db.rows(&total.0, &total.1)),
            );
        }
    }
    out.insert("line ids".into(), json!(line_ids));
    Value::Object(out)
}

/// Detection verdicts: a new batch of events detected over the stored history.
fn verdicts(db: &SqliteDb) -> Value {
    let mut r = Rng(77);
    let batch: Vec<(EventRecord, Plan)> = (0..60u128)
        .map(|i| {
            let mut e = event(
                &mut r,
                10_000 + i,
                ["org_a", "org_b"][i as usize % 2],
                NOW + 1000 + i as i64,
            );
            if i % 3 == 0 {
                e.event_name = "auth.login_failed".into();
            }
            (e, Plan::Pro)
        })
        .collect();
    let records: Vec<EventRecord> = batch.iter().map(|(e, _)| e.clone()).collect();
    store(db, &records);
    run(crate::detect::batch::detect_batch(
        db,
        &batch,
        &NetworkLists::default(),
        UnixMs(NOW + 100_000),
    ))
    .unwrap();
    json!(db.rows(
        "SELECT org_id, alert_type, severity, status, title, description, source_ip, actor_id, dedup_key, \
         trigger_event_id, created_at, suppressed_by FROM alerts WHERE id NOT LIKE 'alert-%' ORDER BY org_id, alert_type, dedup_key, created_at",
        &[]
    ))
}

/// Every rollup table, sorted, once every hour is in `log_source_hours` (a database migrated
/// to migrations/0030_rollups_folded.sql counts them there already, one filled after it once
/// its hours have closed).
fn rollups(db: &SqliteDb) -> Vec<Vec<String>> {
    run(db.batch(&crate::logs::rollups::catch_up(NOW + 30 * 86_400_000, 0))).expect("folded");
    [
        "log_hourly",
        "log_source_hourly",
        "log_source_hours",
        "log_source_daily",
        "log_attack_hourly",
        "log_attack_hours",
        "log_attack_daily",
        "log_attackers",
        "log_attacker_ips",
        "event_counts",
    ]
    .iter()
    .map(|t| {
        let mut rows: Vec<String> = db
            .rows(&format!("SELECT * FROM {t}"), &[])
            .iter()
            .map(Value::to_string)
            .collect();
        rows.sort();
        rows
    })
    .collect()
}

#[test]
fn a_database_filled_before_0019_answers_every_reader_as_one_filled_after_it() {
    let before = SqliteDb::migrated_before("0019");
    let old_ids = fill(&before, true);
    assert!(
        before.count("SELECT count(*) FROM logs WHERE event_id IS NOT NULL", &[]) > 100,
        "events' items in `logs`, as then"
    );
    alerts(&before, &old_ids);
    before.migrate_from("0019");

    let today = SqliteDb::migrated();
    let ids = fill(&today, false);
    alerts(&today, &ids);

    assert_eq!(old_ids, ids, "raw lines numbered alike");
    let all =
        |db: &SqliteDb, table: &str| db.rows(&format!("SELECT * FROM {table} ORDER BY id"), &[]);
    for table in ["items", "events", "logs"] {
        assert_eq!(all(&before, table), all(&today, table), "{table}");
    }
    assert_eq!(
        before.count("SELECT count(*) FROM logs WHERE event_id IS NOT NULL", &[]),
        0
    );
    assert_eq!(
        rollups(&before),
        rollups(&today),
        "the rollups, carried over"
    );

    let (want, got) = (answers(&today, &ids), answers(&before, &old_ids));
    let (want, got) = (want.as_object().unwrap(), got.as_object().unwrap());
    assert_eq!(want.len(), got.len());
    for (k, v) in want {
        assert_eq!(got.get(k), Some(v), "{k}");
    }
    // Something to compare: full lists, cut lists, events and lines in them.
    let page = &want["dashboard org_a default end 1769764500123 redact false"];
    let logs = page["logs"].as_array().unwrap();
    assert!(logs.len() > 100 && logs.iter().any(|l| l["id"].as_str().unwrap().len() == 36));
    assert!(!page["iamChanges"].as_array().unwrap().is_empty());
    assert!(!page["topAttackers"].as_array().unwrap().is_empty());
    assert_eq!(verdicts(&before), verdicts(&today), "detection's verdicts");
}
