//! The key API's rules, and its statements on SQLite with every migration: the active-key
//! limit, revocation and the last admin key, rotation's overlap, isolation between
//! organisations, and the tenant lookup of scoped, rotated and revoked keys.

use super::*;
use crate::access::tenant::{by_key_statement, TenantRow};
use crate::api::sql::max_placeholder;
use crate::testing::SqliteDb;

const T0: UnixMs = UnixMs(1_769_764_500_000);

fn counter() -> impl FnMut(&mut [u8]) -> Result<(), ()> {
    let mut n = 0u8;
    move |buf| {
        for b in buf.iter_mut() {
            *b = n;
            n = n.wrapping_add(1);
        }
        Ok(())
    }
}

#[test]
fn new_keys_are_prefixed_base62_and_skip_biased_bytes() {
    let key = new_key(counter()).unwrap();
    assert_eq!(key.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
    assert!(key.starts_with(KEY_PREFIX));
    assert!(key[KEY_PREFIX.len()..]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric()));
    // Bytes 248..=255 are skipped: a source giving only those and then zeros yields 'A's.
    let mut calls = 0;
    let key = new_key(|buf: &mut [u8]| {
        calls += 1;
        buf.fill(if calls == 1 { 250 } else { 0 });
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(calls, 2);
    assert!(key.ends_with(&"A".repeat(KEY_RANDOM_CHARS)));
    assert!(new_key(|_: &mut [u8]| Err("no entropy")).is_err());
}

#[test]
fn key_ids_parse_only_in_their_own_form() {
    let id = key_id([0xab; 8]);
    assert_eq!(id, "key_abababababababab");
    assert_eq!(parse_key_id(" KEY_ABABABABABABABAB ").unwrap(), id);
    for bad in [
        "",
        "key_",
        "key_zzzzzzzzzzzzzzzz",
        "dst_abababababababab",
        "key_abababababababab0",
    ] {
        assert_eq!(parse_key_id(bad).unwrap_err().status(), 404, "{bad}");
    }
}

#[test]
fn a_new_key_body_names_every_bad_field() {
    assert_eq!(
        NewKey::parse(b"").unwrap(),
        NewKey {
            name: "API key".into(),
            scopes: Scopes::ALL
        }
    );
    let k = NewKey::parse(br#"{"name":" shipper ","scopes":["ingest"]}"#).unwrap();
    assert_eq!(
        (k.name.as_str(), k.scopes),
        ("shipper", Scopes::of(&[Scope::Ingest]))
    );
    let fields = |body: &[u8]| -> Vec<String> {
        NewKey::parse(body)
            .unwrap_err()
            .details
            .into_iter()
            .map(|d| d.field)
            .collect()
    };
    assert_eq!(fields(br#"{"scopes":[]}"#), ["scopes"]);
    assert_eq!(fields(br#"{"scopes":"admin"}"#), ["scopes"]);
    assert_eq!(fields(br#"{"scopes":["read","root"]}"#), ["scopes[1]"]);
    assert_eq!(fields(br#"{"scopes":["read","read"]}"#), ["scopes[1]"]);
    assert_eq!(fields(br#"{"name":"","role":"x"}"#), ["name", "role"]);
    assert_eq!(fields(br#"{"name":"a\u0000b"}"#), ["name"]);
    assert_eq!(
        fields(&format!(r#"{{"name":"{}"}}"#, "n".repeat(101)).into_bytes()),
        ["name"]
    );
    assert_eq!(fields(b"[1]"), ["body"]);
    assert_eq!(fields(b"{"), ["body"]);
}

#[test]
fn an_overlap_is_whole_seconds_up_to_thirty_days() {
    assert_eq!(parse_overlap(b"").unwrap(), DEFAULT_OVERLAP_SECONDS);
    assert_eq!(parse_overlap(br#"{"overlap_seconds":0}"#).unwrap(), 0);
    assert_eq!(
        parse_overlap(br#"{"overlap_seconds":2592000}"#).unwrap(),
        MAX_OVERLAP_SECONDS
    );
    for bad in [
        &br#"{"overlap_seconds":2592001}"#[..],
        br#"{"overlap_seconds":-1}"#,
        br#"{"overlap_seconds":1.5}"#,
        br#"{"overlap":1}"#,
    ] {
        assert_eq!(parse_overlap(bad).unwrap_err().status(), 400);
    }
}

#[test]
fn every_statement_binds_each_placeholder() {
    let key = ApiKey::from_header("lsoc_live_0123456789abcdefghijklmnopqrstuv").unwrap();
    let new = NewKey {
        name: "n".into(),
        scopes: Scopes::READ,
    };
    let mut all = vec![
        list_statement("o", T0),
        get_statement("o", "key_1", T0),
        insert_statement("o", "key_1", &key, &new, "me", T0),
        revoke_statement("o", "key_1", T0),
        touch_statement(&key.hash(), T0),
    ];
    all.extend(rotate_statements("o", "key_1", "key_2", &key, "me", T0, 60));
    for (sql, params) in all {
        assert_eq!(max_placeholder(&sql), params.len(), "{sql}");
    }
}

struct Org {
    db: SqliteDb,
}

impl Org {
    fn new() -> Org {
        let db = SqliteDb::migrated();
        for org in ["org_a", "org_b"] {
            db.exec(
                "INSERT INTO orgs (id, name, plan, created_at) VALUES (?1, ?1, 'pro', 0)",
                &[SqlParam::Text(org.into())],
            );
        }
        Org { db }
    }

    fn run(&self, (sql, params): Statement) -> Vec<Value> {
        self.db.rows(&sql, &params)
    }

    /// Makes a key; returns (its id, the key).
    fn make(&self, org: &str, scopes: &[Scope], at: UnixMs) -> Option<(String, ApiKey)> {
        let raw = new_key(crate::testing::os_random).unwrap();
        let key = ApiKey::from_header(&raw).unwrap();
        let id = key_id(rand_id());
        let new = NewKey {
            name: format!("{scopes:?}"),
            scopes: Scopes::of(scopes),
        };
        let rows = self.run(insert_statement(org, &id, &key, &new, "test", at));
        (!rows.is_empty()).then_some((id, key))
    }

    fn lookup(&self, key: &ApiKey, at: UnixMs) -> Option<crate::access::tenant::Tenant> {
        let hash = key.hash();
        let rows = self.run(by_key_statement(&hash, at));
        rows.into_iter().next().map(|r| {
            let row: TenantRow = serde_json::from_value(r).unwrap();
            row.tenant_for(&hash).unwrap().unwrap()
        })
    }

    fn list(&self, org: &str, at: UnixMs) -> Vec<KeyRow> {
        self.run(list_statement(org, at))
            .into_iter()
            .map(|r| serde_json::from_value(r).unwrap())
            .collect()
    }
}

fn rand_id() -> [u8; 8] {
    let mut b = [0u8; 8];
    crate::testing::os_random(&mut b).unwrap();
    b
}

#[test]
fn keys_are_stored_hashed_listed_without_secrets_and_looked_up_with_their_scopes() {
    let o = Org::new();
    let (id, key) = o.make("org_a", &[Scope::Ingest], T0).unwrap();
    let stored = o.db.rows(
        "SELECT * FROM api_keys WHERE id = ?1",
        &[SqlParam::Text(id.clone())],
    );
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains(&format!("{key:?}")) && text.contains(&key.hash().0));
    let t = o.lookup(&key, T0).unwrap();
    assert_eq!(t.scopes, Scopes::of(&[Scope::Ingest]));
    assert_eq!(t.key.as_ref().and_then(|k| k.id.clone()), Some(id.clone()));
    let listed = o.list("org_a", T0);
    assert_eq!(listed.len(), 1);
    let api = listed[0].to_api();
    assert_eq!(api["scopes"], json!(["ingest"]));
    assert_eq!(api["prefix"].as_str().unwrap().len(), SHOWN_PREFIX_CHARS);
    assert!(api.get("key").is_none() && api.get("key_hash").is_none());
    assert!(
        o.list("org_b", T0).is_empty(),
        "another organisation sees none of it"
    );
    // Touch: written once, then not again within the hour.
    assert!(t.key_needs_touch(T0));
    o.run(touch_statement(&key.hash(), T0));
    let t = o.lookup(&key, UnixMs(T0.0 + 1_000)).unwrap();
    assert!(!t.key_needs_touch(UnixMs(T0.0 + 1_000)));
    assert!(t.key_needs_touch(UnixMs(T0.0 + LAST_USED_GRANULARITY_MS)));
}

#[test]
fn an_organisation_holds_at_most_the_active_key_limit() {
    let o = Org::new();
    for _ in 0..MAX_ACTIVE_KEYS {
        assert!(o.make("org_a", &[Scope::Read], T0).is_some());
    }
    assert!(
        o.make("org_a", &[Scope::Read], T0).is_none(),
        "the 101st is refused"
    );
    assert!(
        o.make("org_b", &[Scope::Read], T0).is_some(),
        "per organisation"
    );
    let (id, _) = (o.list("org_a", T0)[0].id.clone(), ());
    assert_eq!(o.run(revoke_statement("org_a", &id, T0)).len(), 1);
    assert!(
        o.make("org_a", &[Scope::Read], T0).is_some(),
        "a revoked key frees its place"
    );
}

#[test]
fn the_last_admin_key_cannot_be_revoked_and_a_foreign_key_is_untouched() {
    let o = Org::new();
    let (admin, admin_key) = o.make("org_a", &[Scope::Admin], T0).unwrap();
    let (ingest, ingest_key) = o.make("org_a", &[Scope::Ingest], T0).unwrap();
    let (other_admin, _) = o.make("org_b", &[Scope::Admin], T0).unwrap();
    assert!(
        o.run(revoke_statement("org_a", &admin, T0)).is_empty(),
        "the last admin"
    );
    assert!(
        o.run(revoke_statement("org_a", &other_admin, T0))
            .is_empty(),
        "org_b's key"
    );
    assert!(
        o.run(revoke_statement("org_b", &ingest, T0)).is_empty(),
        "org_a's key from org_b"
    );
    assert_eq!(o.run(revoke_statement("org_a", &ingest, T0)).len(), 1);
    assert!(
        o.lookup(&ingest_key, T0).is_none(),
        "revoked keys resolve to nothing"
    );
    assert!(
        o.run(revoke_statement("org_a", &ingest, T0)).is_empty(),
        "once"
    );
    // A second admin key (every scope: a NULL `scopes`) lets the first go.
    o.db.exec(
        "INSERT INTO api_keys (key_hash, org_id, key_prefix, created_at, id) VALUES ('h', 'org_a', 'p', 0, 'key_00000000000000ff')",
        &[],
    );
    assert_eq!(o.run(revoke_statement("org_a", &admin, T0)).len(), 1);
    assert!(o.lookup(&admin_key, T0).is_none());
}

#[test]
fn a_rotation_keeps_the_old_key_for_its_overlap_only() {
    let o = Org::new();
    let (old, old_key) = o.make("org_a", &[Scope::Admin, Scope::Read], T0).unwrap();
    let raw = new_key(crate::testing::os_random).unwrap();
    let new_key_ = ApiKey::from_header(&raw).unwrap();
    let new_id = key_id(rand_id());
    let [insert, expire] = rotate_statements("org_a", &old, &new_id, &new_key_, "test", T0, 60);
    o.run(insert);
    o.run(expire);
    let t = o.lookup(&new_key_, T0).unwrap();
    assert_eq!(
        t.scopes,
        Scopes::of(&[Scope::Read, Scope::Admin]),
        "same scopes"
    );
    assert!(
        o.lookup(&old_key, UnixMs(T0.0 + 59_999)).is_some(),
        "inside the overlap"
    );
    assert!(
        o.lookup(&old_key, UnixMs(T0.0 + 60_000)).is_none(),
        "after it"
    );
    let old_t = o.lookup(&old_key, T0).unwrap();
    assert!(old_t.key_usable(UnixMs(T0.0 + 59_999)) && !old_t.key_usable(UnixMs(T0.0 + 60_000)));
    // The old admin key may now be revoked: the new one has no expiry.
    assert_eq!(o.run(revoke_statement("org_a", &old, T0)).len(), 1);
    // A rotation of an unknown or foreign key stores nothing.
    let other = key_id(rand_id());
    let [insert, expire] = rotate_statements("org_b", &new_id, &other, &new_key_, "test", T0, 60);
    o.run(insert);
    o.run(expire);
    assert_eq!(
        o.db.count(
            "SELECT count(*) FROM api_keys WHERE id = ?1",
            &[SqlParam::Text(other)]
        ),
        0
    );
    // A second rotation never lengthens an expiry.
    let [a, b] = rotate_statements(
        "org_a",
        &new_id,
        &key_id(rand_id()),
        &ApiKey::from_header("lsoc_live_x").unwrap(),
        "t",
        T0,
        600,
    );
    o.run(a);
    o.run(b);
    let [a, b] = rotate_statements(
        "org_a",
        &new_id,
        &key_id(rand_id()),
        &ApiKey::from_header("lsoc_live_y").unwrap(),
        "t",
        T0,
        6_000,
    );
    o.run(a);
    o.run(b);
    let exp = o.db.rows(
        "SELECT expires_at FROM api_keys WHERE id = ?1",
        &[SqlParam::Text(new_id)],
    );
    assert_eq!(exp[0]["expires_at"].as_f64(), Some((T0.0 + 600_000) as f64));
}

#[test]
fn keys_stored_before_scopes_keep_every_scope_and_get_an_id() {
    let db = SqliteDb::migrated_before("0022");
    db.exec(
        "INSERT INTO orgs (id, name, plan, created_at) VALUES ('org_a', 'A', 'pro', 0)",
        &[],
    );
    db.exec(
        "INSERT INTO api_keys (key_hash, org_id, key_prefix, created_at) VALUES ('h1', 'org_a', 'p', 0), ('h2', 'org_a', 'q', 0)",
        &[],
    );
    db.migrate_from("0022");
    let ids = db.rows("SELECT id, scopes FROM api_keys ORDER BY key_hash", &[]);
    let (a, b) = (
        ids[0]["id"].as_str().unwrap(),
        ids[1]["id"].as_str().unwrap(),
    );
    assert!(parse_key_id(a).is_ok() && parse_key_id(b).is_ok() && a != b);
    assert_eq!(Scopes::from_stored(ids[0]["scopes"].as_str()), Scopes::ALL);
}
