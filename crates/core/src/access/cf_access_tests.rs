//! Access tokens' form and claims (the RS256 signature is the adapter's, checked end to end in
//! tests/e2e/access.test.mjs), the JWK a token names, roles, and the members statements on SQLite.

use super::*;
use crate::access::tenant::TenantRow;
use crate::testing::SqliteDb;

const NOW: UnixMs = UnixMs(1_769_764_500_000);

fn cfg() -> AccessConfig {
    AccessConfig {
        team_domain: "acme.cloudflareaccess.com".into(),
        aud: "aud-tag".into(),
    }
}

fn token(header: Value, claims: Value) -> String {
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        e(&header),
        e(&claims),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"sig")
    )
}

fn good() -> (Value, Value) {
    let secs = NOW.0 / 1000;
    (
        json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
        json!({"aud": ["aud-tag"], "iss": "https://acme.cloudflareaccess.com", "exp": secs + 600,
               "iat": secs - 5, "nbf": secs - 5, "email": "Dana@Example.com", "sub": "u1"}),
    )
}

fn with(f: impl FnOnce(&mut Value, &mut Value)) -> Result<Claimed, String> {
    let (mut h, mut c) = good();
    f(&mut h, &mut c);
    check(&token(h, c), &cfg(), NOW)
}

#[test]
fn a_well_formed_token_yields_its_email_kid_and_signed_part() {
    let c = with(|_, _| {}).unwrap();
    assert_eq!(
        (c.email.as_str(), c.kid.as_str()),
        ("dana@example.com", "k1")
    );
    assert_eq!(c.signature, b"sig");
    assert_eq!(c.signing_input.matches('.').count(), 1);
    assert_eq!(c.expires_at, (NOW.0 / 1000 + 600) * 1000);
    assert!(
        with(|_, c| c["aud"] = json!("aud-tag")).is_ok(),
        "a single audience"
    );
}

#[test]
fn refused_algs_audiences_issuers_times_and_forms() {
    type Change = Box<dyn FnOnce(&mut Value, &mut Value)>;
    let cases: Vec<(&str, Change)> = vec![
        ("alg none", Box::new(|h, _| h["alg"] = json!("none"))),
        ("alg HS256", Box::new(|h, _| h["alg"] = json!("HS256"))),
        ("no kid", Box::new(|h, _| h["kid"] = Value::Null)),
        (
            "wrong audience",
            Box::new(|_, c| c["aud"] = json!(["other"])),
        ),
        ("no audience", Box::new(|_, c| c["aud"] = Value::Null)),
        (
            "wrong issuer",
            Box::new(|_, c| c["iss"] = json!("https://evil.cloudflareaccess.com")),
        ),
        ("expired", Box::new(|_, c| c["exp"] = json!(NOW.0 / 1000))),
        ("no exp", Box::new(|_, c| c["exp"] = Value::Null)),
        (
            "not yet valid",
            Box::new(|_, c| c["nbf"] = json!(NOW.0 / 1000 + 120)),
        ),
        (
            "issued in the future",
            Box::new(|_, c| c["iat"] = json!(NOW.0 / 1000 + 120)),
        ),
        ("no e-mail", Box::new(|_, c| c["email"] = Value::Null)),
        ("a bad e-mail", Box::new(|_, c| c["email"] = json!("dana"))),
    ];
    for (name, f) in cases {
        assert!(with(f).is_err(), "{name} was accepted");
    }
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "!!.!!.!!",
        &"x".repeat(MAX_TOKEN_BYTES + 1),
    ] {
        assert!(check(bad, &cfg(), NOW).is_err(), "{bad:.20}");
    }
    let (h, c) = good();
    let t = token(h, c);
    let unsigned = format!("{}.", t.rsplit_once('.').unwrap().0);
    assert!(check(&unsigned, &cfg(), NOW).is_err(), "an empty signature");
}

