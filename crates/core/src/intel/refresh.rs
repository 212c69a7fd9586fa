//! Refreshing the network lists from public sources: the pure half of the hourly cron job.
//!
//! The Worker (`src/intel/lists.rs`) reads the source catalogue ([`Sources::from_var`]), fetches every
//! URL of a list with a timeout and a size cap, and hands the bodies to [`decide`], which says
//! what to store. It stores with [`store_statements`] (one D1 batch, so one transaction),
//! records an unchanged download with [`unchanged_statement`] (nothing is rewritten, so no
//! isolate re-parses the list), or records the error with [`error_statement`]. Requests load
//! what is stored into a [`LoadedLists`], at most once per [`RELOAD_AFTER_MS`] per isolate:
//! [`LISTS_SQL`] says which lists changed ([`LoadedLists::changed`]), and each changed list is
//! read on its own, a few chunks per statement ([`ListLoad`]), and parsed chunk by chunk into
//! its compact form, replacing the old one before the next is read ([`LoadedLists::finish`]).
//!
//! A security product must not lose its Tor list because a mirror returned an empty page, so a
//! refresh is refused, and the list in force kept, when:
//!
//! * a fetch fails (network error, timeout, non-2xx status), or any of a list's URLs does;
//! * a body is over [`MAX_SOURCE_BYTES`] or is not UTF-8;
//! * any line is invalid (HTML, a truncated download, a prefix broader than `/8` or `/16`):
//!   lists are never half-replaced;
//! * the list would have no entries, or more than [`MAX_LIST_ENTRIES`];
//! * the list would hold more than [`MAX_LIST_BYTES`] in memory (its memory budget, below);
//! * the list would shrink below [`MIN_KEEP_PERCENT`] % of the list in force (the stored one,
//!   else the shipped one). To accept such a shrink on purpose, delete the list's row from
//!   `network_lists`; the comparison is then with the shipped list.
//!
//! # Memory budget
//!
//! Every isolate that enriches holds the eight lists, so their size is budgeted, not just their
//! line count. In memory a list is sorted, merged ranges (8 bytes an IPv4 range, 32 an IPv6
//! range) or a sorted ASN array (4 bytes an ASN); overlapping and adjacent prefixes merge, so a
//! list's cost is its distinct ranges. A refresh refuses a list over [`MAX_LIST_BYTES`], and a
//! load keeps the shipped list instead of a stored one over it, so the lists together never
//! hold more than [`MAX_LISTS_BYTES`]. Loading reads and parses one list at a time, straight
//! from its stored chunks, so on top of the lists an isolate needs one list's stored text
//! (at most [`MAX_LIST_ENTRIES`] lines) while it reloads.
//!
//! # Formats
//!
//! A body is either a line list as [`super::ListTexts`] describes (one entry per line, `#`
//! comments, CSV first field), or a provider JSON feed: a body starting with `{` is flattened
//! to the string values of every `ip_prefix`, `ipv6_prefix`, `ipv4Prefix` and `ipv6Prefix` key
//! at any depth, which covers AWS `ip-ranges.json` and Google `cloud.json`/`goog.json`. The
//! feed is read as a stream: no JSON tree is built.
//! A list with several URLs (e.g. an IPv4 and an IPv6 file) is their union.
//!
//! Stored texts are canonical ([`super::canonical_entries`]): one entry per line, sorted,
//! de-duplicated, split into chunks of at most [`CHUNK_BYTES`] at line boundaries so no D1 value
//! nears its 2 MB limit.

use super::canonical::CanonicalSet;
use super::compact::Builder;
use super::lists::{Entry, Invalid, LineReader, ListKind, ListParser, NetworkLists};
use crate::api::sql::{SqlParam, Statement};
use crate::text::shorten;
use crate::time::UnixMs;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The var holding the source catalogue (a JSON object, list name → URL or array of URLs).
pub const SOURCES_VAR: &str = "NETWORK_LIST_SOURCES";
/// The cron expression that runs the refresh (`wrangler.toml` `[triggers] crons`); every other
/// cron runs the daily retention purge.
pub const REFRESH_CRON: &str = "41 * * * *";
/// The largest body accepted from one URL. The biggest default source (X4BNet's datacenter IPv4
/// list) is about 0.5 MB.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;
/// The most entries one list may hold after a refresh. It bounds the stored text (about 4 MB
/// of IPv4 entries, 11 MB of the longest IPv6 ones), which is what a reload reads at once.
pub const MAX_LIST_ENTRIES: usize = 250_000;
/// The memory budget of one list in an isolate, in bytes of its compact form (8 per merged
/// IPv4 range, 32 per IPv6 range, 4 per ASN: [`super::ParsedList::bytes`]). 2 MiB holds
/// 262,144 IPv4 ranges, 65,536 IPv6 ranges or every ASN a list may have. A refresh over it is
/// refused; a stored list over it is not loaded (the shipped one stays).
pub const MAX_LIST_BYTES: usize = 2 * 1024 * 1024;
/// What all lists together can hold: [`MAX_LIST_BYTES`] for each of the eight (the shipped
/// lists are far smaller).
pub const MAX_LISTS_BYTES: usize = ListKind::ALL.len() * MAX_LIST_BYTES;
// An IPv4 or ASN list within the entry cap is within the budget: only IPv6 ranges can reach it.
const _: () = assert!(MAX_LIST_ENTRIES * 8 <= MAX_LIST_BYTES);
/// A refresh that leaves fewer than this percentage of the entries in force is refused.
pub const MIN_KEEP_PERCENT: usize = 10;
/// URLs per list and characters per URL in the catalogue.
pub const MAX_URLS_PER_LIST: usize = 4;
pub const MAX_URL_CHARS: usize = 2048;
/// How long one fetch (connection, headers and body) may take.
pub const FETCH_TIMEOUT_MS: u64 = 20_000;
/// How long an isolate keeps the lists it loaded before reading D1 again.
pub const RELOAD_AFTER_MS: i64 = 5 * 60_000;
/// After a failed read, how long until the next attempt (the lists in force stay meanwhile).
pub const RELOAD_RETRY_MS: i64 = 30_000;
/// The largest chunk of a stored list text, in bytes.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// The longest error message recorded for a list.
pub const MAX_ERROR_CHARS: usize = 1_000;

const X4B: &str = "https://raw.githubusercontent.com/X4BNet/lists_vpn/main";

/// The documented public defaults, used when [`SOURCES_VAR`] is not set. `relay_asns` and
/// `relay_cidrs` are opt-in: the shipped satellite ASNs rarely change, and Apple's Private Relay
/// egress CSV is large while the relay flag only softens impossible travel.
pub fn default_sources() -> Vec<(ListKind, Vec<String>)> {
    let x4b = |paths: &[&str]| paths.iter().map(|p| format!("{X4B}/{p}")).collect();
    vec![
        (
            ListKind::TorExits,
            vec!["https://check.torproject.org/torbulkexitlist".to_string()],
        ),
        (ListKind::DatacenterAsns, x4b(&["input/datacenter/ASN.txt"])),
        (
            ListKind::DatacenterCidrs,
            x4b(&["output/datacenter/ipv4.txt", "output/datacenter/ipv6.txt"]),
        ),
        (ListKind::VpnAsns, x4b(&["input/vpn/ASN.txt"])),
        (
            ListKind::VpnCidrs,
            x4b(&["output/vpn/ipv4.txt", "output/vpn/ipv6.txt"]),
        ),
        (
            ListKind::ProxyCidrs,
            vec!["https://iplists.firehol.org/files/firehol_proxies.netset".to_string()],
        ),
    ]
}

/// Which lists the cron job refreshes, and from where. Lists not named keep what is stored (or
/// the shipped default); an empty catalogue disables the refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources(BTreeMap<ListKind, Vec<String>>);

impl Sources {
    /// The documented public defaults ([`default_sources`]).
    pub fn defaults() -> Sources {
        Sources(default_sources().into_iter().collect())
    }

