//! Successful login lines judged by the identity rules on real SQL (SQLite with every
//! migration): stored as the push stores them, then detected as the push detects them.

use super::*;
use crate::detect::batch::detect_batch;
use crate::logs::detect::FailedLine;
use crate::logs::{build_line_rows, insert_statements, PushEntry, PushStream};
use crate::testing::{run, store, SqliteDb};
use serde_json::json;

const T0: i64 = 1_769_764_500_000;
const MIN: i64 = 60_000;
const ORG: &str = "org_lines";

/// A place a login comes from: city, country, coordinates.
type Place = (&'static str, &'static str, f64, f64);
const BERLIN: Place = ("Berlin", "DE", 52.52, 13.405);
const SYDNEY: Place = ("Sydney", "AU", -33.8688, 151.2093);
const TOKYO: Place = ("Tokyo", "JP", 35.6762, 139.6503);

fn org() -> OrgId {
    OrgId(ORG.into())
}

/// Stores sshd `line`s (each at `minutes` after T0, located at its place as the push's
/// enrichment locates it) in one push; the stored rows as the insert returned them.
fn push(db: &SqliteDb, lines: &[(i64, &str, Option<Place>)]) -> Vec<StoredLine> {
    store_rows(db, &rows(lines))
}

/// The rows of `lines` as [`push`] stores them.
fn rows(lines: &[(i64, &str, Option<Place>)]) -> Vec<crate::logs::LogRow> {
    let stream = PushStream {
        labels: serde_json::Map::new(),
        entries: lines
            .iter()
            .map(|(minutes, line, _)| PushEntry {
                ts: UnixMs(T0 + minutes * MIN),
                line: (*line).into(),
                structured: None,
            })
            .collect(),
    };
    let mut rows = build_line_rows(&[stream], &org(), UnixMs(T0 + 600 * MIN), UnixMs(0)).rows;
    for (row, (_, _, place)) in rows.iter_mut().zip(lines) {
        if let Some((city, country, lat, lon)) = place {
            row.geo = Some((*country).into());
            (row.detail.latitude, row.detail.longitude) = (Some(*lat), Some(*lon));
            row.detail.city = Some((*city).into());
            row.vpn = Some(false);
            let d = &mut row.detail;
            (d.is_tor, d.is_proxy, d.is_datacenter) = (Some(false), Some(false), Some(false));
        }
    }
    rows
}

/// Stores `rows` in one insert; the stored rows as it returned them.
fn store_rows(db: &SqliteDb, rows: &[crate::logs::LogRow]) -> Vec<StoredLine> {
    let statements = insert_statements(rows, true, 1_000_000).unwrap();
    run(db.batch(&statements))
        .unwrap()
        .iter()
        .flatten()
        .map(|r| StoredLine::from_returned(r).expect("a returned row"))
        .collect()
}

fn accepted(user: &str, ip: &str) -> String {
    format!("sshd[811]: Accepted publickey for {user} from {ip} port 51514 ssh2")
}

/// Runs the push's identity detection over the login lines of `stored` on `plan`.
fn detect(db: &SqliteDb, stored: &[StoredLine], plan: Plan) -> usize {
    let lines: Vec<LoginLine> = stored
        .iter()
        .filter_map(|l| LoginLine::from_stored(l, &org()))
        .collect();
    run(detect_logins(
        db,
        plan,
        &lines,
        NetworkLists::shipped(),
        UnixMs(T0 + 600 * MIN),
    ))
    .expect("detection")
}

/// The organisation's alerts of `alert_type`: `(actor, source ip, created_at, metadata)`.
fn alerts(db: &SqliteDb, alert_type: &str) -> Vec<(String, String, i64, Value)> {
    db.rows(
        "SELECT actor_id, source_ip, created_at, metadata FROM alerts WHERE org_id = ?1 AND alert_type = ?2 \
         ORDER BY created_at",
        &[
            crate::api::sql::SqlParam::Text(ORG.into()),
            crate::api::sql::SqlParam::Text(alert_type.into()),
        ],
    )
    .into_iter()
    .map(|r| {
        (
            r["actor_id"].as_str().unwrap_or_default().into(),
            r["source_ip"].as_str().unwrap_or_default().into(),
            r["created_at"].as_i64().unwrap(),
            serde_json::from_str(r["metadata"].as_str().unwrap()).unwrap(),
        )
    })
    .collect()
}

