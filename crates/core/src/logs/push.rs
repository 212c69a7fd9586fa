//! Loki's JSON push body (docs/dashboard.md §7.1, "Entries"):
//! `{"streams":[{"stream":{labels},"values":[[ts, line], [ts, line, {structured}]]}]}`, and the
//! older form python-logging-loki still sends by default:
//! `{"streams":[{"labels":"{job=\"x\"}","entries":[{"ts":"<RFC 3339>","line":"…"}]}]}`.
//!
//! The body is read by hand-written serde visitors that count entries across all streams as
//! they go, so a body with too many entries is refused (413) without first materialising
//! every one of them.

use super::{MAX_ENTRIES, MAX_LABELS, MAX_STREAMS};
use crate::api::error::ApiError;
use crate::time::UnixMs;
use chrono::DateTime;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;

/// One entry of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct PushEntry {
    /// The entry's timestamp, in milliseconds (Loki sends nanoseconds).
    pub ts: UnixMs,
    /// The log line as sent (not yet truncated).
    pub line: String,
    /// The entry's structured metadata (the optional third element).
    pub structured: Option<Map<String, Value>>,
}

/// One stream: its labels and its entries, in the order sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PushStream {
    pub labels: Map<String, Value>,
    pub entries: Vec<PushEntry>,
}

/// Parses a push body. Errors: 413 for more than [`MAX_ENTRIES`] entries in all; 400 for a
/// body that is not a push (naming the first bad entry as `streams[i].values[j]`).
///
/// Tolerated beyond Loki's own format (§7.1): a timestamp given as a JSON number (still in
/// nanoseconds) or as an RFC 3339 string; a stream without `stream` (no labels) or without
/// `values` (no entries); `null` structured metadata; unknown keys anywhere.
pub fn parse_push(body: &[u8]) -> Result<Vec<PushStream>, ApiError> {
    let count = Cell::new(0usize);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = PushSeed { count: &count }
        .deserialize(&mut de)
        .and_then(|streams| de.end().map(|()| streams));
    let raw = match parsed {
        Ok(raw) => raw,
        Err(_) if count.get() > MAX_ENTRIES => {
            return Err(ApiError::payload_too_large(format!(
                "Push has more than {MAX_ENTRIES} entries"
            )))
        }
        Err(e) if e.to_string().starts_with(LIMIT_ERROR) => {
            let what = e.to_string();
            let what = what[LIMIT_ERROR.len()..]
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(ApiError::payload_too_large(format!("Push has {what}")));
        }
        Err(e) => {
            return Err(ApiError::invalid(
                "body",
                format!("is not a Loki JSON push: {e}"),
            ))
        }
    };
    raw.into_iter()
        .enumerate()
        .map(|(si, stream)| {
            let entries = stream
                .values
                .into_iter()
                .enumerate()
                .map(|(vi, v)| {
                    entry(v)
                        .map_err(|m| ApiError::invalid(format!("streams[{si}].values[{vi}]"), m))
                })
                .collect::<Result<_, _>>()?;
            Ok(PushStream {
                labels: stream.labels,
                entries,
            })
        })
        .collect()
}

/// One `[ts, line]` or `[ts, line, {structured metadata}]` array, or an older push's
/// `{"ts": …, "line": …}` object.
fn entry(v: Value) -> Result<PushEntry, String> {
    let items = match v {
        Value::Array(items) => items,
        Value::Object(mut o) if o.contains_key("line") => {
            vec![
                o.remove("ts").unwrap_or(Value::Null),
                o.remove("line").unwrap_or(Value::Null),
            ]
        }
        _ => return Err("must be an array [timestamp, line]".into()),
    };
    if !(2..=3).contains(&items.len()) {
        return Err(format!("must have 2 or 3 elements, not {}", items.len()));
    }
    let mut items = items.into_iter();
    let ts = items.next().unwrap_or(Value::Null);
    let line = items.next().unwrap_or(Value::Null);
    let structured = items.next().unwrap_or(Value::Null);
    let ts = parse_ts(&ts)
        .ok_or("timestamp must be Unix nanoseconds (a string of digits or a number) or RFC 3339")?;
    let Value::String(line) = line else {
        return Err("line must be a string".into());
    };
    let structured = match structured {
        Value::Null => None,
        Value::Object(map) => Some(map),
        _ => return Err("structured metadata must be an object".into()),
    };
    Ok(PushEntry {
        ts,
        line,
        structured,
    })
}

const NS_PER_MS: i128 = 1_000_000;

