//! Loki's protobuf push (docs/dashboard.md §7.1), what Promtail, Grafana Alloy, Vector's `loki`
//! sink and winston-loki send by default: a `logproto.PushRequest`, snappy-compressed in the
//! block format, whose streams carry their labels as one Prometheus label-set string
//! (`{job="sshd", host="web-1"}`). Decoded with `snap` and `prost` into the same streams as the
//! JSON push, under the same limits: the snappy header's length is checked before anything is
//! allocated (413 over [`MAX_BODY_BYTES`]), and streams, entries and labels are counted.

use super::push::{PushEntry, PushStream};
use super::{MAX_BODY_BYTES, MAX_ENTRIES, MAX_LABELS, MAX_STREAMS};
use crate::api::error::ApiError;
use crate::time::UnixMs;
use prost::Message;
use serde_json::{Map, Value};

#[derive(Clone, PartialEq, Message)]
struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, Message)]
struct StreamAdapter {
    #[prost(string, tag = "1")]
    labels: String,
    #[prost(message, repeated, tag = "2")]
    entries: Vec<EntryAdapter>,
}

#[derive(Clone, PartialEq, Message)]
struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    line: String,
    #[prost(message, repeated, tag = "3")]
    structured_metadata: Vec<LabelPair>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
struct LabelPair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

/// Parses a snappy-compressed protobuf push. Errors: 413 over the size, stream, entry or label
/// limits; 400 for a body that is not snappy, not a `PushRequest`, or whose labels are not a
/// label set (naming `streams[i].labels`).
pub fn parse_proto_push(body: &[u8]) -> Result<Vec<PushStream>, ApiError> {
    let len = snap::raw::decompress_len(body).map_err(|_| {
        ApiError::invalid("body", "is not snappy-compressed (Loki's protobuf push is)")
    })?;
    if len > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(format!(
            "Push body exceeds {MAX_BODY_BYTES} bytes after decompression"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ApiError::invalid("body", format!("is not valid snappy: {e}")))?;
    let req = PushRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::invalid("body", format!("is not a Loki protobuf push: {e}")))?;
    drop(raw);
    if req.streams.len() > MAX_STREAMS {
        return Err(ApiError::payload_too_large(format!(
            "Push has more than {MAX_STREAMS} streams"
        )));
    }
    if req.streams.iter().map(|s| s.entries.len()).sum::<usize>() > MAX_ENTRIES {
        return Err(ApiError::payload_too_large(format!(
            "Push has more than {MAX_ENTRIES} entries"
        )));
    }
    req.streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let labels = parse_label_set(&s.labels).map_err(|m| label_error(i, m))?;
            let entries = s.entries.into_iter().map(entry).collect();
            Ok(PushStream { labels, entries })
        })
        .collect()
}

fn label_error(stream: usize, m: LabelSetError) -> ApiError {
    match m {
        LabelSetError::TooMany => ApiError::payload_too_large(format!(
            "Push has a stream with more than {MAX_LABELS} labels"
        )),
        LabelSetError::Malformed(why) => {
            ApiError::invalid(format!("streams[{stream}].labels"), why)
        }
    }
}

fn entry(e: EntryAdapter) -> PushEntry {
    let ts = e.timestamp.map_or(UnixMs(0), |t| {
        UnixMs(
            t.seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(t.nanos.clamp(0, 999_999_999)) / 1_000_000),
        )
    });
    let structured = (!e.structured_metadata.is_empty()).then(|| {
        e.structured_metadata
            .into_iter()
            .take(MAX_LABELS)
            .map(|p| (p.name, Value::String(p.value)))
            .collect::<Map<String, Value>>()
    });
    PushEntry {
        ts,
        line: e.line,
        structured,
    }
}

/// Why a label-set string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSetError {
    /// More than [`MAX_LABELS`] labels: a limit (413).
    TooMany,
    /// Not a label set: a client error (400), saying what is wrong.
    Malformed(String),
}

/// A Prometheus label set, `{name="value", …}` (values double-quoted, `\\`, `\"` and `\n`
/// escaped; `{}` empty), as a map of string labels.
pub fn parse_label_set(s: &str) -> Result<Map<String, Value>, LabelSetError> {
    let bad = |why: &str| {
        LabelSetError::Malformed(format!("must be a label set {{name=\"value\", …}}: {why}"))
    };
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| bad("no braces"))?;
    let mut out = Map::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad("a label name must match [a-zA-Z_][a-zA-Z0-9_]*"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(bad(&format!("{name} needs =\"value\"")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('"') {
            return Err(bad(&format!("{name} needs =\"value\"")));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(bad("an unterminated value")),
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    _ => return Err(bad("an unknown escape")),
                },
                Some(c) => value.push(c),
            }
        }
        if out.len() == MAX_LABELS && !out.contains_key(&name) {
            return Err(LabelSetError::TooMany);
        }
        out.insert(name, Value::String(value));
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(out),
            Some(',') => {}
            Some(_) => return Err(bad("labels are separated by commas")),
        }
    }
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