#[test]
fn only_a_cloudflare_access_team_domain_is_configured() {
    let c = AccessConfig::new(" https://Acme.cloudflareaccess.com/ ", "aud").unwrap();
    assert_eq!(c.team_domain, "acme.cloudflareaccess.com");
    for bad in [
        "evil.example",
        "acme.cloudflareaccess.com.evil.example",
        ".cloudflareaccess.com",
        "a/b.cloudflareaccess.com",
        "10.0.0.1",
    ] {
        assert_eq!(AccessConfig::new(bad, "aud"), None, "{bad}");
    }
    assert_eq!(
        AccessConfig::new("acme.cloudflareaccess.com", " "),
        None,
        "no audience"
    );
}

#[test]
fn the_jwk_is_the_named_rsa_key() {
    let jwks = json!({"keys": [
        {"kid": "k0", "kty": "RSA", "n": "n0", "e": "AQAB"},
        {"kid": "k1", "kty": "RSA", "n": "n1", "e": "AQAB"},
        {"kid": "k2", "kty": "oct", "k": "secret"},
    ]});
    assert_eq!(jwk_for(&jwks, "k1").unwrap()["n"], "n1");
    assert_eq!(jwk_for(&jwks, "k2"), None, "a symmetric key is never used");
    assert_eq!(jwk_for(&jwks, "k9"), None);
    assert_eq!(
        cfg().certs_url(),
        "https://acme.cloudflareaccess.com/cdn-cgi/access/certs"
    );
}

#[test]
fn roles_never_ingest_and_a_viewer_only_reads() {
    assert_eq!(Role::Viewer.scopes(), Scopes::READ);
    assert!(
        Role::Responder.scopes().has(Scope::Respond) && !Role::Responder.scopes().has(Scope::Admin)
    );
    assert!(Role::Admin.scopes().has(Scope::Admin));
    for r in [Role::Viewer, Role::Responder, Role::Admin] {
        assert!(!r.scopes().has(Scope::Ingest));
        assert_eq!(Role::parse(r.as_str()), Some(r));
    }
    assert_eq!(
        parse_role(br#"{"role":"owner"}"#).unwrap_err().status(),
        400
    );
    assert_eq!(
        parse_member("Dana@Example.com ").unwrap(),
        "dana@example.com"
    );
    assert_eq!(
        parse_member("dana%40example.com").unwrap(),
        "dana@example.com"
    );
    assert_eq!(parse_member("nobody").unwrap_err().status(), 404);
}

#[test]
fn an_email_belongs_to_one_organisation_and_maps_to_its_role() {
    let db = SqliteDb::migrated();
    for org in ["org_a", "org_b"] {
        db.exec(
            "INSERT INTO orgs (id, name, plan, created_at) VALUES (?1, ?1, 'pro', 0)",
            &[SqlParam::Text(org.into())],
        );
    }
    let run = |(sql, p): Statement| db.rows(&sql, &p);
    assert_eq!(
        run(upsert_statement(
            "org_a",
            "dana@example.com",
            Role::Viewer,
            "t",
            NOW
        ))
        .len(),
        1
    );
    assert_eq!(
        run(upsert_statement(
            "org_a",
            "dana@example.com",
            Role::Admin,
            "t",
            NOW
        ))
        .len(),
        1,
        "a role change"
    );
    assert!(
        run(upsert_statement(
            "org_b",
            "dana@example.com",
            Role::Admin,
            "t",
            NOW
        ))
        .is_empty(),
        "another organisation's member"
    );
    let rows = run(tenant_statement("dana@example.com"));
    assert_eq!(rows[0]["role"], "admin");
    let t = serde_json::from_value::<TenantRow>(rows[0].clone())
        .unwrap()
        .tenant()
        .unwrap();
    assert_eq!(t.org_id.0, "org_a");
    assert!(
        run(delete_statement("org_b", "dana@example.com")).is_empty(),
        "not org_b's to remove"
    );
    assert_eq!(run(delete_statement("org_a", "dana@example.com")).len(), 1);
    assert!(run(tenant_statement("dana@example.com")).is_empty());
}
