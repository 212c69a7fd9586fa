//! Parsing and validation of `POST /collect` bodies (docs/api.md §5.1, §9.9): a single event
//! or `{"events":[…]}` of 1–100, all-or-nothing, lenient where the SDKs need it and strict on
//! types and sizes.

use crate::api::error::{ApiError, FieldError};
use crate::ingest::catalogue::canonical_alias;
use crate::ingest::message::MESSAGE_NESTING;
use serde_json::{Map, Value};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest accepted single event, serialized.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Most events in one batch.
pub const MAX_BATCH: usize = 100;
/// Longest event name.
pub const MAX_EVENT_NAME: usize = 100;
/// Longest actor id.
pub const MAX_ACTOR_ID: usize = 255;
/// Longest actor email.
pub const MAX_ACTOR_EMAIL: usize = 320;
/// Longest `user_ip` string.
pub const MAX_USER_IP: usize = 64;
/// Deepest `metadata`: the object itself is level 1, each nested object or array one more.
/// Real metadata is a few levels deep; the bound keeps every later decode of the event (queue
/// message, D1 row, API answer) far inside serde_json's own limit of 128.
pub const MAX_METADATA_DEPTH: usize = 32;
// Every accepted event must decode again in the queue consumer, whose messages wrap metadata
// `MESSAGE_NESTING` levels deeper, within serde_json's recursion limit of 128.
const _: () = assert!(MAX_METADATA_DEPTH + MESSAGE_NESTING < 128);

/// Most validation problems reported in one response.
const MAX_DETAILS: usize = 100;

/// A validated event, before the server assigns id, time and enrichment.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Canonical `category.action` name.
    pub event_name: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    /// As sent (may be a placeholder such as `"unknown"`).
    pub user_ip: Option<String>,
    /// Always an object; `_original_event` is added when an alias was rewritten.
    pub metadata: Map<String, Value>,
}

/// Parses a whole body. Errors: 400 naming every bad field (with batch index), or 413 for an
/// oversize event.
pub fn parse_collect_body(body: &[u8]) -> Result<Vec<NewEvent>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(format!(
            "Request body exceeds {MAX_BODY_BYTES} bytes"
        )));
    }
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("malformed JSON: {e}")))?;
    let Value::Object(mut root) = root else {
        return Err(ApiError::invalid(
            "body",
            "must be a JSON object (an event or {\"events\":[…]})",
        ));
    };
    match root.remove("events") {
        None => {
            check_event_size(&Value::Object(root.clone()), None)?;
            parse_event(root)
                .map(|e| vec![e])
                .map_err(ApiError::validation)
        }
        Some(Value::Array(items)) => parse_batch(items, MAX_BATCH),
        Some(_) => Err(ApiError::invalid(
            "events",
            "must be an array of event objects",
        )),
    }
}