    /// The catalogue from [`SOURCES_VAR`]: `None` (unset) is the defaults; otherwise a JSON
    /// object, given as a JSON text (a string var) or as an object (a `[vars]` table), whose
    /// keys are list names and whose values are an `http(s)://` URL or an array of 1 to
    /// [`MAX_URLS_PER_LIST`] of them. `{}` disables the refresh. Anything else is an error, and
    /// the caller refreshes nothing.
    pub fn from_var(value: Option<&Value>) -> Result<Sources, String> {
        let parsed;
        let value = match value {
            None => return Ok(Sources::defaults()),
            Some(Value::String(text)) => {
                parsed = serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("{SOURCES_VAR} is not JSON: {e}"))?;
                &parsed
            }
            Some(v) => v,
        };
        let Value::Object(map) = value else {
            return Err(format!("{SOURCES_VAR} must be a JSON object"));
        };
        let mut sources = BTreeMap::new();
        for (name, urls) in map {
            let kind = ListKind::parse(name)
                .ok_or_else(|| format!("{SOURCES_VAR}: unknown list {name:?}"))?;
            let urls: Vec<&Value> = match urls {
                Value::Array(a) => a.iter().collect(),
                one => vec![one],
            };
            if urls.is_empty() || urls.len() > MAX_URLS_PER_LIST {
                return Err(format!(
                    "{SOURCES_VAR}: {name} needs 1 to {MAX_URLS_PER_LIST} URLs"
                ));
            }
            let urls = urls
                .into_iter()
                .map(|u| match u {
                    Value::String(u) if valid_url(u) => Ok(u.clone()),
                    other => Err(format!(
                        "{SOURCES_VAR}: {name}: not an http(s) URL: {}",
                        shorten(&other.to_string(), 80)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            sources.insert(kind, urls);
        }
        Ok(Sources(sources))
    }

    /// The lists to refresh with their URLs, in [`ListKind`] order.
    pub fn iter(&self) -> impl Iterator<Item = (ListKind, &[String])> {
        self.0.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `http://` or `https://`, a host, no whitespace or control characters, bounded length.
fn valid_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && url.chars().count() <= MAX_URL_CHARS
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One URL's outcome as the Worker fetched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub url: String,
    /// The body, or why there is none (`HTTP 500`, `timed out after 20000 ms`, …).
    pub body: Result<Vec<u8>, String>,
}

/// What is stored for one list (from [`LISTS_SQL`] rows, by [`stored_meta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMeta {
    pub entries: usize,
    /// SHA-256 (hex) of the stored canonical text.
    pub sha256: String,
}

/// What to do with one list after its fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store this canonical text (one entry per line) as the list; it has `entries` entries and
    /// hashes to `sha256`.
    Store {
        text: String,
        entries: usize,
        sha256: String,
    },
    /// The download is the stored text again: record the successful check only, so nothing is
    /// rewritten and no isolate re-parses the list.
    Unchanged { entries: usize },
    /// Keep the list in force and record `error`.
    Keep { error: String },
}

/// Decides what to store for `kind` from its fetched bodies. `stored` describes the stored
/// list, if any; without one the shipped list is the one in force. ([`Candidate`] does the
/// same one body at a time.)
pub fn decide(kind: ListKind, fetched: &[Fetched], stored: Option<&StoredMeta>) -> Decision {
    let mut candidate = Candidate::new(kind);
    for f in fetched {
        candidate.add(f);
    }
    candidate.decide(stored)
}

/// The refresh of one list, fed its fetched bodies one at a time so each can be dropped once
/// added (a list may have four URLs of up to [`MAX_SOURCE_BYTES`]). One pass over a body builds
/// both the canonical text and the compact list whose size is budgeted; neither keeps a heap
/// object per entry. The first failing body decides the error; later ones are ignored.
#[derive(Debug)]
pub struct Candidate {
    kind: ListKind,
    canonical: CanonicalSet,
    ranges: Builder,
    bodies: usize,
    /// More than [`MAX_LIST_ENTRIES`] distinct entries were seen: lines are only checked.
    capped: bool,
    error: Option<String>,
}

impl Candidate {
    pub fn new(kind: ListKind) -> Self {
        Candidate {
            kind,
            canonical: CanonicalSet::new(kind),
            ranges: Builder::default(),
            bodies: 0,
            capped: false,
            error: None,
        }
    }

    /// Adds one URL's outcome.
    pub fn add(&mut self, f: &Fetched) {
        self.bodies += 1;
        if self.error.is_none() {
            if let Err(e) = self.read(f) {
                self.error = Some(e);
                // Nothing more is needed from what was read.
                self.canonical = CanonicalSet::new(self.kind);
                self.ranges = Builder::default();
            }
        }
    }

    fn read(&mut self, f: &Fetched) -> Result<(), String> {
        let body = f.body.as_ref().map_err(|e| format!("{}: {e}", f.url))?;
        if body.len() > MAX_SOURCE_BYTES {
            return Err(format!(
                "{}: body over {MAX_SOURCE_BYTES} bytes; refused",
                f.url
            ));
        }
        let text =
            std::str::from_utf8(body).map_err(|_| format!("{}: not UTF-8 text; refused", f.url))?;
        let text = flatten(text).map_err(|e| format!("{}: {e}; refused", f.url))?;
        let mut reader = LineReader::new(self.kind);
        let (canonical, ranges, capped) = (&mut self.canonical, &mut self.ranges, &mut self.capped);
        // Past the entry cap, lines are only checked: the list is refused either way, and
        // holds no more memory.
        let mut add = |e: Entry| {
            if !*capped {
                canonical.add(e);
                ranges.add(e);
                *capped = canonical.over(MAX_LIST_ENTRIES);
            }
        };
        reader.push(&text, &mut add);
        reader.finish(&mut add);
        if reader.invalid.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {}", f.url, describe(&reader.invalid)))
        }
    }

    /// What to store (see [`decide`]).
    pub fn decide(self, stored: Option<&StoredMeta>) -> Decision {
        match self.accept(stored.map(|s| s.entries)) {
            Ok((text, entries)) => {
                let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
                if stored.is_some_and(|s| s.sha256 == sha256) {
                    Decision::Unchanged { entries }
                } else {
                    Decision::Store {
                        text,
                        entries,
                        sha256,
                    }
                }
            }
            Err(error) => Decision::Keep {
                error: shorten(&error, MAX_ERROR_CHARS),
            },
        }
    }

    fn accept(mut self, stored_entries: Option<usize>) -> Result<(String, usize), String> {
        if self.bodies == 0 {
            return Err("no source".to_string());
        }
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.capped {
            return Err(format!(
                "more than {MAX_LIST_ENTRIES} entries, over the {MAX_LIST_ENTRIES}-entry cap; \
                 refused"
            ));
        }
        let bytes = self.ranges.bytes();
        drop(self.ranges);
        let (text, n) = self.canonical.finish();
        if n == 0 {
            return Err("no entries; an empty list is refused".to_string());
        }
        if n > MAX_LIST_ENTRIES {
            return Err(format!(
                "{n} entries, over the {MAX_LIST_ENTRIES}-entry cap; refused"
            ));
        }
        if bytes > MAX_LIST_BYTES {
            return Err(format!(
                "{n} entries need {bytes} bytes in memory as merged ranges, over the \
                 {MAX_LIST_BYTES}-byte budget per list; refused"
            ));
        }
        let kind = self.kind;
        let in_force = stored_entries.unwrap_or_else(|| NetworkLists::shipped().entry_count(kind));
        if n * 100 < in_force * MIN_KEEP_PERCENT {
            let which = if stored_entries.is_some() {
                "stored"
            } else {
                "shipped"
            };
            return Err(format!(
                "{n} entries, under {MIN_KEEP_PERCENT}% of the {in_force} in the {which} list; refused"
            ));
        }
        Ok((text, n))
    }
}

/// `N invalid lines, e.g. …` with the first three.
fn describe(invalid: &Invalid) -> String {
    let first: Vec<String> = invalid
        .errors
        .iter()
        .take(3)
        .map(|e| format!("line {}: {}", e.line, e.message))
        .collect();
    let s = if invalid.lines == 1 { "" } else { "s" };
    format!(
        "{} invalid line{s}; refused (first: {})",
        invalid.lines,
        first.join("; ")
    )
}

/// JSON keys whose string values are prefixes in provider feeds (AWS, Google).
const PREFIX_KEYS: [&str; 4] = ["ip_prefix", "ipv6_prefix", "ipv4Prefix", "ipv6Prefix"];

/// A line list as is; a provider JSON feed (starting with `{`) as one prefix per line.
fn flatten(text: &str) -> Result<Cow<'_, str>, String> {
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if !start.starts_with('{') {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::new();
    let mut json = serde_json::Deserializer::from_str(start);
    Prefixes {
        out: &mut out,
        take: false,
    }
    .deserialize(&mut json)
    .and_then(|()| json.end())
    .map_err(|e| format!("invalid JSON: {e}"))?;
    if out.is_empty() {
        return Err(format!("JSON without any {} value", PREFIX_KEYS.join("/")));
    }
    Ok(Cow::Owned(out))
}

/// Walks a JSON value as it is read, appending the string values of [`PREFIX_KEYS`] at any
/// depth to `out`, one per line; everything else is skipped, so memory does not grow with the
/// feed's structure. `take`: this value is under a prefix key.
struct Prefixes<'a> {
    out: &'a mut String,
    take: bool,
}

impl<'de> DeserializeSeed<'de> for Prefixes<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Prefixes<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        if self.take {
            self.out.push_str(s);
            self.out.push('\n');
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let out = self.out;
        while items
            .next_element_seed(Prefixes {
                out: &mut *out,
                take: false,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.out;
        while let Some(take) = map.next_key_seed(IsPrefixKey)? {
            map.next_value_seed(Prefixes {
                out: &mut *out,
                take,
            })?;
        }
        Ok(())
    }
}

/// Reads an object key as whether it is one of [`PREFIX_KEYS`], without keeping it.
struct IsPrefixKey;

impl<'de> DeserializeSeed<'de> for IsPrefixKey {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsPrefixKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(PREFIX_KEYS.contains(&key))
    }
}

