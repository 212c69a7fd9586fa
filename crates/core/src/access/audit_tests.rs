//! The audit log on SQLite with every migration: entries appended only with a change, in one
//! transaction, numbered per organisation, sealed into a SHA-256 chain, and a verification that
//! names the first edited, deleted or inserted entry.

use super::*;
use crate::api::sql::max_placeholder;
use crate::runtime::Db;
use crate::testing::{run, SqliteDb};

const T0: UnixMs = UnixMs(1_769_764_500_000);

fn who() -> Operator {
    Operator {
        actor: "analyst (lsoc_live_ab12)".into(),
        kind: "key",
        ip: Some("198.51.100.7".into()),
    }
}

fn db() -> SqliteDb {
    let db = SqliteDb::migrated();
    db.exec("CREATE TABLE things (org_id TEXT, id TEXT, v INTEGER)", &[]);
    db.exec(
        "INSERT INTO things VALUES ('org_a', 't1', 0), ('org_b', 't1', 0)",
        &[],
    );
    db
}

/// Changes thing `id` of `org` (a row changes only if it exists) with its entry; returns the
/// entry's seq, if one was written.
fn change(db: &SqliteDb, org: &str, id: &str, v: i64) -> Option<i64> {
    let update = (
        "UPDATE things SET v = ?3 WHERE org_id = ?1 AND id = ?2".to_string(),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(id.into()),
            SqlParam::Number(v as f64),
        ],
    );
    let entry = append_statement(
        org,
        &who(),
        &Change::new("thing.set", Some(id), json!({"v": v})),
        T0,
    );
    let rows = run(db.batch(&[update, entry])).unwrap();
    rows[1].first().map(|r| r["seq"].as_f64().unwrap() as i64)
}

fn entries(db: &SqliteDb, org: &str) -> Vec<Entry> {
    let (sql, params) = range_statement(org, 1, 1000);
    db.rows(&sql, &params)
        .into_iter()
        .map(|r| serde_json::from_value(r).unwrap())
        .collect()
}

fn seal_all(db: &SqliteDb, org: &str) {
    let (sql, params) = unsealed_statement(org);
    let rows: Vec<Entry> = db
        .rows(&sql, &params)
        .into_iter()
        .map(|r| serde_json::from_value(r).unwrap())
        .collect();
    if let Some((sql, params)) = seal(org, &rows) {
        db.exec(&sql, &params);
    }
}

fn check(db: &SqliteDb, org: &str) -> Verdict {
    verify(1, GENESIS, &entries(db, org))
}