/// Validates each item as a `/collect` event, all or nothing: at most `max` items, problems
/// named with their index. Also the check of the events a webhook's records become.
pub(crate) fn parse_batch(items: Vec<Value>, max: usize) -> Result<Vec<NewEvent>, ApiError> {
    if items.is_empty() {
        return Err(ApiError::invalid("events", "must contain at least 1 event"));
    }
    if items.len() > max {
        return Err(ApiError::invalid(
            "events",
            format!(
                "batch of {} events exceeds the maximum of {max}",
                items.len()
            ),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        check_event_size(item, Some(i))?;
    }
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let parsed = match item {
            Value::Object(obj) => parse_event(obj),
            _ => Err(vec![FieldError::new(
                "event",
                "each batch item must be a JSON object",
            )]),
        };
        match parsed {
            Ok(e) => events.push(e),
            Err(errs) => problems.extend(errs.into_iter().map(|e| e.at(i))),
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        problems.truncate(MAX_DETAILS);
        Err(ApiError::validation(problems))
    }
}

fn check_event_size(item: &Value, index: Option<usize>) -> Result<(), ApiError> {
    let size = serde_json::to_vec(item).map_or(usize::MAX, |v| v.len());
    if size <= MAX_EVENT_BYTES {
        return Ok(());
    }
    let at = index.map_or(String::new(), |i| format!("events[{i}] "));
    let mut err = ApiError::payload_too_large(format!(
        "Event {at}is {size} bytes; the limit is {MAX_EVENT_BYTES}"
    ));
    let detail = FieldError::new(
        "event",
        format!("serialized event exceeds {MAX_EVENT_BYTES} bytes"),
    );
    err.details = vec![match index {
        Some(i) => detail.at(i),
        None => detail,
    }];
    Err(err)
}

fn parse_event(mut obj: Map<String, Value>) -> Result<NewEvent, Vec<FieldError>> {
    let mut errors = Vec::new();

    let raw_name = obj
        .remove("event")
        .filter(|v| !v.is_null())
        .or_else(|| obj.remove("event_name"));
    let (event_name, original) = match validate_event_name(raw_name) {
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            (String::new(), None)
        }
    };

    let (mut actor_id, mut actor_email) = match parse_actor(obj.remove("actor")) {
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            (None, None)
        }
    };
    if actor_id.is_none() && actor_email.is_none() {
        actor_id = optional_string(obj.get("user_id"), "user_id").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        actor_email = optional_string(obj.get("email"), "email").unwrap_or_else(|e| {
            errors.push(e);
            None
        });
    }
    if actor_id.is_none() {
        // The SDKs send id = email for email-only actors; do the same for raw payloads.
        actor_id = actor_email.clone();
    }
    check_len(&actor_id, "actor.id", MAX_ACTOR_ID, &mut errors);
    check_len(&actor_email, "actor.email", MAX_ACTOR_EMAIL, &mut errors);

    let ip_field = if obj.contains_key("user_ip") {
        "user_ip"
    } else {
        "ip_address"
    };
    let user_ip = match obj.get(ip_field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_USER_IP => Some(s.clone()),
        Some(Value::String(_)) => {
            errors.push(FieldError::new(
                ip_field,
                format!("must be at most {MAX_USER_IP} characters"),
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                ip_field,
                "must be a string (an IPv4 or IPv6 address) or null",
            ));
            None
        }
    };

    let mut metadata = match obj.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => Map::from_iter([("_value".to_string(), other)]),
    };
    if let Some(orig) = original {
        metadata.insert("_original_event".into(), Value::String(orig));
    }
    if nests_deeper_than(&metadata, MAX_METADATA_DEPTH) {
        errors.push(FieldError::new(
            "metadata",
            format!("must nest at most {MAX_METADATA_DEPTH} levels of objects and arrays"),
        ));
    }

    if errors.is_empty() {
        Ok(NewEvent {
            event_name,
            actor_id,
            actor_email,
            user_ip,
            metadata,
        })
    } else {
        Err(errors)
    }
}

/// Whether `metadata` (level 1) holds objects or arrays nested deeper than `max` levels.
fn nests_deeper_than(metadata: &Map<String, Value>, max: usize) -> bool {
    fn exceeds(v: &Value, level: usize, max: usize) -> bool {
        match v {
            Value::Object(m) => level > max || m.values().any(|c| exceeds(c, level + 1, max)),
            Value::Array(a) => level > max || a.iter().any(|c| exceeds(c, level + 1, max)),
            _ => false,
        }
    }
    metadata.values().any(|v| exceeds(v, 2, max))
}

/// Returns the canonical name and, when an alias was rewritten, the name as sent.
fn validate_event_name(raw: Option<Value>) -> Result<(String, Option<String>), FieldError> {
    let name = match raw {
        None | Some(Value::Null) => return Err(FieldError::new("event", "is required")),
        Some(Value::String(s)) => s.trim().to_lowercase(),
        Some(_) => return Err(FieldError::new("event", "must be a string")),
    };
    if name.is_empty() {
        return Err(FieldError::new("event", "must not be empty"));
    }
    if name.chars().count() > MAX_EVENT_NAME {
        return Err(FieldError::new(
            "event",
            format!("must be at most {MAX_EVENT_NAME} characters"),
        ));
    }
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if !name.contains('.') || !name.split('.').all(segment_ok) {
        return Err(FieldError::new(
            "event",
            "must look like category.action: dot-separated segments of [a-z0-9_-]",
        ));
    }
    Ok(match canonical_alias(&name) {
        Some(canon) => (canon.to_string(), Some(name)),
        None => (name, None),
    })
}

/// `actor` may be an object, a bare id string, null or absent.
fn parse_actor(raw: Option<Value>) -> Result<(Option<String>, Option<String>), FieldError> {
    match raw {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::String(s)) => Ok((non_empty(s), None)),
        Some(Value::Number(n)) => Ok((Some(n.to_string()), None)),
        Some(Value::Object(a)) => {
            let id_key = if a.get("id").is_some_and(|v| !v.is_null()) {
                "id"
            } else {
                "user_id"
            };
            let email_key = if a.get("email").is_some_and(|v| !v.is_null()) {
                "email"
            } else {
                "user_email"
            };
            let id = optional_string(a.get(id_key), &format!("actor.{id_key}"))?;
            let email = optional_string(a.get(email_key), &format!("actor.{email_key}"))?;
            Ok((id, email))
        }
        Some(_) => Err(FieldError::new(
            "actor",
            "must be an object {id, email}, a string id, or null",
        )),
    }
}

