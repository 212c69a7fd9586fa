//! Auth0 log stream bodies against the real `/collect` validator; fixtures written for this
//! repository in the shape of Auth0's documented log records.

use super::super::event::RAW_BUDGET;
use super::*;
use crate::ingest::webhooks::doc::{table as doc_table, unquote};
use crate::ingest::{parse_collect_body, NewEvent, MAX_EVENT_BYTES};
use serde_json::json;

/// A failed password login, as a custom-webhook stream wraps it.
fn failed_login() -> Value {
    json!({
        "log_id": "90020240501101500123456000000000000001108898",
        "data": {
            "date": "2024-05-01T10:15:00.123Z",
            "type": "fp",
            "description": "Wrong email or password.",
            "connection": "Username-Password-Authentication",
            "connection_id": "con_7Hq2vXb1LmN0pQ4r",
            "client_id": "kR3tW9yZ1aB5cD7eF2gH4jK6",
            "client_name": "Acme Web",
            "ip": "203.0.113.50",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            "user_id": "auth0|6632a1f0c2b9e4d5f6a7b8c9",
            "user_name": "dana@example.com",
            "strategy": "auth0",
            "strategy_type": "database",
            "details": {"error": {"message": "Wrong email or password."}},
            "hostname": "acme.eu.auth0.com",
            "log_id": "90020240501101500123456000000000000001108898"
        }
    })
}

/// A successful login, as a bare log object (no `data` wrapper).
fn bare_success() -> Value {
    json!({
        "date": "2024-05-01T10:16:02.004Z",
        "type": "s",
        "description": "Successful login",
        "connection": "google-oauth2",
        "client_id": "kR3tW9yZ1aB5cD7eF2gH4jK6",
        "client_name": "Acme Web",
        "ip": "2001:db8::17",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "user_id": "google-oauth2|104729384756102938475",
        "user_name": "dana@example.com",
        "details": {"prompts": [{"name": "authenticate", "elapsedTime": 412}], "stats": {"loginsCount": 17}},
        "hostname": "acme.eu.auth0.com"
    })
}

/// A record of `code` with only the fields every log has.
fn of_type(code: &str) -> Value {
    json!({"log_id": "900x", "data": {"type": code, "date": "2024-05-01T10:00:00.000Z", "ip": "198.51.100.7", "user_id": "auth0|u1"}})
}

/// Proves the events are valid `/collect` events: the real validator, in batches of 100.
fn validate(events: &[Value]) -> Vec<NewEvent> {
    events
        .chunks(100)
        .flat_map(|c| {
            let body = json!({ "events": c }).to_string();
            parse_collect_body(body.as_bytes()).expect("valid /collect events")
        })
        .collect()
}

/// Converts and validates a body.
fn run(body: &[u8]) -> Vec<Value> {
    let events = events(body).expect("converts");
    validate(&events);
    events
}

/// The status and field of a conversion's error.
fn error(body: &[u8]) -> (u16, String) {
    let err = events(body).expect_err("rejected");
    (err.status(), err.details[0].field.clone())
}

#[test]
fn every_table_code_maps_as_the_table_says_and_validates() {
    let mut seen = std::collections::HashSet::new();
    for (event, codes) in TYPE_EVENTS {
        for code in *codes {
            assert!(seen.insert(*code), "{code} is listed twice");
            assert_eq!(event_name(code), *event, "{code}");
            let out = run(of_type(code).to_string().as_bytes());
            let parsed = validate(&out);
            assert_eq!(parsed[0].event_name, *event, "{code}: no alias rewrite");
            assert_eq!(parsed[0].metadata["auth0_type"], *code);
        }
    }
}

#[test]
fn the_documented_table_is_the_code_table() {
    let rows = doc_table("| Event | Auth0 type codes |");
    let documented: Vec<(String, Vec<String>)> = rows
        .iter()
        .map(|r| (unquote(&r[0]), r[1].split(',').map(unquote).collect()))
        .collect();
    let code: Vec<(String, Vec<String>)> = TYPE_EVENTS
        .iter()
        .map(|(e, cs)| (e.to_string(), cs.iter().map(|c| c.to_string()).collect()))
        .collect();
    assert_eq!(documented, code);
}