#[test]
fn an_entry_is_written_with_its_change_only_and_numbered_per_organisation() {
    let db = db();
    assert_eq!(change(&db, "org_a", "t1", 1), Some(1));
    assert_eq!(
        change(&db, "org_a", "missing", 2),
        None,
        "nothing changed: no entry"
    );
    assert_eq!(change(&db, "org_a", "t1", 3), Some(2));
    assert_eq!(
        change(&db, "org_b", "t1", 4),
        Some(1),
        "each organisation its own sequence"
    );
    let a = entries(&db, "org_a");
    assert_eq!(a.len(), 2);
    assert_eq!(
        (
            a[1].actor.as_str(),
            a[1].ip.as_deref(),
            a[1].action.as_str(),
            a[1].target.as_deref()
        ),
        (
            "analyst (lsoc_live_ab12)",
            Some("198.51.100.7"),
            "thing.set",
            Some("t1")
        )
    );
    assert_eq!(a[1].detail, r#"{"v":3}"#);
    assert!(a.iter().all(|e| e.hash.is_none()), "sealed after the batch");
}

#[test]
fn sealing_chains_every_entry_once_and_the_chain_verifies() {
    let db = db();
    for v in 0..5 {
        change(&db, "org_a", "t1", v);
    }
    seal_all(&db, "org_a");
    let sealed = entries(&db, "org_a");
    assert!(sealed.iter().all(|e| e.hash.is_some()));
    assert_eq!(
        sealed[0].hash.as_deref(),
        Some(sealed[0].chained_hash(GENESIS).as_str())
    );
    // Sealing again changes nothing; new entries chain from the last sealed one.
    seal_all(&db, "org_a");
    assert_eq!(entries(&db, "org_a"), sealed);
    change(&db, "org_a", "t1", 9);
    seal_all(&db, "org_a");
    let all = entries(&db, "org_a");
    assert_eq!(
        all[5].hash.as_deref(),
        Some(
            all[5]
                .chained_hash(all[4].hash.as_deref().unwrap())
                .as_str()
        )
    );
    let v = check(&db, "org_a");
    assert_eq!((v.checked, v.broken.clone()), (6, None));
    assert_eq!(v.head, Some((6, all[5].hash.clone().unwrap())));
    // A part of the log verifies from its anchor.
    let part = verify(4, all[2].hash.as_deref().unwrap(), &all[3..]);
    assert_eq!((part.checked, part.broken), (3, None));
}

#[test]
fn an_edited_entry_breaks_the_chain_at_that_entry() {
    let db = db();
    for v in 0..4 {
        change(&db, "org_a", "t1", v);
    }
    seal_all(&db, "org_a");
    db.exec(
        "UPDATE audit_log SET actor = 'someone else' WHERE org_id = 'org_a' AND seq = 3",
        &[],
    );
    let v = check(&db, "org_a");
    assert_eq!(v.broken.as_ref().map(|b| b.0), Some(3), "{v:?}");
    assert_eq!(v.checked, 2);
    assert!(
        check(&db, "org_b").broken.is_none(),
        "another organisation's chain is its own"
    );
}

#[test]
fn a_deleted_entry_is_named_as_missing() {
    let db = db();
    for v in 0..4 {
        change(&db, "org_a", "t1", v);
    }
    seal_all(&db, "org_a");
    db.exec(
        "DELETE FROM audit_log WHERE org_id = 'org_a' AND seq = 2",
        &[],
    );
    let v = check(&db, "org_a");
    assert_eq!(v.broken.as_ref().map(|b| b.0), Some(2));
    assert!(v.broken.unwrap().1.contains("missing"));
}

#[test]
fn an_inserted_entry_breaks_the_chain_where_it_was_put() {
    let db = db();
    for v in 0..4 {
        change(&db, "org_a", "t1", v);
    }
    seal_all(&db, "org_a");
    // Renumber 3.. up by one and put a forged entry at 3 with a plausible hash.
    db.exec(
        "UPDATE audit_log SET seq = seq + 1000 WHERE org_id = 'org_a' AND seq >= 3",
        &[],
    );
    db.exec(
        "UPDATE audit_log SET seq = seq - 999 WHERE org_id = 'org_a' AND seq > 1000",
        &[],
    );
    db.exec(
        "INSERT INTO audit_log (org_id, seq, at, actor, actor_kind, ip, action, target, detail, hash) \
         VALUES ('org_a', 3, 0, 'forger', 'key', NULL, 'key.create', NULL, '{}', ?1)",
        &[SqlParam::Text("ab".repeat(32))],
    );
    let v = check(&db, "org_a");
    assert_eq!(v.broken.as_ref().map(|b| b.0), Some(3), "{v:?}");
}

#[test]
fn an_unsealed_entry_after_a_gap_is_left_for_verification() {
    let db = db();
    for v in 0..3 {
        change(&db, "org_a", "t1", v);
    }
    db.exec(
        "DELETE FROM audit_log WHERE org_id = 'org_a' AND seq = 2",
        &[],
    );
    seal_all(&db, "org_a");
    let all = entries(&db, "org_a");
    assert!(
        all[0].hash.is_some() && all[1].hash.is_none(),
        "sealing stops at the gap"
    );
    assert_eq!(check(&db, "org_a").broken.map(|b| b.0), Some(2));
}

#[test]
fn pages_filter_by_action_prefix_actor_target_time_and_seq() {
    let db = db();
    for v in 0..5 {
        change(&db, "org_a", "t1", v);
    }
    let page = |q: &Query| -> Vec<i64> {
        let (sql, params) = list_statement("org_a", q);
        assert_eq!(max_placeholder(&sql), params.len(), "{sql}");
        db.rows(&sql, &params)
            .iter()
            .map(|r| r["seq"].as_f64().unwrap() as i64)
            .collect()
    };
    let q = |f: fn(&mut Query)| {
        let mut q = Query {
            limit: 2,
            ..Query::default()
        };
        f(&mut q);
        q
    };
    assert_eq!(
        page(&q(|_| {})),
        [5, 4, 3],
        "newest first, one more than the limit"
    );
    assert_eq!(page(&q(|q| q.before = Some(3))), [2, 1]);
    assert_eq!(page(&q(|q| q.action = Some("thing.".into()))), [5, 4, 3]);
    assert_eq!(
        page(&q(|q| q.action = Some("thing".into()))),
        Vec::<i64>::new(),
        "exact unless it ends in a dot"
    );
    assert_eq!(
        page(&q(|q| q.action = Some("alert.".into()))),
        Vec::<i64>::new()
    );
    assert_eq!(
        page(&q(|q| q.actor = Some("nobody".into()))),
        Vec::<i64>::new()
    );
    assert_eq!(page(&q(|q| q.target = Some("t1".into()))).len(), 3);
    assert_eq!(
        page(&q(|q| q.since = Some(UnixMs(T0.0 + 1)))),
        Vec::<i64>::new()
    );
    assert_eq!(page(&q(|q| q.until = Some(T0))).len(), 3);
}

#[test]
fn csv_quotes_every_cell_and_defuses_formulas() {
    let db = db();
    change(&db, "org_a", "t1", 1);
    let mut e = entries(&db, "org_a");
    e[0].actor = "=HYPERLINK(\"http://x\")".into();
    let text = csv(&e);
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("seq,at,actor,actor_kind,ip,action,target,detail,hash")
    );
    let row = lines.next().unwrap();
    assert!(row.contains(r#""'=HYPERLINK(""http://x"")""#), "{row}");
    assert!(row.contains(r#""{""v"":1}""#), "{row}");
}

#[test]
fn a_large_detail_is_stored_as_a_marker() {
    let (_, params) = append_statement(
        "o",
        &who(),
        &Change::new("x", None, json!({"s": "a".repeat(9000)})),
        T0,
    );
    match &params[7] {
        SqlParam::Text(t) => assert!(t.contains("\"truncated\":true"), "{t}"),
        p => panic!("{p:?}"),
    }
}

#[test]
fn a_detail_keeps_only_the_fields_a_change_sets() {
    let body = br#"{"scope":"ip","value":"203.0.113.9","org_id":"org_other","note":"x"}"#;
    assert_eq!(
        fields_of(body, &["scope", "value"]),
        json!({"scope": "ip", "value": "203.0.113.9"})
    );
    assert_eq!(fields_of(b"[1]", &["scope"]), Value::Null);
}

#[test]
fn a_change_on_another_database_is_recorded_through_the_outbox_once_whatever_fails() {
    // The change on one database (the primary) with its entry in the primary's outbox, in one
    // transaction; the entry then appended on another (the organisation's shard).
    let (primary, shard) = (db(), db());
    let set = |id: &str, v: i64| {
        let update = (
            "UPDATE things SET v = ?3 WHERE org_id = ?1 AND id = ?2".to_string(),
            vec![
                SqlParam::Text("org_a".into()),
                SqlParam::Text(id.into()),
                SqlParam::Number(v as f64),
            ],
        );
        let made = Change::new("thing.set", Some(id), json!({"v": v}));
        run(primary.batch(&[update, outbox_statement("org_a", &who(), &made, T0)])).unwrap();
    };
    let waiting = |db: &SqliteDb| -> Vec<Outboxed> {
        let (sql, params) = outbox_waiting_statement("org_a");
        db.rows(&sql, &params)
            .into_iter()
            .map(|r| Outboxed::from_row(r).unwrap())
            .collect()
    };
    let append = |entries: &[Outboxed]| {
        let appends: Vec<Statement> = entries.iter().map(from_outbox_statement).collect();
        run(shard.batch(&appends)).unwrap();
    };
    set("t1", 1);
    set("missing", 2);
    set("t1", 3);
    let outboxed = waiting(&primary);
    assert_eq!(outboxed.len(), 2, "nothing changed: no entry");
    // The shard was written but the outbox not emptied (the drain failed in between): appending
    // again adds nothing.
    append(&outboxed);
    append(&outboxed);
    run(primary.batch(&[outbox_done_statement(&outboxed)])).unwrap();
    assert!(waiting(&primary).is_empty());
    let (sql, params) = outbox_orgs_statement();
    assert!(primary.rows(&sql, &params).is_empty());
    let on_shard = entries(&shard, "org_a");
    assert_eq!(
        on_shard.iter().map(|e| e.seq as i64).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(on_shard[1].detail, r#"{"v":3}"#);
    assert!(
        entries(&primary, "org_a").is_empty(),
        "the primary keeps no entry"
    );
    seal_all(&shard, "org_a");
    assert!(check(&shard, "org_a").broken.is_none(), "the chain holds");
}