#[test]
fn a_users_login_lines_an_hour_apart_in_berlin_and_sydney_are_impossible_travel() {
    let db = SqliteDb::migrated();
    let stored = push(
        &db,
        &[
            (0, &accepted("deploy", "203.0.113.10"), Some(BERLIN)),
            (60, &accepted("deploy", "198.51.100.20"), Some(SYDNEY)),
        ],
    );
    assert_eq!(detect(&db, &stored, Plan::Pro), 0, "none left unjudged");
    let travel = alerts(&db, "impossible_travel");
    assert_eq!(travel.len(), 1, "{travel:?}");
    let (actor, ip, at, metadata) = &travel[0];
    assert_eq!((actor.as_str(), ip.as_str()), ("deploy", "198.51.100.20"));
    assert_eq!(
        *at,
        T0 + 60 * MIN,
        "timed by the line, not by when it arrived"
    );
    assert_eq!(metadata["city"], "Sydney");
    assert_eq!(
        metadata["trigger_event_ids"],
        json!([stored[1].item_id()]),
        "the trigger is the Sydney line's item"
    );
    let hops = metadata["evidence"]["hops"].as_array().expect("hops");
    let cities: Vec<&str> = hops
        .iter()
        .flat_map(|h| [h["from"]["city"].as_str(), h["to"]["city"].as_str()])
        .flatten()
        .collect();
    assert!(
        cities.contains(&"Berlin") && cities.contains(&"Sydney"),
        "{hops:?}"
    );

    // Judged again (a retried push is a new push; here, the same rows): nothing new.
    detect(&db, &stored, Plan::Pro);
    assert_eq!(alerts(&db, "impossible_travel").len(), 1);
}

#[test]
fn events_and_login_lines_are_one_history_whichever_comes_first() {
    // A line in Berlin, then the consumer's event from Tokyo an hour later: travel.
    let db = SqliteDb::migrated();
    push(
        &db,
        &[(0, &accepted("alice", "203.0.113.10"), Some(BERLIN))],
    );
    let mut event = crate::ingest::record::EventRecord::assign(
        crate::ingest::NewEvent {
            event_name: SUCCESSFUL_LOGIN_NAME.into(),
            actor_id: Some("alice".into()),
            actor_email: None,
            user_ip: Some("192.0.2.77".into()),
            metadata: Map::new(),
        },
        &org(),
        EventId::new_v4(),
        UnixMs(T0 + 60 * MIN),
        None,
    );
    event.enrichment = Enrichment {
        country_code: Some(TOKYO.1.into()),
        city: Some(TOKYO.0.into()),
        latitude: Some(TOKYO.2),
        longitude: Some(TOKYO.3),
        ..Enrichment::default()
    };
    store(&db, std::slice::from_ref(&event));
    run(detect_batch(
        &db,
        &[(event.clone(), Plan::Pro)],
        NetworkLists::shipped(),
        UnixMs(T0 + 61 * MIN),
    ))
    .unwrap();
    let travel = alerts(&db, "impossible_travel");
    assert_eq!(travel.len(), 1, "{travel:?}");
    assert_eq!(travel[0].3["city"], "Tokyo");

    // The other way round: an event in Berlin, then a line from Sydney: travel, and a country
    // the user was never seen in is a geo anomaly.
    let db = SqliteDb::migrated();
    let mut berlin = event.clone();
    berlin.id = EventId::new_v4();
    berlin.created_at = UnixMs(T0);
    berlin.enrichment = Enrichment {
        country_code: Some(BERLIN.1.into()),
        city: Some(BERLIN.0.into()),
        latitude: Some(BERLIN.2),
        longitude: Some(BERLIN.3),
        ..Enrichment::default()
    };
    store(&db, std::slice::from_ref(&berlin));
    let stored = push(
        &db,
        &[(60, &accepted("alice", "198.51.100.20"), Some(SYDNEY))],
    );
    detect(&db, &stored, Plan::Pro);
    assert_eq!(alerts(&db, "impossible_travel").len(), 1);
    let geo = alerts(&db, "geo_anomaly");
    assert_eq!(geo.len(), 1, "{geo:?}");
    assert_eq!(geo[0].3["evidence"]["country"], "AU");
    assert_eq!(geo[0].3["evidence"]["known_countries"], json!(["DE"]));
}

/// An Okta System Log sign-in of `user` from `ip` with the browser `agent`.
fn okta(user: &str, ip: &str, agent: &str) -> String {
    json!({
        "uuid": "5b2f1c1e-8f4a-11ef-9b1d-0242ac120002", "published": "2026-01-30T09:15:00.000Z",
        "eventType": "user.session.start", "displayMessage": "User login to Okta", "severity": "INFO",
        "outcome": {"result": "SUCCESS"},
        "actor": {"id": "00u1a2b3c4", "type": "User", "alternateId": user, "displayName": "Carol"},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": agent, "os": "Mac OS X", "browser": "SAFARI"}},
    })
    .to_string()
}