/// A timestamp as milliseconds: a string of (optionally negative) Unix nanoseconds, a JSON
/// number of nanoseconds, or an RFC 3339 string. Absurd magnitudes saturate (and are dropped
/// later as out of bounds) rather than fail.
pub(super) fn parse_ts(v: &Value) -> Option<UnixMs> {
    let saturate = |ms: i128| UnixMs(ms.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64);
    match v {
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix('-').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // Up to 38 digits fit i128; longer strings are nonsense, not a timestamp.
                let ns: i128 = s.parse().ok()?;
                return Some(saturate(ns.div_euclid(NS_PER_MS)));
            }
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| UnixMs(d.timestamp_millis()))
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(saturate(i128::from(i).div_euclid(NS_PER_MS)))
            } else if let Some(u) = n.as_u64() {
                Some(saturate(i128::from(u).div_euclid(NS_PER_MS)))
            } else {
                let f = n.as_f64().filter(|f| f.is_finite())?;
                Some(saturate((f / 1e6).floor() as i128))
            }
        }
        _ => None,
    }
}

// ---- counting visitors ------------------------------------------------------------------

struct RawStream {
    labels: Map<String, Value>,
    values: Vec<Value>,
}

/// The whole body: an object whose `streams` is read with [`StreamsSeed`].
struct PushSeed<'a> {
    count: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for PushSeed<'_> {
    type Value = Vec<RawStream>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PushSeed<'_> {
    type Value = Vec<RawStream>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an object {"streams": [...]}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut streams = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "streams" {
                streams = Some(map.next_value_seed(StreamsSeed { count: self.count })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        streams.ok_or_else(|| de::Error::missing_field("streams"))
    }
}

struct StreamsSeed<'a> {
    count: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for StreamsSeed<'_> {
    type Value = Vec<RawStream>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StreamsSeed<'_> {
    type Value = Vec<RawStream>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of streams")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(s) = seq.next_element_seed(StreamSeed { count: self.count })? {
            if out.len() == MAX_STREAMS {
                return Err(de::Error::custom(format!(
                    "{LIMIT_ERROR}more than {MAX_STREAMS} streams"
                )));
            }
            out.push(s);
        }
        Ok(out)
    }
}

struct StreamSeed<'a> {
    count: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for StreamSeed<'_> {
    type Value = RawStream;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StreamSeed<'_> {
    type Value = RawStream;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a stream {"stream": {labels}, "values": [...]}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut labels = Map::new();
        let mut values = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "stream" => labels = map.next_value_seed(LabelsSeed)?,
                // The older push: a label-set string and `entries` of {ts, line} objects.
                "labels" => {
                    let set: String = map.next_value()?;
                    labels = super::proto::parse_label_set(&set).map_err(|e| match e {
                        super::proto::LabelSetError::TooMany => de::Error::custom(format!(
                            "{LIMIT_ERROR}a stream with more than {MAX_LABELS} labels"
                        )),
                        super::proto::LabelSetError::Malformed(why) => {
                            de::Error::custom(format!("labels {why}"))
                        }
                    })?;
                }
                "values" | "entries" => {
                    values = map.next_value_seed(ValuesSeed { count: self.count })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawStream { labels, values })
    }
}

/// Marks the parse errors that are limits (413), not malformed bodies (400).
const LIMIT_ERROR: &str = "limit: ";

/// A stream's labels: at most [`MAX_LABELS`], string values only (anything else is skipped
/// without being buffered), `null` meaning none.
struct LabelsSeed;

impl<'de> DeserializeSeed<'de> for LabelsSeed {
    type Value = Map<String, Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LabelsSeed {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of string labels")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Map::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut labels = Map::new();
        let mut seen = 0;
        while let Some(key) = map.next_key::<String>()? {
            seen += 1;
            if seen > MAX_LABELS {
                return Err(de::Error::custom(format!(
                    "{LIMIT_ERROR}a stream with more than {MAX_LABELS} labels"
                )));
            }
            if let Some(v) = map.next_value::<LabelValue>()?.0 {
                labels.insert(key, Value::String(v));
            }
        }
        Ok(labels)
    }
}

/// A label value: kept when it is a string, skipped (without buffering) otherwise.
struct LabelValue(Option<String>);

impl<'de> Deserialize<'de> for LabelValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LabelValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a label value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LabelValue, E> {
                Ok(LabelValue(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LabelValue, E> {
                Ok(LabelValue(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LabelValue, E> {
                Ok(LabelValue(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LabelValue, E> {
                Ok(LabelValue(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LabelValue, E> {
                Ok(LabelValue(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LabelValue, E> {
                Ok(LabelValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LabelValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LabelValue(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LabelValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LabelValue(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A stream's `values`: counts every entry against [`MAX_ENTRIES`] before keeping it.
struct ValuesSeed<'a> {
    count: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for ValuesSeed<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ValuesSeed<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [timestamp, line] entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        loop {
            if self.count.get() >= MAX_ENTRIES {
                // Any further entry is one too many; skip it without keeping it.
                return match seq.next_element::<IgnoredAny>()? {
                    Some(_) => {
                        self.count.set(self.count.get() + 1);
                        Err(de::Error::custom(format!(
                            "more than {MAX_ENTRIES} entries"
                        )))
                    }
                    None => Ok(out),
                };
            }
            match seq.next_element::<Value>()? {
                Some(v) => {
                    self.count.set(self.count.get() + 1);
                    out.push(v);
                }
                None => return Ok(out),
            }
        }
    }
}