#[test]
fn the_three_body_formats_and_bare_logs_give_the_same_events() {
    let (a, b) = (failed_login(), bare_success());
    let array = run(json!([a, b]).to_string().as_bytes());
    let lines = run(format!("{a}\r\n\n{b}\n\n").as_bytes());
    assert_eq!(array, lines);
    assert_eq!(array.len(), 2);
    assert_eq!(run(a.to_string().as_bytes()), array[..1].to_vec());
    assert_eq!(run(b.to_string().as_bytes()), array[1..].to_vec());
    let names: Vec<_> = array.iter().map(|e| e["event"].clone()).collect();
    assert_eq!(
        names,
        [json!("auth.login_failed"), json!("auth.login_success")]
    );
    // A pretty-printed array is one value over many lines.
    let pretty = serde_json::to_string_pretty(&json!([a, b])).unwrap();
    assert_eq!(run(pretty.as_bytes()), array);
}

#[test]
fn a_record_fills_actor_ip_and_metadata() {
    let record = failed_login();
    let out = run(record.to_string().as_bytes());
    let e = &out[0];
    assert_eq!(
        e["actor"],
        json!({"id": "auth0|6632a1f0c2b9e4d5f6a7b8c9", "email": "dana@example.com"})
    );
    assert_eq!(e["user_ip"], "203.0.113.50");
    let m = &e["metadata"];
    assert_eq!(m["source"], "auth0");
    assert_eq!(m["auth0_type"], "fp");
    assert_eq!(m["description"], "Wrong email or password.");
    assert_eq!(m["connection"], "Username-Password-Authentication");
    assert_eq!(m["client_id"], "kR3tW9yZ1aB5cD7eF2gH4jK6");
    assert_eq!(m["client_name"], "Acme Web");
    assert_eq!(m["user_agent"], record["data"]["user_agent"]);
    assert_eq!(m["log_id"], record["log_id"]);
    assert_eq!(m["date"], "2024-05-01T10:15:00.123Z");
    assert_eq!(m["auth0"], record, "the original is kept whole");
    assert!(m.get("raw_truncated").is_none());
    let parsed = &validate(&out)[0];
    assert_eq!(parsed.metadata["user_agent"], record["data"]["user_agent"]);
}

#[test]
fn actor_from_user_id_and_user_name() {
    let actor_of = |data: Value| {
        let mut data = data;
        data["type"] = json!("s");
        run(json!({ "data": data }).to_string().as_bytes())[0]
            .get("actor")
            .cloned()
    };
    assert_eq!(
        actor_of(json!({"user_name": "ops@example.net"})),
        Some(json!({"id": "ops@example.net", "email": "ops@example.net"}))
    );
    assert_eq!(
        actor_of(json!({"user_name": "jdoe"})),
        Some(json!({"id": "jdoe"}))
    );
    assert_eq!(
        actor_of(json!({"user_id": "auth0|1", "user_name": "+15550100"})),
        Some(json!({"id": "auth0|1"}))
    );
    assert_eq!(actor_of(json!({"user_id": "  ", "user_name": ""})), None);
    assert_eq!(actor_of(json!({})), None);
}

#[test]
fn unknown_types_become_custom_names_and_are_kept() {
    let out = run(json!([
        of_type("Zz.Weird Code!"),
        of_type(""),
        of_type("sys_os_update_start")
    ])
    .to_string()
    .as_bytes());
    let names: Vec<_> = out.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "auth0.zz_weird_code_",
            "auth0.unknown",
            "auth0.sys_os_update_start"
        ]
    );
    assert_eq!(out[0]["metadata"]["auth0_type"], "Zz.Weird Code!");
    let long = run(of_type(&"é".repeat(300)).to_string().as_bytes());
    let name = long[0]["event"].as_str().unwrap();
    assert_eq!(name.len(), 100);
    assert!(name.starts_with("auth0.__"));
    assert_eq!(event_name(" S "), "auth.login_success");
}

#[test]
fn malformed_bodies_name_the_problem() {
    let ok = failed_login().to_string();
    for (body, field) in [
        ("".to_string(), "body"),
        (" \n\t\n".to_string(), "body"),
        ("[]".to_string(), "body"),
        ("[] []".to_string(), "body"),
        (
            format!("{ok}\n\n{{\"log_id\": \"x\", \"data\": \n{ok}"),
            "line 3",
        ),
        (format!("{ok}\nnot json"), "line 2"),
        ("{".to_string(), "line 1"),
        ("[1]".to_string(), "[0]"),
        (format!("[{ok}, \"text\"]"), "[1]"),
        (
            format!("{ok}\n{{\"log_id\": \"x\", \"data\": {{}}}}"),
            "[1].data.type",
        ),
        ("{\"log_id\": \"x\"}".to_string(), "[0].data.type"),
        ("{\"data\": {\"type\": 7}}".to_string(), "[0].data.type"),
        ("{\"data\": {\"type\": null}}".to_string(), "[0].data.type"),
        ("{\"type\": [\"s\"]}".to_string(), "[0].type"),
    ] {
        assert_eq!(error(body.as_bytes()), (400, field.to_string()), "{body}");
    }
}