#[test]
fn an_okta_sign_in_from_a_browser_the_user_never_used_is_a_new_device() {
    let db = SqliteDb::migrated();
    let user = "carol@corp.example";
    let stored = push(
        &db,
        &[
            (
                0,
                &okta(
                    user,
                    "203.0.113.10",
                    "Mozilla/5.0 (Macintosh) Safari/605.1.15",
                ),
                Some(BERLIN),
            ),
            (
                60,
                &okta(
                    user,
                    "203.0.113.10",
                    "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0",
                ),
                Some(BERLIN),
            ),
        ],
    );
    assert!(
        stored
            .iter()
            .all(|l| l.log_type == LogType::LoginSuccess && l.parser.as_deref() == Some("okta")),
        "{stored:?}"
    );
    detect(&db, &stored, Plan::Pro);
    let devices = alerts(&db, "new_device");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0].2, T0 + 60 * MIN);
    assert_eq!(devices[0].0, user);
}

#[test]
fn on_free_a_login_line_after_a_burst_of_failures_is_an_account_compromise_but_never_travel() {
    let db = SqliteDb::migrated();
    let mut lines: Vec<(i64, String, Option<Place>)> = (0..6)
        .map(|i| {
            (
                i,
                format!("sshd[9]: Failed password for admin from 203.0.113.66 port 40{i} ssh2"),
                None,
            )
        })
        .collect();
    // Five of the failures inside the per-IP rule's five minutes before the success.
    lines.push((6, accepted("admin", "203.0.113.66"), Some(BERLIN)));
    lines.push((60, accepted("admin", "198.51.100.20"), Some(SYDNEY)));
    let lines: Vec<(i64, &str, Option<Place>)> =
        lines.iter().map(|(m, l, p)| (*m, l.as_str(), *p)).collect();
    let stored = push(&db, &lines);
    assert_eq!(stored.iter().filter_map(FailedLine::from_stored).count(), 6);
    detect(&db, &stored, Plan::Free);
    let compromise = alerts(&db, "account_compromise");
    assert_eq!(compromise.len(), 1, "{compromise:?}");
    assert_eq!(compromise[0].0, "admin");
    assert!(
        alerts(&db, "impossible_travel").is_empty(),
        "travel is a Pro rule (docs/api.md §3.1)"
    );
}

#[test]
fn only_successful_login_lines_naming_a_user_are_judged() {
    let db = SqliteDb::migrated();
    let stored = push(
        &db,
        &[
            (0, &accepted("deploy", "203.0.113.10"), None),
            (
                1,
                "sshd[811]: Failed password for root from 203.0.113.10 port 22 ssh2",
                None,
            ),
            (2, r#"{"msg":"login succeeded","ip":"203.0.113.10"}"#, None),
            // The keyword rules call this a success; a guess is no login to judge.
            (
                3,
                r#"{"msg":"auth token refreshed","user":"deploy","ip":"203.0.113.10"}"#,
                None,
            ),
        ],
    );
    assert_eq!(stored[3].log_type, LogType::LoginSuccess);
    let judged: Vec<LoginLine> = stored
        .iter()
        .filter_map(|l| LoginLine::from_stored(l, &org()))
        .collect();
    assert_eq!(judged.len(), 1, "{stored:?}");
    let line = &judged[0];
    assert_eq!(line.event.id, stored[0].item_id());
    assert_eq!(line.event.event_name, SUCCESSFUL_LOGIN_NAME);
    assert_eq!(line.event.actor_id.as_deref(), Some("deploy"));
    assert_eq!(line.event.created_at, UnixMs(T0));
    assert_eq!(line.record.org_id, org());
}

#[test]
fn at_most_the_newest_max_login_lines_of_a_push_are_judged() {
    let db = SqliteDb::migrated();
    let lines: Vec<String> = (0..MAX_LOGIN_LINES + 3)
        .map(|i| accepted(&format!("user-{i}"), "203.0.113.10"))
        .collect();
    let entries: Vec<(i64, &str, Option<Place>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (i as i64 / 60, l.as_str(), None))
        .collect();
    let stored = push(&db, &entries);
    assert_eq!(detect(&db, &stored, Plan::Pro), 3);
}

#[test]
fn a_login_line_from_a_tor_exit_is_a_tor_login_and_its_network_travels_with_it() {
    let db = SqliteDb::migrated();
    let mut rows = rows(&[(0, &accepted("frank", "185.220.101.4"), Some(BERLIN))]);
    (rows[0].detail.is_tor, rows[0].detail.asn) = (Some(true), Some(60729));
    let stored = store_rows(&db, &rows);
    let line = LoginLine::from_stored(&stored[0], &org()).unwrap();
    assert!(line.event.is_tor);
    assert_eq!(line.event.asn, Some(60729));
    detect(&db, &stored, Plan::Free);
    let tor = alerts(&db, "suspicious_activity");
    assert_eq!(tor.len(), 1, "Tor logins alert on every plan: {tor:?}");
    assert_eq!(tor[0].0, "frank");
}