/// `text` in pieces of at most `max` bytes, cut after a newline (a single line longer than `max`
/// is cut at a character boundary). Concatenated, the pieces are `text`.
pub fn chunks(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(4);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        // A newline is ASCII, so cutting just after one is always a character boundary.
        let mut cut = rest.as_bytes()[..max]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        if cut == 0 {
            cut = max;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The stored lists (only those holding a text), oldest columns first: rows for
/// [`stored_meta`] and [`LoadedLists::changed`]. No text is read.
pub const LISTS_SQL: &str = "SELECT list, entries, chunks, fetched_at, sha256 FROM network_lists \
WHERE fetched_at IS NOT NULL ORDER BY list";

/// The most chunks one D1 batch of a store writes (4 MiB of text): a longer list is staged
/// in several batches ([`store_batches`]), so the isolate's JavaScript heap holds one batch's
/// text at a time.
pub const STORE_CHUNKS_PER_BATCH: usize = 16;
/// Where staged chunks wait (`seq` from here) until the last batch of a store puts them in
/// place. Readers never reach them: they read `seq` below the row's `chunks`.
pub const STAGED_SEQ: usize = 1_000_000;

/// The D1 batches that replace `kind`'s stored text with `text` (from [`Decision::Store`]), to
/// run in order. A text of at most [`STORE_CHUNKS_PER_BATCH`] chunks is one batch
/// ([`store_statements`]). A longer one is staged: the first batches clear chunks left staged
/// by an interrupted store and write the new chunks at `seq` [`STAGED_SEQ`] and up, and the
/// last batch (one transaction) deletes the old chunks, moves the staged ones into place and
/// updates the row, so readers see the old list or the new one. If a batch fails, the list
/// in force is untouched. The statements of each batch are built when it is taken.
pub fn store_batches<'a>(
    kind: ListKind,
    urls: &'a [String],
    text: &'a str,
    entries: usize,
    sha256: &'a str,
    now: UnixMs,
) -> impl Iterator<Item = Vec<Statement>> + 'a {
    let pieces = chunks(text, CHUNK_BYTES);
    let n = pieces.len();
    let staged = n > STORE_CHUNKS_PER_BATCH;
    let list = move || SqlParam::Text(kind.as_str().to_string());
    let groups: Vec<Vec<(usize, &'a str)>> = if staged {
        pieces
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
            .chunks(STORE_CHUNKS_PER_BATCH)
            .map(<[_]>::to_vec)
            .collect()
    } else {
        Vec::new()
    };
    let single = (!staged).then(|| store_statements(kind, urls, text, entries, sha256, now));
    let stage = groups.into_iter().enumerate().map(move |(i, group)| {
        let mut batch = Vec::new();
        if i == 0 {
            batch.push((
                "DELETE FROM network_list_chunks WHERE list = ?1 AND seq >= ?2".to_string(),
                vec![list(), SqlParam::Number(STAGED_SEQ as f64)],
            ));
        }
        for (seq, piece) in group {
            batch.push(insert_chunk(kind, STAGED_SEQ + seq, piece));
        }
        batch
    });
    let commit = staged.then(move || {
        vec![
            (
                "DELETE FROM network_list_chunks WHERE list = ?1 AND seq < ?2".to_string(),
                vec![list(), SqlParam::Number(STAGED_SEQ as f64)],
            ),
            (
                "UPDATE network_list_chunks SET seq = seq - ?2 WHERE list = ?1 AND seq >= ?2"
                    .to_string(),
                vec![list(), SqlParam::Number(STAGED_SEQ as f64)],
            ),
            upsert_row(kind, urls, entries, n, sha256, now),
        ]
    });
    single.into_iter().chain(stage).chain(commit)
}

fn insert_chunk(kind: ListKind, seq: usize, piece: &str) -> Statement {
    (
        "INSERT INTO network_list_chunks (list, seq, body) VALUES (?1, ?2, ?3)".to_string(),
        vec![
            SqlParam::Text(kind.as_str().to_string()),
            SqlParam::Number(seq as f64),
            SqlParam::Text(piece.to_string()),
        ],
    )
}

fn upsert_row(
    kind: ListKind,
    urls: &[String],
    entries: usize,
    chunks: usize,
    sha256: &str,
    now: UnixMs,
) -> Statement {
    (
        "INSERT INTO network_lists (list, source, fetched_at, entries, chunks, sha256, checked_at, last_error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3, NULL) \
         ON CONFLICT (list) DO UPDATE SET source = excluded.source, fetched_at = excluded.fetched_at, \
         entries = excluded.entries, chunks = excluded.chunks, sha256 = excluded.sha256, \
         checked_at = excluded.checked_at, last_error = NULL"
            .to_string(),
        vec![
            SqlParam::Text(kind.as_str().to_string()),
            SqlParam::Text(urls.join(" ")),
            SqlParam::Number(now.0 as f64),
            SqlParam::Number(entries as f64),
            SqlParam::Number(chunks as f64),
            SqlParam::Text(sha256.to_string()),
        ],
    )
}

/// Replaces `kind`'s stored text with `text` (from [`Decision::Store`]) in one batch: the
/// caller runs these as one D1 transaction, so readers see the old list or the new one.
pub fn store_statements(
    kind: ListKind,
    urls: &[String],
    text: &str,
    entries: usize,
    sha256: &str,
    now: UnixMs,
) -> Vec<Statement> {
    let pieces = chunks(text, CHUNK_BYTES);
    let mut statements = vec![(
        "DELETE FROM network_list_chunks WHERE list = ?1".to_string(),
        vec![SqlParam::Text(kind.as_str().to_string())],
    )];
    for (seq, piece) in pieces.iter().enumerate() {
        statements.push(insert_chunk(kind, seq, piece));
    }
    statements.push(upsert_row(kind, urls, entries, pieces.len(), sha256, now));
    statements
}

