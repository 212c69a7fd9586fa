//! Supabase database webhook bodies against the real `/collect` validator; fixtures written for
//! this repository in the shape of Supabase's documented webhook payload and `auth` tables.

use super::*;
use crate::ingest::webhooks::doc::{table as doc_table, unquote};
use crate::ingest::{parse_collect_body, NewEvent, MAX_EVENT_BYTES};

const USER_ID: &str = "5b1f7c9e-2d4a-4e8b-9c3f-1a2b3c4d5e6f";
const HASH: &str = "$2a$10$Qm9vZ0hhc2hGb3JUZXN0aW5nT25seS4uLi4uLi4uLi4uLi4uLi4u";
const CONFIRM: &str = "c0nf1rm4t10n7ok3nf0rt3st1ng0nly00000000000000000000";

/// An `auth.users` row just after an email sign-up.
fn user() -> Value {
    json!({
        "instance_id": "00000000-0000-0000-0000-000000000000",
        "id": USER_ID,
        "aud": "authenticated",
        "role": "authenticated",
        "email": "maya@example.org",
        "encrypted_password": HASH,
        "email_confirmed_at": null,
        "invited_at": null,
        "confirmation_token": CONFIRM,
        "confirmation_sent_at": "2024-05-01T09:00:00.000000+00:00",
        "recovery_token": "",
        "recovery_sent_at": null,
        "email_change_token_new": "",
        "email_change": "",
        "email_change_sent_at": null,
        "last_sign_in_at": null,
        "raw_app_meta_data": {"provider": "email", "providers": ["email"]},
        "raw_user_meta_data": {"full_name": "Maya R."},
        "is_super_admin": null,
        "created_at": "2024-05-01T09:00:00.000000+00:00",
        "updated_at": "2024-05-01T09:00:00.000000+00:00",
        "phone": null,
        "phone_confirmed_at": null,
        "phone_change": "",
        "phone_change_token": "",
        "phone_change_sent_at": null,
        "confirmed_at": null,
        "email_change_token_current": "",
        "email_change_confirm_status": 0,
        "banned_until": null,
        "reauthentication_token": "",
        "reauthentication_sent_at": null,
        "is_sso_user": false,
        "deleted_at": null,
        "is_anonymous": false
    })
}

/// A webhook body.
fn hook(kind: &str, schema: &str, table: &str, record: Value, old: Value) -> Vec<u8> {
    json!({"type": kind, "table": table, "schema": schema, "record": record, "old_record": old})
        .to_string()
        .into_bytes()
}

/// An `auth.users` UPDATE from `old` to `old` changed by `edit`.
fn update(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let old = user();
    let mut new = old.clone();
    edit(&mut new);
    hook("UPDATE", "auth", "users", new, old)
}

/// An `auth.audit_log_entries` INSERT of `payload`.
fn audit_entry(payload: Value) -> Vec<u8> {
    let record = json!({
        "instance_id": "00000000-0000-0000-0000-000000000000",
        "id": "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        "payload": payload,
        "created_at": "2024-05-01T10:20:00.000000+00:00",
        "ip_address": "192.0.2.44"
    });
    hook("INSERT", "auth", "audit_log_entries", record, Value::Null)
}

fn login_payload(action: &str) -> Value {
    json!({
        "action": action,
        "actor_id": USER_ID,
        "actor_username": "maya@example.org",
        "actor_via_sso": false,
        "log_type": "account",
        "traits": {"provider": "email"}
    })
}

/// Proves the events are valid `/collect` events with the real validator.
fn validate(events: &[Value]) -> Vec<NewEvent> {
    let body = json!({ "events": events }).to_string();
    parse_collect_body(body.as_bytes()).expect("valid /collect events")
}

fn run(body: &[u8]) -> Vec<Value> {
    let events = events(body).expect("converts");
    validate(&events);
    events
}