#[test]
fn at_most_1000_records() {
    let records = |n: usize| json!(vec![of_type("s"); n]).to_string();
    assert_eq!(run(records(MAX_RECORDS).as_bytes()).len(), MAX_RECORDS);
    assert_eq!(
        error(records(MAX_RECORDS + 1).as_bytes()),
        (400, "body".into())
    );
    let lines = vec![of_type("s").to_string(); MAX_RECORDS + 1].join("\n");
    assert_eq!(error(lines.as_bytes()), (400, "body".into()));
}

#[test]
fn over_long_values_are_cut_or_left_out() {
    let mut record = failed_login();
    let data = &mut record["data"];
    data["user_id"] = json!("auth0|".to_string() + &"x".repeat(400));
    data["user_name"] = json!(format!("{}@example.com", "a".repeat(400)));
    data["description"] = json!("d".repeat(5000));
    data["user_agent"] = json!("u".repeat(2000));
    data["ip"] = json!("9".repeat(100));
    let out = run(record.to_string().as_bytes());
    let e = &out[0];
    let id = e["actor"]["id"].as_str().unwrap();
    assert_eq!(id.chars().count(), 255);
    assert!(id.ends_with('…'));
    assert!(e["actor"].get("email").is_none(), "not an email past 320");
    assert_eq!(e["user_ip"], Value::Null);
    assert_eq!(
        e["metadata"]["description"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        MAX_TEXT
    );
    assert_eq!(
        e["metadata"]["user_agent"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        MAX_TEXT
    );
    record["data"]["ip"] = json!(17);
    assert_eq!(
        run(record.to_string().as_bytes())[0]["user_ip"],
        Value::Null
    );
}

#[test]
fn a_huge_details_is_dropped_from_the_kept_original() {
    let mut record = failed_login();
    record["data"]["details"] = json!({
        "request": {"body": "b".repeat(60_000), "query": {"q": "x".repeat(2_000)}},
        "error": {"message": "Wrong email or password."}
    });
    let out = run(record.to_string().as_bytes());
    let e = &out[0];
    let size = serde_json::to_vec(e).unwrap().len();
    assert!(size <= RAW_BUDGET + 64, "{size}");
    let kept = &e["metadata"]["auth0"];
    assert_eq!(e["metadata"]["raw_truncated"], true);
    assert!(kept["data"].get("details").is_none());
    assert_eq!(kept["data"]["type"], "fp");
    assert_eq!(kept["data"]["user_id"], record["data"]["user_id"]);
    assert_eq!(kept["log_id"], record["log_id"]);

    // A bare log loses the largest parts of `details`, and many small members go too.
    let mut bare = bare_success();
    bare["details"] = (0..4000)
        .map(|i| (format!("k{i}"), json!("v".repeat(20))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let out = run(bare.to_string().as_bytes());
    assert!(serde_json::to_vec(&out[0]).unwrap().len() <= MAX_EVENT_BYTES);
    assert_eq!(out[0]["metadata"]["raw_truncated"], true);
    assert_eq!(out[0]["metadata"]["auth0"]["type"], "s");
}

#[test]
fn deep_originals_are_cut_to_the_metadata_depth() {
    let deep = (0..60).fold(json!(1), |inner, _| json!({ "n": inner }));
    let mut record = failed_login();
    record["data"]["details"] = deep;
    let out = run(record.to_string().as_bytes());
    assert_eq!(out[0]["metadata"]["raw_truncated"], true);
    assert_eq!(out[0]["metadata"]["auth0"]["data"]["type"], "fp");
}

#[test]
fn custom_names_fit_the_name_rules() {
    assert_eq!(
        custom("supabase", "Order Items_INSERT"),
        "supabase.order_items_insert"
    );
    assert_eq!(custom("auth0", ""), "auth0.unknown");
    assert_eq!(custom("auth0", &"a".repeat(500)).len(), 100);
}