/// Records a successful check that found the stored text unchanged ([`Decision::Unchanged`]):
/// `checked_at` moves and the last error clears; the text, `fetched_at` and `source` stay.
pub fn unchanged_statement(kind: ListKind, now: UnixMs) -> Statement {
    (
        "UPDATE network_lists SET checked_at = ?2, last_error = NULL WHERE list = ?1".to_string(),
        vec![
            SqlParam::Text(kind.as_str().to_string()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Records a refused refresh of `kind`: the stored text, its source and count stay as they are.
pub fn error_statement(kind: ListKind, error: &str, now: UnixMs) -> Statement {
    (
        "INSERT INTO network_lists (list, source, fetched_at, entries, chunks, checked_at, last_error) \
         VALUES (?1, NULL, NULL, 0, 0, ?2, ?3) \
         ON CONFLICT (list) DO UPDATE SET checked_at = excluded.checked_at, \
         last_error = excluded.last_error"
            .to_string(),
        vec![
            SqlParam::Text(kind.as_str().to_string()),
            SqlParam::Number(now.0 as f64),
            SqlParam::Text(shorten(error, MAX_ERROR_CHARS)),
        ],
    )
}

/// Chunks of one list read by one statement: at most 2 MiB of text ([`CHUNK_BYTES`] each) is
/// in the isolate's JavaScript heap at once while a list loads.
pub const CHUNKS_PER_READ: usize = 8;

/// Some chunks of one stored list, with the list's row: `?1` is the list name, `?2` and `?3`
/// the first and last `seq`. Each row is `entries, chunks, fetched_at, seq, body`
/// ([`ChunkRow`]), one per chunk in order (one with a null `seq` and `body` when no chunk is in
/// the range; none when the list is not stored). Every row carries the list's version
/// (`fetched_at`), so a list stored anew between two reads is noticed ([`ListLoad`]).
pub const LIST_SQL: &str = "SELECT l.entries, l.chunks, l.fetched_at, c.seq, c.body \
FROM network_lists l LEFT JOIN network_list_chunks c \
ON c.list = l.list AND c.seq BETWEEN ?2 AND ?3 \
WHERE l.list = ?1 AND l.fetched_at IS NOT NULL ORDER BY c.seq";

/// One row of [`LIST_SQL`], in column order (a raw D1 row converts to it): `entries`,
/// `chunks`, `fetched_at` of the list, `seq` and `body` of one chunk.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChunkRow(
    pub Option<f64>,
    pub Option<f64>,
    pub Option<f64>,
    pub Option<f64>,
    pub Option<String>,
);

impl ChunkRow {
    /// The row as D1 would answer [`LIST_SQL`] for this list row (`entries`, `chunks`,
    /// `fetched_at`) and chunk row (`seq`, `body`), as JSON objects (tests and fuzzing).
    pub fn from_json(list_row: &Value, chunk_row: Option<&Value>) -> ChunkRow {
        let chunk = |key| chunk_row.and_then(|c| number(c, key));
        ChunkRow(
            number(list_row, "entries"),
            number(list_row, "chunks"),
            number(list_row, "fetched_at"),
            chunk("seq"),
            chunk_row.and_then(|c| text(c, "body")).map(str::to_string),
        )
    }
}

fn number(row: &Value, key: &str) -> Option<f64> {
    row.get(key).and_then(Value::as_f64)
}

fn text<'a>(row: &'a Value, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

/// What is stored for every list that holds a text, from [`LISTS_SQL`] rows.
pub fn stored_meta(list_rows: &[Value]) -> BTreeMap<ListKind, StoredMeta> {
    list_rows
        .iter()
        .filter_map(|row| {
            let kind = ListKind::parse(text(row, "list")?)?;
            let entries = number(row, "entries")?.max(0.0) as usize;
            let sha256 = text(row, "sha256").unwrap_or_default().to_string();
            Some((kind, StoredMeta { entries, sha256 }))
        })
        .collect()
}

/// An isolate's lists in force and the stored versions (`fetched_at`) they were read from.
/// Starts as the shipped lists; [`Self::changed`] and [`Self::finish`] bring it up to date with
/// D1 one list at a time, each list replaced as soon as it is parsed, so an isolate never holds
/// two copies of the lists: at most the old and the new copy of the list being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedLists {
    lists: NetworkLists,
    /// By list name (names no build knows included, so they are reported once).
    versions: BTreeMap<String, i64>,
}

impl Default for LoadedLists {
    fn default() -> Self {
        LoadedLists {
            lists: NetworkLists::shipped().clone(),
            versions: BTreeMap::new(),
        }
    }
}

impl LoadedLists {
    /// The lists in force (a cheap clone: the lists are shared).
    pub fn lists(&self) -> &NetworkLists {
        &self.lists
    }

    /// Compares [`LISTS_SQL`] rows with what is loaded: returns the lists to read again with
    /// [`LIST_SQL`] (stored anew or changed since), and problems to log. A list no
    /// longer stored returns to its shipped list at once; an unknown list name is reported
    /// once per version and ignored.
    pub fn changed(&mut self, list_rows: &[Value]) -> (Vec<ListKind>, Vec<String>) {
        let stored: BTreeMap<&str, i64> = list_rows
            .iter()
            .filter_map(|row| Some((text(row, "list")?, number(row, "fetched_at")? as i64)))
            .collect();
        let mut read = Vec::new();
        let mut problems = Vec::new();
        for (name, version) in &stored {
            if self.versions.get(*name) == Some(version) {
                continue;
            }
            match ListKind::parse(name) {
                Some(kind) => read.push(kind),
                None => {
                    problems.push(format!("unknown stored list {name:?} ignored"));
                    self.versions.insert(name.to_string(), *version);
                }
            }
        }
        let gone: Vec<String> = self
            .versions
            .keys()
            .filter(|name| !stored.contains_key(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            self.versions.remove(&name);
            if let Some(kind) = ListKind::parse(&name) {
                self.lists.reset(kind);
            }
        }
        (read, problems)
    }

    /// Puts in force what `load` read (see [`ListLoad`]). A list no longer stored returns to
    /// its shipped list. A stored list that cannot be used keeps the shipped list, with a
    /// problem to log, until it is stored again: chunks that do not match the row, a text
    /// that no longer parses (stored texts are validated, so only a change of parsing rules
    /// could do this) or a list over [`MAX_LIST_BYTES`]. A list stored anew again and again
    /// while it was read keeps what is in force, and is read at the next reload.
    pub fn finish(&mut self, load: ListLoad) -> Option<String> {
        let kind = load.kind;
        let version = match load.state {
            State::Missing => {
                self.versions.remove(kind.as_str());
                self.lists.reset(kind);
                return None;
            }
            State::Moving => {
                return Some(format!(
                    "{kind}: stored anew while it was read; read again at the next reload"
                ))
            }
            State::Reading | State::Broken(_) => match load.version {
                Some(v) => v,
                None => return Some(format!("{kind}: incomplete row ignored")),
            },
        };
        self.versions
            .insert(kind.as_str().to_string(), version as i64);
        let parsed = match load.state {
            State::Broken(problem) => Err(problem),
            _ => load.parsed(),
        };
        match parsed {
            Ok(parsed) => {
                self.lists.set(parsed);
                None
            }
            Err(problem) => {
                self.lists.reset(kind);
                Some(problem)
            }
        }
    }
}

/// Reading one stored list, [`CHUNKS_PER_READ`] chunks per statement: run
/// [`Self::next_statement`] and give its rows to [`Self::feed`] until there is no next
/// statement, then [`LoadedLists::finish`]. Each chunk is parsed and dropped as its row comes,
/// so the isolate holds one chunk of text at a time in its WebAssembly memory and one read's
/// in its JavaScript heap. When the list's version changes between reads, the list is read
/// again from its first chunk (at most [`MAX_RESTARTS`] times).
#[derive(Debug)]
pub struct ListLoad {
    kind: ListKind,
    parser: ListParser,
    /// `fetched_at` and `chunks` of the list's row, from the first read.
    version: Option<f64>,
    entries: Option<f64>,
    count: Option<f64>,
    /// The next chunk to read.
    next: usize,
    restarts: usize,
    state: State,
}

/// How many times a list stored anew while it is read is read again from the start.
pub const MAX_RESTARTS: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Reading,
    /// The list is not stored.
    Missing,
    /// Stored anew more than [`MAX_RESTARTS`] times while read.
    Moving,
    /// Unusable, with the problem.
    Broken(String),
}

impl ListLoad {
    pub fn new(kind: ListKind) -> Self {
        ListLoad {
            kind,
            parser: ListParser::new(kind),
            version: None,
            entries: None,
            count: None,
            next: 0,
            restarts: 0,
            state: State::Reading,
        }
    }

    /// The statement reading the next chunks, or `None` when the list is read.
    pub fn next_statement(&self) -> Option<Statement> {
        let more = match self.count {
            None => true, // nothing read yet
            Some(count) => (self.next as f64) < count,
        };
        (self.state == State::Reading && more).then(|| {
            (
                LIST_SQL.to_string(),
                vec![
                    SqlParam::Text(self.kind.as_str().to_string()),
                    SqlParam::Number(self.next as f64),
                    SqlParam::Number((self.next + CHUNKS_PER_READ - 1) as f64),
                ],
            )
        })
    }

    /// The rows of the statement [`Self::next_statement`] gave, one at a time.
    pub fn feed(&mut self, rows: impl IntoIterator<Item = ChunkRow>) {
        let mut rows = rows.into_iter().peekable();
        let Some(&ChunkRow(entries, count, version, ..)) = rows.peek() else {
            // No row: the list is not stored (any more).
            self.state = State::Missing;
            return;
        };
        if self.version.is_none() {
            let (Some(_), Some(_), Some(_)) = (entries, count, version) else {
                let kind = self.kind;
                self.state = State::Broken(format!("{kind}: incomplete row ignored"));
                self.version = version;
                return;
            };
            (self.version, self.entries, self.count) = (version, entries, count);
        } else if version != self.version {
            if self.restarts == MAX_RESTARTS {
                self.state = State::Moving;
                return;
            }
            *self = ListLoad {
                restarts: self.restarts + 1,
                ..ListLoad::new(self.kind)
            };
            // The rows of a range past the first belong to the old read: read again.
            return;
        }
        let first = self.next;
        for ChunkRow(.., seq, body) in rows {
            match (seq, body) {
                (Some(seq), Some(body)) if seq == self.next as f64 => {
                    self.parser.push(&body);
                    self.next += 1;
                }
                (None, None) => {} // no chunk in the range
                _ => {
                    self.broken(first);
                    return;
                }
            }
        }
        let count = self.count.unwrap_or(0.0);
        let expected = (first + CHUNKS_PER_READ).min(count.max(0.0) as usize);
        if self.next != expected || self.next as f64 > count {
            self.broken(first);
        }
    }

    fn broken(&mut self, first: usize) {
        let (kind, count) = (self.kind, self.count.unwrap_or(0.0));
        let got = self.next - first;
        self.state = State::Broken(format!(
            "{kind}: chunks {first}.. do not match the row ({got} in order of {count}); ignored"
        ));
    }

    fn parsed(self) -> Result<super::ParsedList, String> {
        let kind = self.kind;
        let parsed = self.parser.finish().map_err(|invalid| {
            format!(
                "stored {kind}: {}; the shipped list stays",
                describe(&invalid)
            )
        })?;
        if parsed.bytes() > MAX_LIST_BYTES {
            return Err(format!(
                "stored {kind}: {} bytes in memory, over the {MAX_LIST_BYTES}-byte budget per \
                 list; the shipped list stays",
                parsed.bytes()
            ));
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sql::max_placeholder;
    use crate::intel::ParsedList;
    use serde_json::json;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ok(url: &str, body: &str) -> Fetched {
        Fetched {
            url: url.to_string(),
            body: Ok(body.as_bytes().to_vec()),
        }
    }

    fn failed(url: &str, why: &str) -> Fetched {
        Fetched {
            url: url.to_string(),
            body: Err(why.to_string()),
        }
    }

    fn keep_error(d: Decision) -> String {
        match d {
            Decision::Keep { error } => error,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn stored(d: Decision) -> (String, usize) {
        match d {
            Decision::Store { text, entries, .. } => (text, entries),
            other => panic!("expected a store, got {other:?}"),
        }
    }

    /// A stored list of `entries` entries with an unrelated hash.
    fn meta(entries: usize) -> StoredMeta {
        StoredMeta {
            entries,
            sha256: String::new(),
        }
    }

    /// `n` distinct Tor exits, one per line.
    fn exits(n: usize) -> String {
        (0..n)
            .map(|i| format!("198.51.{}.{}\n", i / 250, i % 250 + 1))
            .collect()
    }

    #[test]
    fn the_catalogue_defaults_to_the_documented_public_sources() {
        let d = Sources::from_var(None).unwrap();
        assert_eq!(d, Sources::defaults());
        let names: Vec<&str> = d.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "tor_exits",
                "datacenter_asns",
                "datacenter_cidrs",
                "vpn_asns",
                "vpn_cidrs",
                "proxy_cidrs"
            ]
        );
        for (kind, urls) in d.iter() {
            assert!(
                !urls.is_empty() && urls.len() <= MAX_URLS_PER_LIST,
                "{kind}"
            );
            for url in urls {
                assert!(url.starts_with("https://") && valid_url(url), "{url}");
            }
        }
        let tor: Vec<&[String]> = d
            .iter()
            .filter(|(k, _)| *k == ListKind::TorExits)
            .map(|(_, u)| u)
            .collect();
        assert_eq!(tor[0], ["https://check.torproject.org/torbulkexitlist"]);
    }

    #[test]
    fn the_catalogue_var_is_a_json_object_of_urls() {
        let text = json!(
            r#"{"tor_exits":"http://127.0.0.1:8080/tor","vpn_cidrs":["https://a.example/4","https://a.example/6"]}"#
        );
        let s = Sources::from_var(Some(&text)).unwrap();
        let got: Vec<(ListKind, Vec<String>)> = s.iter().map(|(k, u)| (k, u.to_vec())).collect();
        assert_eq!(
            got,
            [
                (
                    ListKind::TorExits,
                    vec!["http://127.0.0.1:8080/tor".to_string()]
                ),
                (
                    ListKind::VpnCidrs,
                    vec![
                        "https://a.example/4".to_string(),
                        "https://a.example/6".to_string()
                    ]
                ),
            ]
        );
        // An object var (a wrangler [vars] table) reads the same.
        let object = json!({"tor_exits": "http://127.0.0.1:8080/tor", "vpn_cidrs": ["https://a.example/4", "https://a.example/6"]});
        assert_eq!(Sources::from_var(Some(&object)).unwrap(), s);
        // `{}` disables the refresh.
        assert!(Sources::from_var(Some(&json!("{}"))).unwrap().is_empty());
        assert!(Sources::from_var(Some(&json!({}))).unwrap().is_empty());
        for (bad, why) in [
            (json!("not json"), "is not JSON"),
            (json!("[]"), "must be a JSON object"),
            (json!(42), "must be a JSON object"),
            (json!({"tor": "https://a.example/"}), "unknown list \"tor\""),
            (json!({"tor_exits": []}), "needs 1 to 4 URLs"),
            (
                json!({"tor_exits": ["https://a/1", "https://a/2", "https://a/3", "https://a/4", "https://a/5"]}),
                "needs 1 to 4 URLs",
            ),
            (
                json!({"tor_exits": "ftp://a.example/x"}),
                "not an http(s) URL",
            ),
            (json!({"tor_exits": "https://"}), "not an http(s) URL"),
            (json!({"tor_exits": "https:///path"}), "not an http(s) URL"),
            (
                json!({"tor_exits": "https://a.example/x y"}),
                "not an http(s) URL",
            ),
            (json!({"tor_exits": null}), "not an http(s) URL"),
            (
                json!({"tor_exits": format!("https://a.example/{}", "x".repeat(3000))}),
                "not an http(s) URL",
            ),
        ] {
            let err = Sources::from_var(Some(&bad)).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.starts_with(SOURCES_VAR), "{err}");
            assert!(err.len() < 200, "{err}");
        }
    }

    #[test]
    fn a_good_download_is_stored_canonically() {
        let (text, n) = stored(decide(
            ListKind::TorExits,
            &[ok(
                "u",
                "# bulk exit list\n203.0.113.9\n203.0.113.9\n198.51.100.7\n",
            )],
            None,
        ));
        assert_eq!((text.as_str(), n), ("198.51.100.7\n203.0.113.9\n", 2));
        let (text, n) = stored(decide(
            ListKind::VpnAsns,
            &[ok("u", "AS9009 # M247\nAS60068 # CDN77\n")],
            Some(&meta(7)),
        ));
        assert_eq!((text.as_str(), n), ("60068\n9009\n", 2));
    }

    #[test]
    fn the_same_list_again_is_unchanged() {
        let body = "# exits\n203.0.113.9\n198.51.100.7\n";
        let Decision::Store {
            text,
            entries,
            sha256,
        } = decide(ListKind::TorExits, &[ok("u", body)], None)
        else {
            panic!("stored")
        };
        assert_eq!(sha256, hex::encode(Sha256::digest(text.as_bytes())));
        let was = StoredMeta { entries, sha256 };
        // Reordered, commented differently, duplicated: the same canonical text.
        let again = "198.51.100.7 # x\n203.0.113.9\n203.0.113.9\n";
        assert_eq!(
            decide(ListKind::TorExits, &[ok("u2", again)], Some(&was)),
            Decision::Unchanged { entries: 2 }
        );
        let changed = "198.51.100.7\n203.0.113.10\n";
        assert_eq!(
            stored(decide(ListKind::TorExits, &[ok("u", changed)], Some(&was))).1,
            2
        );
        // The guards still come first.
        assert!(
            keep_error(decide(ListKind::TorExits, &[ok("u", "")], Some(&was)))
                .contains("no entries")
        );
    }

    #[test]
    fn several_urls_make_one_list() {
        let (text, n) = stored(decide(
            ListKind::DatacenterCidrs,
            &[
                ok("v4", "192.0.2.0/24\n198.51.100.0/24\n"),
                ok("v6", "2001:db8::/32\n192.0.2.0/24\n"),
            ],
            None,
        ));
        assert_eq!(n, 3);
        assert_eq!(text, "192.0.2.0/24\n198.51.100.0/24\n2001:db8::/32\n");
        // One failing URL refuses the whole list: never the IPv4 half without the IPv6 half.
        let err = keep_error(decide(
            ListKind::DatacenterCidrs,
            &[ok("v4", "192.0.2.0/24\n"), failed("v6", "HTTP 503")],
            None,
        ));
        assert_eq!(err, "v6: HTTP 503");
    }

    #[test]
    fn failed_fetches_and_garbage_are_refused() {
        assert_eq!(
            keep_error(decide(
                ListKind::TorExits,
                &[failed("https://t/x", "HTTP 500")],
                None
            )),
            "https://t/x: HTTP 500"
        );
        let err = keep_error(decide(
            ListKind::TorExits,
            &[ok("u", "<!doctype html>\n<html><body>Oops</body></html>\n")],
            None,
        ));
        assert!(err.starts_with("u: 2 invalid lines; refused (first: line 1: not an IP address or CIDR: \"<!doctype\""), "{err}");
        let err = keep_error(decide(
            ListKind::TorExits,
            &[Fetched {
                url: "u".into(),
                body: Ok(vec![0xff, 0xfe, 0x00]),
            }],
            None,
        ));
        assert_eq!(err, "u: not UTF-8 text; refused");
        // A truncated download ends mid-line: that line is invalid, so the list is refused.
        let err = keep_error(decide(
            ListKind::TorExits,
            &[ok("u", "198.51.100.7\n198.51.100.8\n198.51.1")],
            None,
        ));
        assert!(err.contains("line 3"), "{err}");
        assert!(keep_error(decide(ListKind::TorExits, &[], None)).contains("no source"));
    }

    #[test]
    fn empty_and_oversized_lists_are_refused() {
        for body in ["", "\n\n", "# Tor exit list, regenerating\n"] {
            let err = keep_error(decide(
                ListKind::TorExits,
                &[ok("u", body)],
                Some(&meta(1500)),
            ));
            assert_eq!(err, "no entries; an empty list is refused", "{body:?}");
        }
        let big = vec![b'#'; MAX_SOURCE_BYTES + 1];
        let err = keep_error(decide(
            ListKind::ProxyCidrs,
            &[Fetched {
                url: "u".into(),
                body: Ok(big),
            }],
            None,
        ));
        assert_eq!(
            err,
            format!("u: body over {MAX_SOURCE_BYTES} bytes; refused")
        );
        let many: String = (1..=MAX_LIST_ENTRIES + 1)
            .map(|i| format!("{i}\n"))
            .collect();
        let err = keep_error(decide(ListKind::DatacenterAsns, &[ok("u", &many)], None));
        assert!(err.contains("over the 250000-entry cap"), "{err}");
    }

    #[test]
    fn a_list_over_the_memory_budget_is_refused() {
        // 70,000 IPv6 addresses that do not merge take 70,000 ranges of 32 bytes.
        let apart: String = (0..70_000u32)
            .map(|i| format!("2001:db8::{:x}:{:x}\n", i >> 8, (i & 0xff) * 2))
            .collect();
        assert_eq!(
            keep_error(decide(ListKind::DatacenterCidrs, &[ok("u", &apart)], None)),
            "70000 entries need 2240000 bytes in memory as merged ranges, over the 2097152-byte \
             budget per list; refused"
        );
        // As many entries in runs of 256 consecutive addresses merge into 274 ranges.
        let runs: String = (0..70_000u32)
            .map(|i| format!("2001:db8::{:x}:{:x}\n", i >> 8, i & 0xff))
            .collect();
        assert_eq!(
            stored(decide(ListKind::DatacenterCidrs, &[ok("u", &runs)], None)).1,
            70_000
        );
        // The budget counts the union of every URL, after merging: half of the spaced list from
        // each of two URLs is refused together.
        let (a, b) = apart.split_at(apart[..apart.len() / 2].rfind('\n').unwrap() + 1);
        let err = keep_error(decide(
            ListKind::VpnCidrs,
            &[ok("u1", a), ok("u2", b)],
            None,
        ));
        assert!(err.contains("over the 2097152-byte budget"), "{err}");
        // 65,536 ranges is exactly the budget.
        let (fits, _) = apart.split_at(apart.match_indices('\n').nth(65_535).unwrap().0 + 1);
        assert_eq!(
            stored(decide(ListKind::DatacenterCidrs, &[ok("u", fits)], None)).1,
            65_536
        );
    }

    #[test]
    fn a_list_that_shrinks_below_ten_percent_is_refused() {
        let tor = |n| decide(ListKind::TorExits, &[ok("u", &exits(n))], Some(&meta(1500)));
        assert_eq!(
            keep_error(tor(149)),
            "149 entries, under 10% of the 1500 in the stored list; refused"
        );
        assert_eq!(stored(tor(150)).1, 150);
        assert_eq!(stored(tor(5000)).1, 5000, "growth is fine");
        // With nothing stored, the shipped list (5 Tor blocks, 30 datacenter ASNs) is the
        // yardstick.
        assert_eq!(
            stored(decide(ListKind::TorExits, &[ok("u", &exits(1))], None)).1,
            1
        );
        let asns: String = (1..=2).map(|i| format!("AS{i}\n")).collect();
        assert_eq!(
            keep_error(decide(ListKind::DatacenterAsns, &[ok("u", &asns)], None)),
            "2 entries, under 10% of the 30 in the shipped list; refused"
        );
        // Lists shipped empty accept any non-empty refresh.
        assert_eq!(
            stored(decide(
                ListKind::ProxyCidrs,
                &[ok("u", "203.0.113.10\n")],
                None
            ))
            .1,
            1
        );
    }

    #[test]
    fn a_too_broad_prefix_is_refused() {
        let err = keep_error(decide(
            ListKind::TorExits,
            &[ok("u", "198.51.100.7\n0.0.0.0/0\n")],
            None,
        ));
        assert!(err.contains("line 2: prefix broader than /8"), "{err}");
    }

    #[test]
    fn provider_json_feeds_are_flattened() {
        let aws = r#"{"syncToken":"1","createDate":"2026-01-01-00-00-00",
            "prefixes":[{"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"AMAZON"},
                        {"ip_prefix":"3.5.140.0/22","region":"ap-northeast-2","service":"EC2"}],
            "ipv6_prefixes":[{"ipv6_prefix":"2600:1f00::/24","region":"us-east-1","service":"AMAZON"}]}"#;
        let (text, n) = stored(decide(ListKind::DatacenterCidrs, &[ok("aws", aws)], None));
        assert_eq!((text.as_str(), n), ("2600:1f00::/24\n3.5.140.0/22\n", 2));
        let google = "\u{feff}  {\"syncToken\":\"1\",\"prefixes\":[{\"ipv4Prefix\":\"34.1.208.0/20\",\"service\":\"Google Cloud\"},{\"ipv6Prefix\":\"2600:1900:8000::/44\"}]}";
        let (text, _) = stored(decide(ListKind::DatacenterCidrs, &[ok("g", google)], None));
        assert_eq!(text, "2600:1900:8000::/44\n34.1.208.0/20\n");
        let err = keep_error(decide(
            ListKind::DatacenterCidrs,
            &[ok("j", "{\"a\":[1,2]}")],
            None,
        ));
        assert!(err.contains("JSON without any ip_prefix/"), "{err}");
        let err = keep_error(decide(
            ListKind::DatacenterCidrs,
            &[ok("j", "{\"prefixes\":")],
            None,
        ));
        assert!(err.starts_with("j: invalid JSON"), "{err}");
        let err = keep_error(decide(
            ListKind::DatacenterCidrs,
            &[ok("j", r#"{"prefixes":[{"ip_prefix":"not-a-net"}]}"#)],
            None,
        ));
        assert!(err.contains("not an IP address or CIDR"), "{err}");
    }

    #[test]
    fn errors_are_bounded() {
        let garbage: String = (0..10_000).map(|i| format!("<junk {i}>\n")).collect();
        let err = keep_error(decide(ListKind::TorExits, &[ok("u", &garbage)], None));
        assert!(
            err.starts_with("u: 10000 invalid lines; refused (first: line 1:"),
            "{err}"
        );
        assert!(err.chars().count() <= MAX_ERROR_CHARS);
        let long_url = format!("https://a.example/{}", "x".repeat(5_000));
        let err = keep_error(decide(
            ListKind::TorExits,
            &[failed(&long_url, "HTTP 404")],
            None,
        ));
        assert_eq!(err.chars().count(), MAX_ERROR_CHARS);
        assert!(err.ends_with('…'));
        let (_, params) = error_statement(ListKind::TorExits, &"e".repeat(5_000), UnixMs(1));
        let SqlParam::Text(recorded) = &params[2] else {
            panic!()
        };
        assert_eq!(recorded.chars().count(), MAX_ERROR_CHARS);
    }

    #[test]
    fn chunks_cut_at_line_boundaries_and_rejoin() {
        let text = exits(2_000);
        for max in [4, 10, 13, 14, 100, 4096, text.len(), text.len() + 1] {
            let pieces = chunks(&text, max);
            assert_eq!(pieces.concat(), text, "max {max}");
            assert!(pieces.iter().all(|p| p.len() <= max.max(4)), "max {max}");
            if max >= 14 {
                // Every piece holds whole lines (the longest line is 13 bytes with its newline).
                assert!(pieces.iter().all(|p| p.ends_with('\n')), "max {max}");
            }
        }
        assert!(chunks("", 10).is_empty());
        // A line longer than the limit is cut at a character boundary.
        let pieces = chunks("ééééé\n", 5);
        assert_eq!(pieces.concat(), "ééééé\n");
        assert!(pieces.iter().all(|p| p.len() <= 5));
    }

    #[test]
    fn store_statements_replace_the_list_atomically() {
        let urls = vec![
            "https://a.example/4".to_string(),
            "https://a.example/6".to_string(),
        ];
        let text = exits(60_000);
        let stmts = store_statements(
            ListKind::TorExits,
            &urls,
            &text,
            60_000,
            "ab12",
            UnixMs(1_700_000_000_000),
        );
        let n_chunks = chunks(&text, CHUNK_BYTES).len();
        assert!(n_chunks >= 2, "{n_chunks}");
        assert_eq!(stmts.len(), n_chunks + 2);
        assert!(stmts[0]
            .0
            .starts_with("DELETE FROM network_list_chunks WHERE list = ?1"));
        for (sql, params) in &stmts {
            assert_eq!(max_placeholder(sql), params.len(), "{sql}");
            assert!(matches!(&params[0], SqlParam::Text(l) if l == "tor_exits"));
        }
        let last = &stmts.last().unwrap().1;
        assert!(
            matches!(&last[1], SqlParam::Text(s) if s == "https://a.example/4 https://a.example/6")
        );
        assert!(matches!(last[2], SqlParam::Number(t) if t == 1_700_000_000_000.0));
        assert!(matches!(last[4], SqlParam::Number(c) if c == n_chunks as f64));
        assert!(matches!(&last[5], SqlParam::Text(h) if h == "ab12"));
        let (sql, params) = unchanged_statement(ListKind::TorExits, UnixMs(5));
        assert_eq!(max_placeholder(&sql), params.len());
        let (sql, params) = error_statement(ListKind::TorExits, "HTTP 500", UnixMs(5));
        assert_eq!(max_placeholder(&sql), params.len());
        assert!(!sql.contains("fetched_at = excluded") && !sql.contains("entries = excluded"));
    }

    /// The chunks table and the rows' chunk counts after running `statements` of a store, as
    /// D1 would (only the statements stores use).
    fn run_store(
        chunks: &mut BTreeMap<i64, String>,
        row_chunks: &mut Option<usize>,
        statements: &[Statement],
    ) {
        for (sql, params) in statements {
            assert_eq!(max_placeholder(sql), params.len(), "{sql}");
            let num = |i: usize| match &params[i] {
                SqlParam::Number(n) => *n as i64,
                other => panic!("{other:?}"),
            };
            if sql.starts_with("DELETE FROM network_list_chunks WHERE list = ?1 AND seq >= ?2") {
                chunks.retain(|seq, _| *seq < num(1));
            } else if sql
                .starts_with("DELETE FROM network_list_chunks WHERE list = ?1 AND seq < ?2")
            {
                chunks.retain(|seq, _| *seq >= num(1));
            } else if sql.starts_with("DELETE FROM network_list_chunks WHERE list = ?1") {
                chunks.clear();
            } else if sql.starts_with("INSERT INTO network_list_chunks") {
                let SqlParam::Text(body) = &params[2] else {
                    panic!()
                };
                assert!(
                    chunks.insert(num(1), body.clone()).is_none(),
                    "unique (list, seq)"
                );
            } else if sql.starts_with("UPDATE network_list_chunks SET seq = seq - ?2") {
                let staged = chunks.split_off(&num(1));
                for (seq, body) in staged {
                    assert!(
                        chunks.insert(seq - num(1), body).is_none(),
                        "unique (list, seq)"
                    );
                }
            } else if sql.starts_with("INSERT INTO network_lists") {
                *row_chunks = Some(num(4) as usize);
            } else {
                panic!("unexpected {sql}");
            }
        }
    }

    /// The text a reader gets: the chunks below the row's count, in order.
    fn readable(chunks: &BTreeMap<i64, String>, row_chunks: Option<usize>) -> String {
        let n = row_chunks.unwrap_or(0) as i64;
        chunks.range(..n).map(|(_, b)| b.as_str()).collect()
    }

    #[test]
    fn a_long_list_is_staged_and_put_in_place_by_its_last_batch() {
        let urls = vec!["https://a.example/x".to_string()];
        let old = exits(40);
        let mut chunks: BTreeMap<i64, String> = BTreeMap::new();
        let mut row_chunks = None;
        for batch in store_batches(ListKind::TorExits, &urls, &old, 40, "o", UnixMs(1)) {
            run_store(&mut chunks, &mut row_chunks, &batch);
        }
        assert_eq!(readable(&chunks, row_chunks), old);
        // A store interrupted earlier left a staged chunk behind.
        chunks.insert((STAGED_SEQ + 7) as i64, "stale\n".into());
        let text = "203.0.113.1\n".repeat(450_000);
        let batches: Vec<Vec<Statement>> =
            store_batches(ListKind::TorExits, &urls, &text, 1, "n", UnixMs(2)).collect();
        let n = chunks_of(&text);
        assert!(n > STORE_CHUNKS_PER_BATCH, "{n} chunks");
        assert_eq!(batches.len(), n.div_ceil(STORE_CHUNKS_PER_BATCH) + 1);
        for (i, batch) in batches.iter().enumerate() {
            let inserts = batch
                .iter()
                .filter(|(sql, _)| sql.starts_with("INSERT INTO network_list_chunks"))
                .count();
            assert!(inserts <= STORE_CHUNKS_PER_BATCH);
            run_store(&mut chunks, &mut row_chunks, batch);
            if i + 1 < batches.len() {
                assert_eq!(readable(&chunks, row_chunks), old, "before the last batch");
            }
        }
        assert_eq!(readable(&chunks, row_chunks), text);
        assert_eq!(chunks.len(), n, "nothing left staged");
        // A short list is still one batch.
        assert_eq!(
            store_batches(ListKind::TorExits, &urls, &old, 40, "o", UnixMs(3)).count(),
            1
        );
    }

    fn chunks_of(text: &str) -> usize {
        chunks(text, CHUNK_BYTES).len()
    }

    /// The rows D1 would return after `store_statements`.
    fn rows_for(kind: ListKind, text: &str, entries: usize, at: i64) -> (Value, Vec<Value>) {
        rows_in(kind, text, entries, at, 20)
    }

    /// [`rows_for`] with chunks of at most `max` bytes.
    fn rows_in(
        kind: ListKind,
        text: &str,
        entries: usize,
        at: i64,
        max: usize,
    ) -> (Value, Vec<Value>) {
        let pieces = chunks(text, max);
        let row = json!({"list": kind.as_str(), "entries": entries, "chunks": pieces.len(), "fetched_at": at, "sha256": "h"});
        let chunk_rows = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| json!({"list": kind.as_str(), "seq": i, "body": p}))
            .collect();
        (row, chunk_rows)
    }

    /// The rows D1 answers a `LIST_SQL` statement with, from these list rows and chunk rows
    /// (JSON objects as `SELECT *` would give): the list's chunks in the statement's `seq`
    /// range, in order, each joined to the list row.
    fn answer(statement: &Statement, rows: &[Value], chunk_rows: &[Value]) -> Vec<ChunkRow> {
        let (sql, params) = statement;
        assert_eq!(sql, LIST_SQL);
        assert_eq!(max_placeholder(sql), params.len());
        let (SqlParam::Text(list), SqlParam::Number(lo), SqlParam::Number(hi)) =
            (&params[0], &params[1], &params[2])
        else {
            panic!("{params:?}")
        };
        let Some(row) = rows.iter().find(|r| text(r, "list") == Some(list)) else {
            return Vec::new();
        };
        let mut chunks: Vec<&Value> = chunk_rows
            .iter()
            .filter(|c| text(c, "list") == Some(list))
            .filter(|c| number(c, "seq").is_some_and(|q| *lo <= q && q <= *hi))
            .collect();
        chunks.sort_by(|a, b| number(a, "seq").partial_cmp(&number(b, "seq")).unwrap());
        if chunks.is_empty() {
            return vec![ChunkRow::from_json(row, None)];
        }
        chunks
            .into_iter()
            .map(|c| ChunkRow::from_json(row, Some(c)))
            .collect()
    }

    /// Reads one list as `src/intel/lists.rs` does, from these rows.
    fn read_list(kind: ListKind, rows: &[Value], chunk_rows: &[Value]) -> ListLoad {
        let mut load = ListLoad::new(kind);
        while let Some(statement) = load.next_statement() {
            load.feed(answer(&statement, rows, chunk_rows));
        }
        load
    }

    /// What `src/intel/lists.rs` does with D1: [`LoadedLists::changed`] on the `LISTS_SQL` rows, then
    /// each changed list read and put in force.
    fn reload(loaded: &mut LoadedLists, rows: &[Value], chunk_rows: &[Value]) -> Vec<String> {
        let (changed, mut problems) = loaded.changed(rows);
        for kind in changed {
            problems.extend(loaded.finish(read_list(kind, rows, chunk_rows)));
        }
        problems
    }

    #[test]
    fn stored_lists_reassemble_and_load_over_the_shipped_ones() {
        let (tor_row, tor_chunks) = rows_for(ListKind::TorExits, &exits(10), 10, 1_000);
        let (vpn_row, vpn_chunks) = rows_for(ListKind::VpnAsns, "64501\n", 1, 2_000);
        assert!(tor_chunks.len() >= 3, "the text spans several chunks");
        let mut chunk_rows = vpn_chunks.clone();
        // Out of order: chunks are put in `seq` order first.
        chunk_rows.extend(tor_chunks.iter().rev().cloned());
        let rows = [tor_row.clone(), vpn_row.clone()];
        let h = |entries| StoredMeta {
            entries,
            sha256: "h".into(),
        };
        assert_eq!(
            stored_meta(&rows),
            BTreeMap::from([(ListKind::TorExits, h(10)), (ListKind::VpnAsns, h(1))])
        );
        let mut loaded = LoadedLists::default();
        let problems = reload(&mut loaded, &rows, &chunk_rows);
        assert!(problems.is_empty(), "{problems:?}");
        let lists = loaded.lists();
        assert!(lists.flags(ip("198.51.0.1"), None).is_tor);
        assert!(
            lists.flags(ip("198.51.0.10"), None).is_tor,
            "from the last chunk"
        );
        assert!(
            !lists.flags(ip("185.220.101.42"), None).is_tor,
            "the stored list replaced the shipped one"
        );
        assert!(lists.flags(ip("203.0.113.1"), Some(64501)).is_vpn);
        assert!(!lists.flags(ip("203.0.113.1"), Some(9009)).is_vpn);
        assert!(
            lists.flags(ip("203.0.113.1"), Some(16509)).is_datacenter,
            "lists not stored stay shipped"
        );
        assert_eq!(lists.entry_count(ListKind::TorExits), 10);
        // Nothing stored: the shipped lists.
        let mut nothing = LoadedLists::default();
        assert!(reload(&mut nothing, &[], &[]).is_empty());
        assert_eq!(nothing.lists(), NetworkLists::shipped());
    }

    #[test]
    fn a_reload_reads_only_the_lists_that_changed() {
        let (tor_row, tor_chunks) = rows_for(ListKind::TorExits, &exits(10), 10, 1_000);
        let (vpn_row, vpn_chunks) = rows_for(ListKind::VpnAsns, "64501\n", 1, 2_000);
        let mut loaded = LoadedLists::default();
        let rows = vec![tor_row, vpn_row.clone()];
        let (read, _) = loaded.changed(&rows);
        assert_eq!(read, [ListKind::TorExits, ListKind::VpnAsns]);
        for (kind, row, chunks) in [
            (ListKind::TorExits, &rows[0], &tor_chunks),
            (ListKind::VpnAsns, &rows[1], &vpn_chunks),
        ] {
            assert_eq!(
                loaded.finish(read_list(kind, std::slice::from_ref(row), chunks)),
                None
            );
        }
        // The same versions again: nothing to read.
        assert_eq!(loaded.changed(&rows), (vec![], vec![]));
        // The Tor list stored anew: only it is read; the VPN list is the same shared list.
        let before = loaded.lists().clone();
        let (tor_row, tor_chunks) = rows_for(ListKind::TorExits, "203.0.113.77\n", 1, 3_000);
        let rows = vec![tor_row.clone(), vpn_row];
        assert_eq!(loaded.changed(&rows).0, [ListKind::TorExits]);
        assert_eq!(
            loaded.finish(read_list(
                ListKind::TorExits,
                std::slice::from_ref(&tor_row),
                &tor_chunks
            )),
            None
        );
        assert!(loaded.lists().flags(ip("203.0.113.77"), None).is_tor);
        assert!(!loaded.lists().flags(ip("198.51.0.1"), None).is_tor);
        assert!(
            before.flags(ip("198.51.0.1"), None).is_tor,
            "a clone keeps its lists"
        );
        // A row that is gone returns its list to the shipped one without reading anything;
        // so does a list deleted between the version read and its own read.
        assert_eq!(loaded.changed(&rows[1..]), (vec![], vec![]));
        assert!(loaded.lists().flags(ip("185.220.101.42"), None).is_tor);
        let mut gone = LoadedLists::default();
        gone.changed(&rows);
        assert_eq!(gone.finish(read_list(ListKind::TorExits, &[], &[])), None);
        assert_eq!(
            gone.lists().entry_count(ListKind::TorExits),
            NetworkLists::shipped().entry_count(ListKind::TorExits)
        );
        // An unknown list is reported once per version.
        let future = json!({"list": "future_list", "entries": 1, "chunks": 0, "fetched_at": 1});
        let (read, problems) = loaded.changed(std::slice::from_ref(&future));
        assert_eq!((read.len(), problems.len()), (0, 1));
        assert_eq!(loaded.changed(&[future]), (vec![], vec![]));
    }

    #[test]
    fn a_list_is_read_a_few_chunks_at_a_time_and_again_when_stored_anew_meanwhile() {
        let (row, chunk_rows) = rows_for(ListKind::TorExits, &exits(60), 60, 1_000);
        let n = chunk_rows.len();
        assert!(n > 3 * CHUNKS_PER_READ, "{n} chunks");
        let mut load = ListLoad::new(ListKind::TorExits);
        let mut statements = 0;
        while let Some(statement) = load.next_statement() {
            let rows = answer(&statement, std::slice::from_ref(&row), &chunk_rows);
            assert!(rows.len() <= CHUNKS_PER_READ);
            load.feed(rows);
            statements += 1;
        }
        assert_eq!(statements, n.div_ceil(CHUNKS_PER_READ));
        let mut loaded = LoadedLists::default();
        assert_eq!(loaded.finish(load), None);
        assert!(loaded.lists().flags(ip("198.51.0.60"), None).is_tor);

        // Stored anew after the first read: the list is read again, whole, in its new version.
        let (new_row, new_chunks) = rows_for(ListKind::TorExits, "203.0.113.7\n", 1, 2_000);
        let mut load = ListLoad::new(ListKind::TorExits);
        let first = load.next_statement().unwrap();
        load.feed(answer(&first, std::slice::from_ref(&row), &chunk_rows));
        let mut again = 0;
        while let Some(statement) = load.next_statement() {
            load.feed(answer(
                &statement,
                std::slice::from_ref(&new_row),
                &new_chunks,
            ));
            again += 1;
        }
        assert_eq!(again, 2, "the restart, then the new version's one read");
        let mut loaded = LoadedLists::default();
        assert_eq!(loaded.finish(load), None);
        assert!(loaded.lists().flags(ip("203.0.113.7"), None).is_tor);
        assert!(!loaded.lists().flags(ip("198.51.0.1"), None).is_tor);
        assert_eq!(loaded.changed(&[new_row]), (vec![], vec![]));

        // Stored anew at every read: given up, nothing recorded, read at the next reload.
        let mut load = ListLoad::new(ListKind::TorExits);
        let mut at = 3_000;
        while let Some(statement) = load.next_statement() {
            at += 1;
            let (r, c) = rows_for(ListKind::TorExits, &exits(60), 60, at);
            load.feed(answer(&statement, &[r], &c));
        }
        let mut loaded = LoadedLists::default();
        let problem = loaded.finish(load).unwrap();
        assert!(
            problem.contains("stored anew while it was read"),
            "{problem}"
        );
        assert_eq!(loaded.lists(), NetworkLists::shipped());
        assert_eq!(
            loaded.changed(std::slice::from_ref(&row)).0,
            [ListKind::TorExits]
        );

        // Deleted after the first read: the shipped list.
        let mut load = ListLoad::new(ListKind::TorExits);
        let first = load.next_statement().unwrap();
        load.feed(answer(&first, std::slice::from_ref(&row), &chunk_rows));
        let next = load.next_statement().unwrap();
        load.feed(answer(&next, &[], &[]));
        assert_eq!(load.next_statement(), None);
        let mut loaded = LoadedLists::default();
        loaded.changed(std::slice::from_ref(&row));
        assert_eq!(loaded.finish(load), None);
        assert_eq!(loaded.lists(), NetworkLists::shipped());
    }

    #[test]
    fn inconsistent_or_unknown_stored_rows_are_skipped() {
        let (tor_row, tor_chunks) = rows_for(ListKind::TorExits, &exits(10), 10, 1_000);
        let (vpn_row, vpn_chunks) = rows_for(ListKind::VpnAsns, "64501\n", 1, 2_000);
        let missing: Vec<Value> = tor_chunks[1..].to_vec();
        let rows = vec![
            tor_row,
            vpn_row.clone(),
            json!({"list": "future_list", "entries": 1, "chunks": 0, "fetched_at": 1}),
            json!({"list": "proxy_cidrs", "entries": 1, "fetched_at": 1}),
        ];
        let mut chunk_rows = missing;
        chunk_rows.extend(vpn_chunks.clone());
        let mut loaded = LoadedLists::default();
        let problems = reload(&mut loaded, &rows, &chunk_rows);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("tor_exits: ")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "proxy_cidrs: incomplete row ignored"),
            "{problems:?}"
        );
        let lists = loaded.lists();
        assert!(
            lists.flags(ip("185.220.101.42"), None).is_tor,
            "shipped Tor list"
        );
        assert!(!lists.flags(ip("198.51.0.1"), None).is_tor);
        assert!(lists.flags(ip("203.0.113.1"), Some(64501)).is_vpn);
        // A stored text that no longer parses keeps its shipped list; the others load.
        let (bad_row, bad_chunks) = rows_for(ListKind::TorExits, "not an ip\n", 1, 1);
        let mut loaded = LoadedLists::default();
        let problems = reload(
            &mut loaded,
            &[bad_row, vpn_row],
            &[bad_chunks, vpn_chunks].concat(),
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("stored tor_exits: 1 invalid line"),
            "{problems:?}"
        );
        assert!(loaded.lists().flags(ip("185.220.101.42"), None).is_tor);
        assert!(loaded.lists().flags(ip("203.0.113.1"), Some(64501)).is_vpn);
    }

    #[test]
    fn a_stored_list_over_the_memory_budget_keeps_the_shipped_one() {
        // 70,000 IPv6 addresses with gaps: 70,000 ranges of 32 bytes, over 2 MiB.
        let text: String = (0..70_000u32)
            .map(|i| format!("2001:db8::{:x}:{:x}\n", i >> 8, (i & 0xff) * 2))
            .collect();
        let parsed = ParsedList::parse(ListKind::TorExits, &text).unwrap();
        assert_eq!(parsed.bytes(), 70_000 * 32);
        let (row, chunk_rows) = rows_in(ListKind::TorExits, &text, 70_000, 5, CHUNK_BYTES);
        let mut loaded = LoadedLists::default();
        let problems = reload(&mut loaded, &[row], &chunk_rows);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("over the 2097152-byte budget per list"),
            "{problems:?}"
        );
        assert!(loaded.lists().flags(ip("185.220.101.42"), None).is_tor);
        assert!(!loaded.lists().flags(ip("2001:db8::"), None).is_tor);
    }
}
