//! Sessions: the signed cookie, the CSRF token, what a session may do, and the D1 statements on
//! SQLite with every migration (a session ends at its expiry, on sign-out, and with its key).

use super::*;
use crate::access::ids::ApiKey;
use crate::access::keys::{
    insert_statement as insert_key, key_id, revoke_statement as revoke_key, NewKey,
};
use crate::access::tenant::TenantRow;
use crate::api::sql::max_placeholder;
use crate::testing::SqliteDb;

const SECRET: &str = "test-secret";
const T0: UnixMs = UnixMs(1_769_764_500_000);

fn id(n: u8) -> SessionId {
    SessionId::new([n; ID_BYTES])
}

#[test]
fn the_cookie_is_signed_and_only_its_own_signature_opens_it() {
    let s = id(7);
    let value = s.cookie_value(SECRET);
    let header = format!("theme=dark; {COOKIE}={value}; other=1");
    assert_eq!(
        SessionId::from_cookie_header(&header, SECRET),
        Some(s.clone())
    );
    assert_eq!(
        SessionId::from_cookie_header(&header, "another secret"),
        None
    );
    let (raw, sig) = value.split_once('.').unwrap();
    let forged = format!("{COOKIE}={}.{sig}", raw.replace('7', "8"));
    assert_eq!(
        SessionId::from_cookie_header(&forged, SECRET),
        None,
        "another id, same signature"
    );
    assert_eq!(
        SessionId::from_cookie_header(&format!("{COOKIE}={raw}"), SECRET),
        None,
        "unsigned"
    );
    assert_eq!(SessionId::from_cookie_header("", SECRET), None);
    assert!(format!("{s:?}").contains('…'), "never printed");
    assert!(
        s.hash().0.starts_with("session:"),
        "cannot equal a key's hash"
    );
}

#[test]
fn the_cookie_is_http_only_secure_strict_and_short_lived() {
    let c = set_cookie("v");
    for part in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(c.contains(part), "{c}");
    }
    assert!(clear_cookie().contains("Max-Age=0"));
}

#[test]
fn the_csrf_token_is_the_sessions_own() {
    let (a, b) = (id(1), id(2));
    assert!(a.csrf_ok(SECRET, Some(&a.csrf(SECRET))));
    assert!(!a.csrf_ok(SECRET, Some(&b.csrf(SECRET))));
    assert!(!a.csrf_ok(SECRET, None));
    assert!(!a.csrf_ok(SECRET, Some("")));
    assert_ne!(
        a.csrf(SECRET),
        a.cookie_value(SECRET).split_once('.').unwrap().1,
        "not the cookie's signature"
    );
}

#[test]
fn a_session_never_ingests_and_must_read() {
    assert_eq!(
        scopes_for(Scopes::ALL),
        Some(Scopes::of(&[Scope::Read, Scope::Respond, Scope::Admin]))
    );
    assert_eq!(scopes_for(Scopes::of(&[Scope::Ingest])), None);
    assert_eq!(scopes_for(Scopes::of(&[Scope::Admin])), None, "no read");
    assert_eq!(role(Scopes::READ), "viewer");
    assert_eq!(
        role(Scopes::of(&[Scope::Read, Scope::Respond])),
        "responder"
    );
    assert_eq!(role(Scopes::ALL), "admin");
}

#[test]
fn a_session_ends_at_its_expiry_on_sign_out_and_with_its_key() {
    let db = SqliteDb::migrated();
    db.exec(
        "INSERT INTO orgs (id, name, plan, created_at) VALUES ('org_a', 'A', 'pro', 0)",
        &[],
    );
    let key = ApiKey::from_header("lsoc_live_sessionkey000000000000000000000").unwrap();
    let kid = key_id([3; 8]);
    let (sql, p) = insert_key(
        "org_a",
        &kid,
        &key,
        &NewKey {
            name: "dana".into(),
            scopes: Scopes::READ,
        },
        "t",
        T0,
    );
    db.rows(&sql, &p);
    let lookup = |s: &SessionId, at: UnixMs| {
        let (sql, p) = tenant_statement(s, at);
        assert_eq!(max_placeholder(&sql), p.len());
        db.rows(&sql, &p).into_iter().next().map(|r| {
            serde_json::from_value::<TenantRow>(r)
                .unwrap()
                .tenant()
                .unwrap()
        })
    };
    let s = id(9);
    let (sql, p) = insert_statement(&s, "org_a", &kid, Scopes::READ, T0);
    db.exec(&sql, &p);
    let t = lookup(&s, T0).expect("a live session");
    assert_eq!(t.scopes, Scopes::READ);
    assert_eq!(
        t.actor(),
        format!("dana ({})", &"lsoc_live_sessionkey"[..14])
    );
    assert!(
        t.key_usable(UnixMs(T0.0 + TTL_MS - 1)) && !t.key_usable(UnixMs(T0.0 + TTL_MS)),
        "a cached session stops at its expiry"
    );
    assert!(lookup(&s, UnixMs(T0.0 + TTL_MS)).is_none(), "expired");
    assert!(lookup(&id(10), T0).is_none(), "unknown");
    let (sql, p) = revoke_statement(&s, T0);
    db.exec(&sql, &p);
    assert!(lookup(&s, T0).is_none(), "signed out");
    let s2 = id(11);
    let (sql, p) = insert_statement(&s2, "org_a", &kid, Scopes::READ, T0);
    db.exec(&sql, &p);
    assert!(lookup(&s2, T0).is_some());
    db.exec("INSERT INTO api_keys (key_hash, org_id, key_prefix, created_at, id) VALUES ('h', 'org_a', 'p', 0, 'key_00000000000000aa')", &[]);
    let (sql, p) = revoke_key("org_a", &kid, T0);
    db.rows(&sql, &p);
    assert!(
        lookup(&s2, T0).is_none(),
        "the key revoked: its sessions end"
    );
}
