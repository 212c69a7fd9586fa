use super::*;
use crate::api::sql::SqlParam;
use crate::limits::plan::Plan;
use crate::testing::sqlite::SqliteDb;

const NOW: UnixMs = UnixMs(1_769_764_500_000);

#[test]
fn the_agents_own_body_parses() {
    let hb = Heartbeat::parse(
        br#"{"hostname":" web-1 ","ip_address":"10.0.0.5","agent_version":"1.4.2",
            "recent_logs":["Failed password for root from 203.0.113.9 port 22 ssh2"]}"#,
    )
    .unwrap();
    assert_eq!(hb.hostname, "web-1");
    assert_eq!(hb.ip_address.as_deref(), Some("10.0.0.5"));
    assert_eq!(hb.recent_logs.len(), 1);
    // `recent_logs` is left out when the agent has nothing (omitempty).
    let quiet =
        Heartbeat::parse(br#"{"hostname":"web-1","ip_address":"0.0.0.0","agent_version":"1.4.2"}"#)
            .unwrap();
    assert!(quiet.recent_logs.is_empty());
}

#[test]
fn long_lists_keep_their_newest_lines_and_long_lines_are_cut() {
    let lines: Vec<String> = (0..15)
        .map(|i| format!("line {i} {}", "x".repeat(3000)))
        .collect();
    let body = json!({"hostname": "h", "recent_logs": lines}).to_string();
    let hb = Heartbeat::parse(body.as_bytes()).unwrap();
    assert_eq!(hb.recent_logs.len(), MAX_RECENT_LOGS);
    assert!(hb.recent_logs[0].starts_with("line 5 "));
    assert!(hb
        .recent_logs
        .iter()
        .all(|l| l.chars().count() == MAX_LOG_CHARS));
}

