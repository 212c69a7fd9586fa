//! What both webhook formats share: event names from tables, the actor, and a `/collect`
//! event that always validates, however large the original record it keeps.

use crate::ingest::{MAX_ACTOR_EMAIL, MAX_ACTOR_ID, MAX_METADATA_DEPTH, MAX_USER_IP};
use crate::text::shorten;
use serde_json::{Map, Value};

/// Serialized event size above which the kept original is shortened; the hard limit,
/// `MAX_EVENT_BYTES`, is 32 KiB.
pub(super) const RAW_BUDGET: usize = 24 * 1024;
/// Longest string copied to the top of `metadata`.
pub(super) const MAX_TEXT: usize = 512;

/// The event of a table of `(event, keys)` rows listing `key`.
pub(super) fn lookup(table: &[(&'static str, &[&str])], key: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(event, _)| *event)
}

/// `<category>.<action>` for an unmapped action: lowercased, characters outside `[a-z0-9_-]`
/// replaced by `_`, cut to fit the 100-character name, `unknown` when empty.
pub(super) fn custom(category: &str, action: &str) -> String {
    let room = crate::ingest::MAX_EVENT_NAME - category.len() - 1;
    let segment: String = action
        .chars()
        .take(room)
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '_',
        })
        .collect();
    let segment = if segment.is_empty() {
        "unknown"
    } else {
        &segment
    };
    format!("{category}.{segment}")
}

/// A non-blank string (trimmed) or an integer, as text.
pub(super) fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// `{id, email}` from an id and a user name: the name is the email when it looks like one and
/// the id when there is none. `None` without either.
pub(super) fn actor(id: Option<String>, name: Option<String>) -> Option<Value> {
    let email = name.clone().filter(|n| is_email(n));
    let id = id.or(name)?;
    let mut actor = Map::new();
    actor.insert("id".into(), shorten(&id, MAX_ACTOR_ID).into());
    if let Some(email) = email {
        actor.insert("email".into(), email.into());
    }
    Some(Value::Object(actor))
}

fn is_email(s: &str) -> bool {
    s.chars().count() <= MAX_ACTOR_EMAIL
        && !s.contains(char::is_whitespace)
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
}

/// The original record kept in `metadata[key]`; `depth` is how many levels of objects to
/// descend before dropping whole members when it must shrink.
pub(super) struct Raw {
    pub key: &'static str,
    pub value: Value,
    pub depth: usize,
}

/// A `/collect` event object that always validates: `ip` only when a non-blank string of at
/// most 64 characters, the original cut to 32 metadata levels and shortened past [`RAW_BUDGET`] (its
/// largest members dropped, `metadata.raw_truncated: true`), or left out should that not do.
pub(super) fn build(
    name: &str,
    actor: Option<Value>,
    ip: Option<&Value>,
    mut metadata: Map<String, Value>,
    mut raw: Raw,
) -> Value {
    let ip = match ip {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_USER_IP => {
            Value::String(s.trim().to_string())
        }
        _ => Value::Null,
    };
    // The original sits at metadata level 2.
    let mut truncated = clip_depth(&mut raw.value, 2);
    metadata.insert(raw.key.into(), raw.value);
    let mut event = Map::new();
    event.insert("event".into(), name.into());
    if let Some(actor) = actor {
        event.insert("actor".into(), actor);
    }
    event.insert("user_ip".into(), ip);
    event.insert("metadata".into(), Value::Object(metadata));
    let mut event = Value::Object(event);
    for _ in 0..3 {
        let size = json_len(&event);
        if size <= RAW_BUDGET {
            break;
        }
        truncated = true;
        shed(
            &mut event["metadata"][raw.key],
            size - RAW_BUDGET,
            raw.depth,
        );
    }
    let too_big = json_len(&event) > RAW_BUDGET;
    if let Some(Value::Object(metadata)) = event.get_mut("metadata") {
        if too_big {
            metadata.remove(raw.key);
        }
        if truncated {
            metadata.insert("raw_truncated".into(), true.into());
        }
    }
    event
}

/// Replaces objects and arrays deeper than the metadata limit (`v` being at `level`) by null;
/// whether any was.
fn clip_depth(v: &mut Value, level: usize) -> bool {
    match v {
        Value::Object(_) | Value::Array(_) if level > MAX_METADATA_DEPTH => {
            *v = Value::Null;
            true
        }
        Value::Object(m) => m
            .values_mut()
            .fold(false, |cut, c| clip_depth(c, level + 1) | cut),
        Value::Array(a) => a
            .iter_mut()
            .fold(false, |cut, c| clip_depth(c, level + 1) | cut),
        _ => false,
    }
}

/// Drops members of `v`, largest first, until about `excess` bytes are gone, descending into
/// object members `depth` levels before dropping whole ones; the bytes dropped.
fn shed(v: &mut Value, excess: usize, depth: usize) -> usize {
    let Value::Object(map) = v else { return 0 };
    let mut members: Vec<(usize, String)> = map
        .iter()
        .map(|(k, v)| (json_len(v) + k.len() + 4, k.clone()))
        .collect();
    members.sort_unstable_by(|a, b| b.cmp(a));
    let mut freed = 0;
    for (size, key) in members {
        if freed >= excess {
            break;
        }
        match map.get_mut(&key) {
            Some(child @ Value::Object(_)) if depth > 0 => {
                freed += shed(child, excess - freed, depth - 1);
            }
            _ => {
                map.remove(&key);
                freed += size;
            }
        }
    }
    freed
}

fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}
