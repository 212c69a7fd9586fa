//! Brute force from Loki lines on real SQLite with every migration applied, through the
//! statements the adapter runs (`src/logs/mod.rs`): the push stored with `RETURNING`, its failure
//! lines, the [`history_statements`] per key kind, [`assemble`] and [`candidates`]. Earlier
//! lines sit exactly at each rule's window start (and a millisecond before it), and one a
//! millisecond after the push's last line, so the statements' bounds are pinned to the
//! millisecond.

use super::*;
use crate::api::sql::MAX_BOUND_JSON_BYTES;
use crate::logs::{build_line_rows, insert_statements, parse_push};
use crate::runtime::Db;
use crate::testing::{run, SqliteDb};
use serde_json::json;

/// The push's line time (2026-01-30T09:15:00Z).
const F: i64 = 1_769_764_500_000;
const MIN: i64 = 60_000;
const IP: &str = "198.51.100.9";
/// The address of the lines against the account, so they count only for the user.
const SPRAY_IP: &str = "192.0.2.77";

fn org() -> OrgId {
    OrgId("org_1".into())
}

/// A failed login (logfmt) of `user`, or of no user, from `ip`.
fn failure(ip: &str, user: Option<&str>) -> String {
    match user {
        Some(u) => format!(r#"level=warn msg="failed login" user={u} ip={ip} status=401"#),
        None => format!(r#"level=warn msg="failed login" ip={ip} status=401"#),
    }
}

/// Stores one push of `(time, line)` entries of `org` as `POST /loki/api/v1/push` does, and
/// returns its stored failure lines.
fn push(db: &SqliteDb, org: &OrgId, entries: &[(i64, String)]) -> Vec<FailedLine> {
    let values: Vec<_> = entries
        .iter()
        .map(|(at, line)| json!([(i128::from(*at) * 1_000_000).to_string(), line]))
        .collect();
    let body = json!({"streams": [{"stream": {"job": "auth"}, "values": values}]}).to_string();
    let streams = parse_push(body.as_bytes()).unwrap();
    let built = build_line_rows(&streams, org, UnixMs(F + MIN), UnixMs(F - 30 * 86_400_000));
    assert_eq!(built.rows.len(), entries.len(), "every entry stored");
    let statements = insert_statements(&built.rows, true, MAX_BOUND_JSON_BYTES).unwrap();
    let returned = run(db.batch(&statements)).unwrap();
    returned
        .iter()
        .flatten()
        .filter_map(FailedLine::from_returned)
        .collect()
}

/// The `(key, time)` of every row a history read returned, sorted, per key kind.
type Returned = BTreeMap<KeyKind, Vec<(String, i64)>>;

/// The history reads for `lines` run on `db`: the rows returned, and the assembled histories.
fn histories(db: &SqliteDb, lines: &[FailedLine]) -> (Returned, KeyHistory, KeyHistory) {
    let config = DetectionConfig::default();
    let (kinds, reads): (Vec<KeyKind>, Vec<_>) = history_statements(&org().0, lines, &config)
        .into_iter()
        .unzip();
    let rows = run(db.batch(&reads)).unwrap();
    let (mut returned, mut by_ip, mut by_user) =
        (BTreeMap::new(), KeyHistory::new(), KeyHistory::new());
    for (kind, rows) in kinds.into_iter().zip(rows) {
        let mut seen: Vec<(String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r["k"].as_str().unwrap().to_string(),
                    r["at"].as_i64().unwrap(),
                )
            })
            .collect();
        seen.sort();
        returned.insert(kind, seen);
        let history = assemble(rows).unwrap();
        match kind {
            KeyKind::Ip => by_ip = history,
            KeyKind::User => by_user = history,
        }
    }
    (returned, by_ip, by_user)
}

fn times(key: &str, list: &[(usize, i64)]) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = list
        .iter()
        .flat_map(|&(n, at)| std::iter::repeat_n((key.to_string(), at), n))
        .collect();
    out.sort();
    out
}

#[test]
fn line_history_reads_start_exactly_at_each_rules_window() {
    let db = SqliteDb::migrated();
    let config = DetectionConfig::default();
    let ip_start = F - config.brute_force_ip.window_ms();
    let user_start = F - config.brute_force_account.window_ms();
    assert_eq!(
        (ip_start, user_start),
        (F - 5 * MIN, F - 60 * MIN),
        "the rules' windows"
    );
    // An earlier push: for the IP, three failures a millisecond before its window and four at
    // its start; for the account (from another address), two a millisecond before its window
    // and nine at its start; and one failure of both a millisecond after the new push's line.
    let mut earlier = Vec::new();
    earlier.extend((0..3).map(|_| (ip_start - 1, failure(IP, None))));
    earlier.extend((0..4).map(|_| (ip_start, failure(IP, None))));
    earlier.extend((0..2).map(|_| (user_start - 1, failure(SPRAY_IP, Some("root")))));
    earlier.extend((0..9).map(|_| (user_start, failure(SPRAY_IP, Some("root")))));
    earlier.push((F + 1, failure(IP, Some("root"))));
    // The same failures in another organisation: never read.
    push(&db, &OrgId("org_2".into()), &earlier);
    let stored = push(&db, &org(), &earlier);
    assert_eq!(stored.len(), earlier.len(), "every line is a keyed failure");
    assert!(stored[..7]
        .iter()
        .all(|l| l.ip.as_deref() == Some(IP) && l.user.is_none()));
    assert!(stored[7..18]
        .iter()
        .all(|l| l.ip.as_deref() == Some(SPRAY_IP) && l.user.as_deref() == Some("root")));

    // The new push: one failure against root from the IP, at F.
    let lines = push(&db, &org(), &[(F, failure(IP, Some("root")))]);
    assert_eq!(lines.len(), 1);
    let (returned, by_ip, by_user) = histories(&db, &lines);
    assert_eq!(
        returned[&KeyKind::Ip],
        times(IP, &[(4, ip_start), (1, F)]),
        "the IP's window [F − 5 min, F]"
    );
    assert_eq!(
        returned[&KeyKind::User],
        times("root", &[(9, user_start), (1, F)]),
        "the account's window [F − 60 min, F]"
    );

    // The rows at the window starts make both bursts: 4 + the line, 9 + the line.
    let alerts = candidates(&lines, &by_ip, &by_user, Plan::Free, &config);
    let counts: Vec<(String, Value)> = alerts
        .candidates
        .iter()
        .map(|(c, _)| (c.dedup_key.clone(), c.evidence["count"].clone()))
        .collect();
    assert_eq!(
        counts,
        [
            (format!("ip:{IP}"), json!(5)),
            ("actor:root".to_string(), json!(10))
        ]
    );
}