#[test]
fn bad_bodies_name_their_fields() {
    for (body, field) in [
        (&br#"{}"#[..], "hostname"),
        (br#"{"hostname":"  "}"#, "hostname"),
        (br#"{"hostname":7}"#, "hostname"),
        (br#"{"hostname":"h","recent_logs":"one line"}"#, "recent_logs"),
        (br#"{"hostname":"h","recent_logs":["ok",3]}"#, "recent_logs[1]"),
        (br#"{"hostname":"h","agent_version":"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#, "agent_version"),
        (br#"[1,2]"#, "body"),
        (br#"not json"#, "body"),
    ] {
        let e = Heartbeat::parse(body).unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.details[0].field, field, "{}", String::from_utf8_lossy(body));
    }
}

/// Runs a beat; the rows it changed.
fn beat(db: &SqliteDb, body: &str, at: UnixMs) -> i64 {
    let (sql, params) = Heartbeat::parse(body.as_bytes())
        .unwrap()
        .upsert("org_a", at);
    db.exec(&sql, &params);
    db.count("SELECT changes()", &[])
}

fn agents(db: &SqliteDb, org: &str, now: UnixMs) -> Vec<Value> {
    let (sql, params) = list_statement(org);
    db.rows(&sql, &params)
        .into_iter()
        .map(|row| {
            serde_json::from_value::<AgentRow>(row)
                .unwrap()
                .to_json(now)
        })
        .collect()
}

#[test]
fn beats_update_one_row_and_the_state_follows_the_last_beat() {
    let db = SqliteDb::migrated();
    let first = r#"{"hostname":"web-1","agent_version":"1.4.1","recent_logs":["a","b"]}"#;
    assert_eq!(beat(&db, first, NOW), 1);
    beat(
        &db,
        r#"{"hostname":"web-1","agent_version":"1.4.2"}"#,
        UnixMs(NOW.0 + 60_000),
    );
    beat(&db, r#"{"hostname":"db-1"}"#, NOW);
    // Late: last_seen never goes back.
    beat(&db, r#"{"hostname":"web-1"}"#, UnixMs(NOW.0 - 1_000));
    let later = UnixMs(NOW.0 + 7 * 60_000);
    let list = agents(&db, "org_a", later);
    assert_eq!(list.len(), 2);
    let web = &list[1];
    assert_eq!(web["hostname"], "web-1");
    assert_eq!(web["heartbeats"], 3);
    assert_eq!(web["agent_version"], Value::Null, "the last beat's version");
    assert_eq!(
        web["recent_logs"],
        json!(["a", "b"]),
        "an empty beat keeps the last lines"
    );
    assert_eq!(web["first_seen"], NOW.iso_millis());
    assert_eq!(web["seconds_since_seen"], 360);
    assert_eq!(
        web["status"], "online",
        "six minutes: the idle cadence and its grace"
    );
    assert_eq!(list[0]["status"], "stale");
    assert!(agents(&db, "org_b", later).is_empty(), "per organisation");
}

#[test]
fn an_organisation_holds_at_most_max_agents() {
    let db = SqliteDb::migrated();
    let host = |h: String| format!(r#"{{"hostname":"{h}"}}"#);
    for i in 0..MAX_AGENTS {
        assert_eq!(beat(&db, &host(format!("h{i}")), NOW), 1);
    }
    assert_eq!(
        beat(&db, &host("one-more".into()), NOW),
        0,
        "refused: the caller says so"
    );
    assert_eq!(
        beat(&db, &host("h7".into()), NOW),
        1,
        "a known host still beats"
    );
}

#[test]
fn the_sweep_reports_each_silence_once_for_organisations_that_ask() {
    let db = SqliteDb::migrated();
    for (org, plan) in [("org_a", "pro"), ("org_b", "pro")] {
        db.exec(
            "INSERT INTO orgs (id, name, plan, created_at) VALUES (?1, ?1, ?2, 0)",
            &[SqlParam::Text(org.into()), SqlParam::Text(plan.into())],
        );
    }
    db.exec(
        "INSERT INTO detection_settings (org_id, overrides, updated_by, updated_at) \
         VALUES ('org_a', '{\"agents\":{\"stale_alert_minutes\":10}}', 't', 0), \
         ('org_b', '{\"agents\":{\"stale_alert_minutes\":0}}', 't', 0)",
        &[],
    );
    let at = |min: i64| UnixMs(NOW.0 - min * 60_000);
    let beat_as = |org: &str, host: &str, t: UnixMs| {
        let (sql, params) = Heartbeat::parse(
            format!(r#"{{"hostname":"{host}","ip_address":"10.0.0.9"}}"#).as_bytes(),
        )
        .unwrap()
        .upsert(org, t);
        db.exec(&sql, &params);
    };
    beat_as("org_a", "silent", at(11));
    beat_as("org_a", "quiet", at(9));
    beat_as("org_b", "silent", at(60));
    let sweep = |now: UnixMs| -> Vec<SilentAgent> {
        let (sql, params) = silent_statement(now);
        db.rows(&sql, &params)
            .into_iter()
            .map(|r| serde_json::from_value(r).unwrap())
            .collect()
    };
    let found = sweep(NOW);
    assert_eq!(
        found.len(),
        1,
        "only org_a asked, and only 'silent' is past 10 min"
    );
    let s = &found[0];
    assert_eq!((s.hostname.as_str(), s.minutes), ("silent", 10.0));
    let (sql, params) = crate::shards::registry_statement(&["org_a", "org_gone"]);
    let plans = db.rows(&sql, &params);
    assert_eq!(plan_of(&plans, &s.org_id), Some(Plan::Pro));
    assert_eq!(plan_of(&plans, "org_gone"), None, "no such organisation");
    let e = s.event(NOW);
    assert_eq!(e.event_name, SILENT_EVENT);
    assert_eq!(e.actor_id.as_deref(), Some("silent"));
    assert_eq!(e.metadata["silent_minutes"], 11);
    // Reported once; a new beat re-arms it.
    let (sql, params) = s.reported();
    db.exec(&sql, &params);
    assert!(sweep(NOW).is_empty(), "one event per silence");
    beat_as("org_a", "silent", at(1));
    assert!(sweep(NOW).is_empty());
    let later: Vec<String> = sweep(UnixMs(NOW.0 + 10 * 60_000))
        .into_iter()
        .map(|s| s.hostname)
        .collect();
    assert_eq!(
        later,
        ["quiet", "silent"],
        "oldest silence first; 'silent' again"
    );
    // The event is a valid /collect event.
    let body = json!({"event": e.event_name, "actor": e.actor_id, "user_ip": e.user_ip, "metadata": e.metadata});
    assert!(crate::ingest::parse_collect_body(body.to_string().as_bytes()).is_ok());
}