/// A string (or integer, for numeric ids) field; empty strings count as absent.
fn optional_string(v: Option<&Value>, field: &str) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(non_empty(s.clone())),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(_) => Err(FieldError::new(field, "must be a string or null")),
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_string())
    }
}

fn check_len(v: &Option<String>, field: &str, max: usize, errors: &mut Vec<FieldError>) {
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::ErrorCode;
    use serde_json::json;

    fn parse(v: Value) -> Result<Vec<NewEvent>, ApiError> {
        parse_collect_body(v.to_string().as_bytes())
    }

    fn one(v: Value) -> NewEvent {
        let mut events = parse(v).expect("valid");
        assert_eq!(events.len(), 1);
        events.remove(0)
    }

    fn details(e: &ApiError) -> Vec<(Option<usize>, String)> {
        e.details
            .iter()
            .map(|d| (d.index, d.field.clone()))
            .collect()
    }

    #[test]
    fn the_contract_example_parses() {
        let e = one(
            json!({"event":"auth.login_failed","actor":{"id":"user_123","email":"u@example.com"},
            "user_ip":"203.0.113.50","metadata":{"method":"password","_sdk":"litesoc-python","_sdk_version":"2.6.0"}}),
        );
        assert_eq!(e.event_name, "auth.login_failed");
        assert_eq!(e.actor_id.as_deref(), Some("user_123"));
        assert_eq!(e.actor_email.as_deref(), Some("u@example.com"));
        assert_eq!(e.user_ip.as_deref(), Some("203.0.113.50"));
        assert_eq!(e.metadata["_sdk"], "litesoc-python");
    }

    #[test]
    fn names_are_trimmed_lowercased_and_aliases_rewritten() {
        let e = one(json!({"event":"  Auth.Login.Success "}));
        assert_eq!(e.event_name, "auth.login_success");
        assert_eq!(e.metadata["_original_event"], "auth.login.success");
        assert_eq!(
            one(json!({"event_name":"billing.paid"})).event_name,
            "billing.paid"
        );
    }

    #[test]
    fn bad_names_are_rejected_with_the_field() {
        for bad in [
            json!({}),
            json!({"event":""}),
            json!({"event":"nodot"}),
            json!({"event":"a..b"}),
            json!({"event":"a.b c"}),
            json!({"event":7}),
            json!({"event":format!("a.{}", "x".repeat(99))}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationError, "{bad}");
            assert_eq!(details(&err), vec![(None, "event".to_string())], "{bad}");
        }
    }

    #[test]
    fn lenient_inputs_are_accepted() {
        // §9.9: placeholder IPs, null actor, email-only actor, top-level aliases, unknown keys.
        assert_eq!(
            one(json!({"event":"a.b","user_ip":"[REDACTED]"}))
                .user_ip
                .as_deref(),
            Some("[REDACTED]")
        );
        assert_eq!(one(json!({"event":"a.b","user_ip":null})).user_ip, None);
        assert_eq!(one(json!({"event":"a.b","actor":null})).actor_id, None);
        let e = one(json!({"event":"a.b","actor":{"email":"x@y.z"}}));
        assert_eq!(
            (e.actor_id.as_deref(), e.actor_email.as_deref()),
            (Some("x@y.z"), Some("x@y.z"))
        );
        let e = one(
            json!({"event":"a.b","user_id":"u1","email":"e@x","ip_address":"1.2.3.4","severity":"critical","timestamp":"x","zzz":1}),
        );
        assert_eq!(
            (e.actor_id.as_deref(), e.user_ip.as_deref()),
            (Some("u1"), Some("1.2.3.4"))
        );
        assert_eq!(
            one(json!({"event":"a.b","actor":"bob"}))
                .actor_id
                .as_deref(),
            Some("bob")
        );
        assert_eq!(
            one(json!({"event":"a.b","actor":{"user_id":"u9","user_email":"m@x"}}))
                .actor_email
                .as_deref(),
            Some("m@x")
        );
        assert_eq!(
            one(json!({"event":"a.b","metadata":[1,2]})).metadata["_value"],
            json!([1, 2])
        );
    }

    #[test]
    fn wrong_types_and_sizes_are_rejected() {
        let cases = [
            (json!({"event":"a.b","user_ip":12345}), "user_ip"),
            (json!({"event":"a.b","ip_address":{}}), "ip_address"),
            (json!({"event":"a.b","user_ip":"1".repeat(65)}), "user_ip"),
            (json!({"event":"a.b","actor":{"id":{}}}), "actor.id"),
            (json!({"event":"a.b","actor":true}), "actor"),
            (
                json!({"event":"a.b","actor":{"id":"x".repeat(256)}}),
                "actor.id",
            ),
            (
                json!({"event":"a.b","actor":{"id":"a","email":"x".repeat(321)}}),
                "actor.email",
            ),
        ];
        for (body, field) in cases {
            let err = parse(body.clone()).unwrap_err();
            assert_eq!(details(&err), vec![(None, field.to_string())], "{body}");
        }
    }

    #[test]
    fn batches_are_all_or_nothing_with_indexes() {
        let err =
            parse(json!({"events":[{"event":"a.b"},{"event":"bad"},{"event":"c.d","user_ip":1}]}))
                .unwrap_err();
        assert_eq!(
            details(&err),
            vec![(Some(1), "event".into()), (Some(2), "user_ip".into())]
        );
        assert!(err.message.contains("events[1].event"));
        assert_eq!(
            parse(json!({"events":[{"event":"a.b"},{"event":"c.d"}]}))
                .unwrap()
                .len(),
            2
        );
        let err = parse(json!({"events":[{"event":"a.b"}, 5]})).unwrap_err();
        assert_eq!(details(&err), vec![(Some(1), "event".into())]);
    }

    #[test]
    fn batch_bounds() {
        let items = |n: usize| json!({"events": vec![json!({"event":"a.b"}); n]});
        assert_eq!(parse(items(100)).unwrap().len(), 100);
        assert_eq!(
            details(&parse(items(101)).unwrap_err()),
            vec![(None, "events".into())]
        );
        assert_eq!(
            details(&parse(items(0)).unwrap_err()),
            vec![(None, "events".into())]
        );
        assert_eq!(
            details(&parse(json!({"events":{}})).unwrap_err()),
            vec![(None, "events".into())]
        );
    }

    #[test]
    fn malformed_bodies_name_the_body() {
        for body in [&b"{"[..], b"", b"[1]", b"\"x\"", b"null", b"\xff\xfe"] {
            let err = parse_collect_body(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert_eq!(details(&err), vec![(None, "body".into())]);
        }
    }

    /// `{"a":{"a":…}}` nested `levels` deep, the outermost object being level 1.
    fn nested(levels: usize) -> Value {
        (1..levels).fold(json!({}), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn metadata_nests_at_most_the_limit_single_and_batched() {
        let at_limit = one(json!({"event":"a.b","metadata": nested(MAX_METADATA_DEPTH)}));
        assert_eq!(Value::Object(at_limit.metadata), nested(MAX_METADATA_DEPTH));
        let over = nested(MAX_METADATA_DEPTH + 1);
        let err = parse(json!({"event":"a.b","metadata": over})).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(details(&err), vec![(None, "metadata".into())]);
        let err = parse(json!({"events":[{"event":"a.b"},{"event":"a.b","metadata": over}]}))
            .unwrap_err();
        assert_eq!(details(&err), vec![(Some(1), "metadata".into())]);
        // Arrays count like objects, and a non-object metadata is wrapped as `_value` (level 2).
        let arrays = (2..=MAX_METADATA_DEPTH).fold(json!(1), |inner, _| json!([inner]));
        assert!(parse(json!({"event":"a.b","metadata": {"x": arrays}})).is_ok());
        assert!(parse(json!({"event":"a.b","metadata": arrays})).is_ok());
        let deeper = json!([arrays]);
        assert_eq!(
            details(&parse(json!({"event":"a.b","metadata": deeper})).unwrap_err()),
            vec![(None, "metadata".into())]
        );
        // Deeper than serde_json's own limit: still a 400, on the body.
        let err = parse_collect_body(nested(130).to_string().as_bytes()).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn oversize_events_and_bodies_are_413() {
        let big = "x".repeat(MAX_EVENT_BYTES);
        let err =
            parse(json!({"events":[{"event":"a.b"},{"event":"a.b","metadata":{"blob":big}}]}))
                .unwrap_err();
        assert_eq!(err.status(), 413);
        assert_eq!(details(&err), vec![(Some(1), "event".into())]);
        assert_eq!(
            parse(json!({"event":"a.b","metadata":{"blob":big}}))
                .unwrap_err()
                .status(),
            413
        );
        assert_eq!(
            parse_collect_body(&vec![b' '; MAX_BODY_BYTES + 1])
                .unwrap_err()
                .status(),
            413
        );
    }
}