fn names(body: &[u8]) -> Vec<String> {
    run(body)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

fn error(body: &[u8]) -> (u16, String) {
    let err = events(body).expect_err("rejected");
    (err.status(), err.details[0].field.clone())
}

#[test]
fn a_sign_up_is_a_user_created_without_its_secrets() {
    let body = hook("INSERT", "auth", "users", user(), Value::Null);
    let out = run(&body);
    assert_eq!(out.len(), 1);
    let e = &out[0];
    assert_eq!(e["event"], "admin.user_created");
    assert_eq!(
        e["actor"],
        json!({"id": USER_ID, "email": "maya@example.org"})
    );
    assert_eq!(e["user_ip"], Value::Null);
    let m = &e["metadata"];
    assert_eq!(
        (&m["source"], &m["supabase_type"], &m["table"], &m["schema"]),
        (
            &json!("supabase"),
            &json!("INSERT"),
            &json!("users"),
            &json!("auth")
        )
    );
    let row = &m["supabase"]["record"];
    assert_eq!(m["supabase"]["old_record"], Value::Null);
    for secret in [
        "encrypted_password",
        "confirmation_token",
        "recovery_token",
        "email_change_token_new",
        "email_change_token_current",
        "phone_change_token",
        "reauthentication_token",
    ] {
        assert_eq!(row[secret], "[REDACTED]", "{secret}");
    }
    assert_eq!(row["email"], "maya@example.org");
    assert_eq!(row["raw_user_meta_data"]["full_name"], "Maya R.");
    let text = e.to_string();
    assert!(!text.contains(HASH) && !text.contains(CONFIRM));
}

#[test]
fn secrets_are_redacted_at_any_depth_and_nulls_stay() {
    let mut v = json!({
        "password": "hunter2", "secret": "JBSWY3DPEHPK3PXP", "token": "t", "token_hash": "h",
        "client_secret": "s", "refresh_token": null, "tokens": 3, "password_changed": true,
        "nested": [{"api_token": "a", "ok": "kept"}]
    });
    redact(&mut v);
    assert_eq!(
        v,
        json!({
            "password": "[REDACTED]", "secret": "[REDACTED]", "token": "[REDACTED]",
            "token_hash": "[REDACTED]", "client_secret": "[REDACTED]", "refresh_token": null,
            "tokens": 3, "password_changed": true,
            "nested": [{"api_token": "[REDACTED]", "ok": "kept"}]
        })
    );
}

#[test]
fn a_delete_names_the_deleted_user() {
    let out = run(&hook("DELETE", "auth", "users", Value::Null, user()));
    assert_eq!(out[0]["event"], "admin.user_deleted");
    assert_eq!(out[0]["actor"]["id"], USER_ID);
    assert_eq!(
        out[0]["metadata"]["supabase"]["old_record"]["encrypted_password"],
        "[REDACTED]"
    );
}

#[test]
fn updates_give_one_event_per_change_that_matters() {
    let later = "2024-05-02T08:00:00.000000+00:00";
    let cases: Vec<(Vec<u8>, Vec<&str>)> = vec![
        (
            update(|u| u["banned_until"] = json!("2124-05-01T00:00:00+00:00")),
            vec!["admin.user_suspended"],
        ),
        (
            update(|u| u["role"] = json!("service_role")),
            vec!["authz.role_changed"],
        ),
        (
            update(|u| u["encrypted_password"] = json!("$2a$10$another")),
            vec!["auth.password_reset"],
        ),
        (
            update(|u| {
                u["recovery_sent_at"] = json!(later);
                u["recovery_token"] = json!("r3c0v3ry");
            }),
            vec!["auth.password_reset"],
        ),
        (
            update(|u| u["email"] = json!("maya@example.com")),
            vec!["auth.email_changed"],
        ),
        (
            update(|u| {
                u["last_sign_in_at"] = json!(later);
                u["updated_at"] = json!(later);
            }),
            vec!["auth.login_success"],
        ),
        (
            update(|u| {
                u["email_confirmed_at"] = json!(later);
                u["confirmed_at"] = json!(later);
                u["confirmation_token"] = json!("");
                u["last_sign_in_at"] = json!(later);
            }),
            vec!["auth.login_success", "auth.email_verified"],
        ),
        (
            update(|u| {
                u["banned_until"] = json!("2124-05-01T00:00:00+00:00");
                u["encrypted_password"] = json!("$2a$10$another");
                u["recovery_sent_at"] = json!(later);
            }),
            vec!["admin.user_suspended", "auth.password_reset"],
        ),
        (
            update(|u| u["raw_user_meta_data"] = json!({"full_name": "Maya Ruiz"})),
            vec!["auth.user_updated"],
        ),
        (update(|_| {}), vec!["auth.user_updated"]),
    ];
    for (body, expected) in cases {
        assert_eq!(names(&body), expected, "{}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn an_earlier_sign_in_or_a_missing_old_row_is_only_an_update() {
    let mut old = user();
    old["last_sign_in_at"] = json!("2024-05-02T08:00:00Z");
    let mut new = old.clone();
    new["last_sign_in_at"] = json!("2024-05-02T07:00:00+00:00");
    assert_eq!(
        names(&hook("UPDATE", "auth", "users", new.clone(), old)),
        ["auth.user_updated"]
    );
    new["banned_until"] = json!("2124-05-01T00:00:00+00:00");
    assert_eq!(
        names(&hook("UPDATE", "auth", "users", new, Value::Null)),
        ["auth.user_updated"]
    );
    assert!(later("2024-05-02T09:00:00+01:00", "2024-05-02T07:59:59Z"));
    assert!(!later("2024-05-02T09:00:00+02:00", "2024-05-02T07:59:59Z"));
}

#[test]
fn every_update_rule_fires_on_its_own_and_matches_the_docs() {
    let ts = |h: u32| json!(format!("2024-05-0{h}T10:00:00+00:00"));
    for &(event, change, column) in USER_UPDATES {
        let (before, after) = match change {
            Change::Changed => (json!("a"), json!("b")),
            Change::Set | Change::Newly => (Value::Null, ts(2)),
            Change::Cleared => (ts(2), Value::Null),
            Change::Later => (ts(1), ts(2)),
        };
        let body = update(|u| u[column] = after);
        let body: Value = serde_json::from_slice(&body).unwrap();
        let mut body = body;
        body["old_record"][column] = before;
        let out = run(body.to_string().as_bytes());
        assert_eq!(out.len(), 1, "{column}");
        assert_eq!(out[0]["event"], event, "{column}");
        assert_eq!(out[0]["metadata"]["changed"], json!([column]));
    }
    let documented: Vec<(String, String, String)> = doc_table("| Order | Column | Moves | Event |")
        .iter()
        .map(|r| (r[0].clone(), unquote(&r[1]), unquote(&r[3])))
        .collect();
    let code: Vec<(String, String, String)> = USER_UPDATES
        .iter()
        .enumerate()
        .map(|(i, (event, _, column))| ((i + 1).to_string(), column.to_string(), event.to_string()))
        .collect();
    assert_eq!(documented, code);
}

#[test]
fn audit_entries_map_their_action_and_actor() {
    let out = run(&audit_entry(login_payload("login")));
    let e = &out[0];
    assert_eq!(e["event"], "auth.login_success");
    assert_eq!(
        e["actor"],
        json!({"id": USER_ID, "email": "maya@example.org"})
    );
    assert_eq!(e["user_ip"], "192.0.2.44");
    let m = &e["metadata"];
    assert_eq!(m["action"], "login");
    assert_eq!(m["log_type"], "account");
    assert_eq!(m["audit_id"], "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a");
    assert_eq!(m["created_at"], "2024-05-01T10:20:00.000000+00:00");
    assert_eq!(
        m["supabase"]["record"]["payload"]["traits"]["provider"],
        "email"
    );

    // The payload as a JSON string (a `json` column sent as text) reads the same.
    let as_text = run(&audit_entry(json!(login_payload("logout").to_string())));
    assert_eq!(as_text[0]["event"], "auth.logout");
    assert_eq!(as_text[0]["actor"]["id"], USER_ID);

    // A phone sign-in: the username is no email.
    let mut phone = login_payload("login");
    phone["actor_username"] = json!("15550100");
    assert_eq!(run(&audit_entry(phone))[0]["actor"], json!({"id": USER_ID}));

    assert_eq!(
        names(&audit_entry(login_payload("passkey_created"))),
        ["supabase.passkey_created"]
    );
    assert_eq!(
        names(&audit_entry(json!({"actor_id": USER_ID}))),
        ["supabase.unknown"]
    );
    assert_eq!(names(&audit_entry(json!("not json"))), ["supabase.unknown"]);
}

#[test]
fn every_audit_action_maps_as_the_table_says_and_matches_the_docs() {
    for (event, actions) in AUDIT_EVENTS {
        for action in *actions {
            assert_eq!(
                names(&audit_entry(login_payload(action))),
                [*event],
                "{action}"
            );
        }
    }
    let documented: Vec<(String, Vec<String>)> = doc_table("| Event | Audit actions |")
        .iter()
        .map(|r| (unquote(&r[0]), r[1].split(',').map(unquote).collect()))
        .collect();
    let code: Vec<(String, Vec<String>)> = AUDIT_EVENTS
        .iter()
        .map(|(e, a)| (e.to_string(), a.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(documented, code);
}

#[test]
fn other_tables_and_types_are_one_custom_event() {
    let order = json!({"id": 4211, "user_id": USER_ID, "total_cents": 1299});
    let out = run(&hook(
        "INSERT",
        "public",
        "orders",
        order.clone(),
        Value::Null,
    ));
    assert_eq!(out[0]["event"], "supabase.orders_insert");
    assert_eq!(out[0]["actor"], json!({"id": "4211"}));
    assert_eq!(out[0]["metadata"]["supabase"]["record"], order);
    assert_eq!(
        names(&hook(
            "Truncate",
            "public",
            "Order Items",
            Value::Null,
            Value::Null
        )),
        ["supabase.order_items_truncate"]
    );
    assert_eq!(
        names(&hook(
            "DELETE",
            "auth",
            "audit_log_entries",
            Value::Null,
            json!({"id": "x"})
        )),
        ["supabase.audit_log_entries_delete"]
    );
    assert_eq!(
        names(&hook("UPSERT", "auth", "users", user(), Value::Null)),
        ["supabase.users_upsert"]
    );
    // A factor's TOTP secret never reaches metadata, whatever the table.
    let factor = json!({"id": "f1", "user_id": USER_ID, "factor_type": "totp", "secret": "JBSWY3DPEHPK3PXP"});
    let out = run(&hook("INSERT", "auth", "mfa_factors", factor, Value::Null));
    assert_eq!(out[0]["event"], "supabase.mfa_factors_insert");
    assert_eq!(
        out[0]["metadata"]["supabase"]["record"]["secret"],
        "[REDACTED]"
    );
}

#[test]
fn malformed_bodies_name_the_field() {
    let body = |v: Value| v.to_string().into_bytes();
    let cases = [
        (b"{".to_vec(), "body"),
        (b"".to_vec(), "body"),
        (b"[]".to_vec(), "body"),
        (
            body(json!({"table": "users", "schema": "auth", "record": {}})),
            "type",
        ),
        (
            body(json!({"type": " ", "table": "users", "record": {}})),
            "type",
        ),
        (
            body(json!({"type": 1, "table": "users", "record": {}})),
            "type",
        ),
        (
            body(json!({"type": "INSERT", "schema": "auth", "record": {}})),
            "table",
        ),
        (
            body(json!({"type": "INSERT", "table": ["users"], "record": {}})),
            "table",
        ),
        (
            body(json!({"type": "INSERT", "table": "users", "record": "row"})),
            "record",
        ),
        (
            body(json!({"type": "DELETE", "table": "users", "old_record": 3})),
            "old_record",
        ),
        (
            body(json!({"type": "INSERT", "table": "users", "record": null})),
            "record",
        ),
        (body(json!({"type": "DELETE", "table": "users"})), "record"),
    ];
    for (bytes, field) in cases {
        assert_eq!(
            error(&bytes),
            (400, field.to_string()),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn huge_or_deep_rows_are_shortened() {
    let mut big = user();
    big["raw_user_meta_data"] =
        json!({"avatar": "data:image/png;base64,".to_string() + &"A".repeat(80_000)});
    big["email"] = json!("x".repeat(400));
    let body = hook("INSERT", "auth", "users", big, Value::Null);
    let out = run(&body);
    let e = &out[0];
    assert!(serde_json::to_vec(e).unwrap().len() <= MAX_EVENT_BYTES);
    assert_eq!(e["metadata"]["raw_truncated"], true);
    let row = &e["metadata"]["supabase"]["record"];
    assert!(row.get("raw_user_meta_data").is_none());
    assert_eq!(row["id"], USER_ID);
    assert!(e["actor"].get("email").is_none());

    let deep = (0..50).fold(json!("leaf"), |inner, _| json!([inner]));
    let out = run(&hook(
        "INSERT",
        "public",
        "t",
        json!({"id": 1, "doc": deep}),
        Value::Null,
    ));
    assert_eq!(out[0]["metadata"]["raw_truncated"], true);
}
