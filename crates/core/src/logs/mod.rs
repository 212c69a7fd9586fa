//! Raw log ingestion, Loki push compatible (docs/dashboard.md §7), and the dashboard's log
//! items (§2, §3.1): one per raw line (a `logs` row) or LiteSOC event (held in its `events`
//! row), classified once, here; [`items`] says where readers find them.
//!
//! The adapter's `POST /loki/api/v1/push` handler is a straight pipe through this module:
//! 1. [`check_headers`]: `Content-Type` and `Content-Encoding` → [`Format`] and [`Encoding`],
//!    or 415;
//! 2. [`decode_body`]: gunzip through a bounded reader (4 MiB after decompression), or 413;
//! 3. [`parse_body`]: the JSON push ([`parse_push`]) or the snappy protobuf push
//!    ([`parse_proto_push`]) into streams of entries (≤ 10,000 entries), or 400/413; a push
//!    with no entry at all is a 400, never a 204 that stores nothing;
//! 4. [`build_line_rows`]: labels (§7.1) + fields (§7.3) + type (§4/§5) per line, dropping
//!    entries outside `[cutoff, now + 10 min]` and truncating lines over 8 KiB;
//! 5. [`insert_statements`]: the rows as `json_each` inserts into `logs`, each preceded by the
//!    grouped [`rollups`] upserts of its rows (numbered in one sequence with `events`, see
//!    [`items`]);
//! 6. [`detect`]: brute force over the stored `login_failure` lines (§7.4); [`logins`]: the
//!    identity rules over the stored `login_success` lines of a user.
//!
//! [`event_row`] is the log item of a stored LiteSOC event (§3.1 "Events" column, §6); the
//! queue consumer stores it in the event's own row (`crate::ingest::record::insert_statements`).
//!
//! Pure: no I/O, no clock (callers pass `now`).

pub mod classify;
pub mod detect;
pub mod enrich;
pub mod items;
pub mod logins;
pub mod loki;
pub mod otlp;
mod proto;
mod push;
pub mod read;
pub mod rollups;
mod row;

pub use proto::{parse_label_set, parse_proto_push, LabelSetError};
pub use push::{parse_push, PushEntry, PushStream};
pub use row::{
    build_line_rows, event_row, hour_bucket, insert_statements, item_id, line_row, truncate_utf8,
    LineDetail, LineRows, LogRow, StoredLine, StreamLabels, INSERT_LOGS_SQL, LOG_COLUMNS,
    RETURNING,
};

use crate::api::error::ApiError;
use std::io::Read;

/// Largest push after decompression (§7.1 "Limits").
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest body read off the wire: the decompressed limit plus room for gzip framing of
/// incompressible data, so a gzip body is never refused for its compressed size alone.
pub const MAX_WIRE_BYTES: usize = MAX_BODY_BYTES + MAX_BODY_BYTES / 64;
/// Most entries in one push, all streams together (§7.1).
pub const MAX_ENTRIES: usize = 10_000;
/// Most streams in one push: a stream without entries carries nothing, so the entry cap bounds
/// it; without this, ~1.4 million empty streams fit in 4 MiB and multiply memory.
pub const MAX_STREAMS: usize = MAX_ENTRIES;
/// Most labels per stream (Loki itself defaults to 15–30 label names per series).
pub const MAX_LABELS: usize = 32;
/// Lines longer than this are truncated (at a UTF-8 boundary) before anything reads them.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// Entries stamped further than this in the future are dropped (§7.1).
pub const MAX_FUTURE_MS: i64 = 10 * 60 * 1000;
/// Other text fields (user, hostname, geo, device, resource) are truncated to this: a line's
/// own fields are bounded by the line, but its structured metadata is not.
pub const MAX_FIELD_BYTES: usize = 1024;
/// Label values used as columns are truncated to this. A label is copied into every row of
/// its stream, so without a bound one large label would be multiplied by 10,000 rows.
pub const MAX_LABEL_BYTES: usize = 256;

/// The entries of a push that were not stored, and why: Loki answers them with a 400 after
/// storing the rest, OTLP with `partial_success` (§7.1, §7.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rejected {
    pub count: usize,
    pub message: String,
    /// The rows stored beside them (a CloudTrail file on one line stores one per record).
    pub stored: usize,
}

impl LineRows {
    /// What was left out of these rows, as one sentence naming each reason and the bounds
    /// (`cutoff` is the oldest time kept).
    pub fn rejected(&self, cutoff: crate::time::UnixMs) -> Rejected {
        let count =
            self.dropped_old + self.dropped_future + self.dropped_empty + self.dropped_excess;
        if count == 0 {
            return Rejected {
                stored: self.rows.len(),
                ..Rejected::default()
            };
        }
        let mut reasons = Vec::new();
        if self.dropped_old > 0 {
            reasons.push(format!(
                "{} older than the retention cutoff {}",
                self.dropped_old,
                cutoff.iso_seconds()
            ));
        }
        if self.dropped_future > 0 {
            reasons.push(format!(
                "{} more than {} minutes in the future",
                self.dropped_future,
                MAX_FUTURE_MS / 60_000
            ));
        }
        if self.dropped_empty > 0 {
            reasons.push(format!("{} with an empty line", self.dropped_empty));
        }
        if self.dropped_excess > 0 {
            reasons.push(format!(
                "{} CloudTrail records beyond the {MAX_ENTRIES} a push may hold",
                self.dropped_excess
            ));
        }
        let total = count + self.rows.len();
        Rejected {
            count,
            message: format!(
                "{count} of {total} entries were not stored: {}; the other {} were stored",
                reasons.join(", "),
                self.rows.len()
            ),
            stored: self.rows.len(),
        }
    }
}

/// A push's format, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (`application/json`, or no content type): Loki's JSON push or OTLP/JSON.
    Json,
    /// Protobuf (`application/x-protobuf`): Loki's push (snappy-compressed) or OTLP's (not).
    Protobuf,
}

/// The body's content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::unsupported_media_type(message)
}

/// Checks the request's `Content-Type` and `Content-Encoding` (§7.1 "Body").
///
/// * `Content-Type` `application/json` (any parameters, any case) or absent/empty is the JSON
///   push; `application/x-protobuf` (or `application/protobuf`: Promtail, Alloy, Vector's
///   default) the protobuf push; anything else → 415.
/// * `Content-Encoding` may be absent, empty, `identity` or `gzip` (`x-gzip` is its registered
///   alias); a protobuf push may also say `snappy` (its body is snappy either way). Any other
///   coding, or a chain of codings, → 415.
pub fn check_headers(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(Format, Encoding), ApiError> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match media.as_str() {
        "" | "application/json" => Format::Json,
        "application/x-protobuf" | "application/protobuf" => Format::Protobuf,
        other => {
            return Err(unsupported(format!(
                "Content-Type {other} is not supported: send application/json or \
                 application/x-protobuf (snappy)"
            )))
        }
    };
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| {
            !c.is_empty() && c != "identity" && !(format == Format::Protobuf && c == "snappy")
        })
        .collect();
    match codings.as_slice() {
        [] => Ok((format, Encoding::Identity)),
        [one] if one == "gzip" || one == "x-gzip" => Ok((format, Encoding::Gzip)),
        _ => Err(unsupported(format!(
            "Content-Encoding {} is not supported: send gzip or no encoding",
            content_encoding.unwrap_or("").trim()
        ))),
    }
}

/// The push's streams, by its format; a push without a single entry is a 400 naming what it
/// holds (a body that is not a push at all, or entries under keys this format does not have,
/// would otherwise be answered 204 with nothing stored).
pub fn parse_body(format: Format, body: &[u8]) -> Result<Vec<PushStream>, ApiError> {
    let streams = match format {
        Format::Json => parse_push(body)?,
        Format::Protobuf => parse_proto_push(body)?,
    };
    if streams.iter().all(|s| s.entries.is_empty()) {
        return Err(ApiError::invalid(
            "streams",
            format!(
                "hold no entries ({} streams): nothing would be stored; send \
                 {{\"streams\": [{{\"stream\": {{labels}}, \"values\": [[\"<unix ns>\", \"<line>\"]]}}]}}",
                streams.len()
            ),
        ));
    }
    Ok(streams)
}

/// The body as JSON bytes, at most `limit` bytes after decompression.
///
/// Gzip is inflated through `Read::take(limit + 1)`, so a gzip bomb costs at most `limit + 1`
/// bytes of output (and the CPU to produce them) before it is refused with 413. Concatenated
/// gzip members (RFC 1952 allows them) are read as one stream. A body that is not valid gzip
/// is a 400.
pub fn decode_body(raw: Vec<u8>, encoding: Encoding, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::payload_too_large(format!(
            "Push body exceeds {limit} bytes after decompression"
        ))
    };
    match encoding {
        Encoding::Identity => {
            if raw.len() > limit {
                return Err(too_large());
            }
            Ok(raw)
        }
        Encoding::Gzip => {
            let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .take(bound)
                .read_to_end(&mut out)
                .map_err(|_| ApiError::invalid("body", "is not valid gzip"))?;
            if out.len() > limit {
                return Err(too_large());
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests;
