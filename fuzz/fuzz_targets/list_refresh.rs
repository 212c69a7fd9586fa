//! The network-list refresh, which reads bodies downloaded from the internet:
//! `intel::refresh::{decide, Candidate, Sources::from_var, chunks, store_statements, ListLoad,
//! LoadedLists}` and `intel::canonical_entries`.
//!
//! Input: fields separated by 0x1F — a control field (byte 0: which list, byte 1: the stored
//! entry count, 0 = nothing stored; byte 2: chunk size), then one or more bodies (one per URL;
//! a body starting with `{` takes the provider-JSON path). The first body is also tried as a
//! `NETWORK_LIST_SOURCES` value.
//!
//! Checks, beyond "no panic":
//! * a stored text is canonical: sorted, unique, one valid entry per line, ending in `\n`; it
//!   holds 1 to `MAX_LIST_ENTRIES` entries, at least 10% of the list in force, and loads to a
//!   list with exactly that entry count, within the `MAX_LIST_BYTES` memory budget, that flags
//!   every address/ASN it holds;
//! * deciding again on the stored text, with its hash stored, is `Unchanged` (idempotent);
//! * a refusal's error is non-empty and at most `MAX_ERROR_CHARS` characters;
//! * the statements bind every placeholder; the chunks rejoin to the text within the size
//!   limit; loading the rows they write (`LoadedLists::changed`, then a `ListLoad` fed what
//!   each of its `LIST_SQL` statements answers, at most `CHUNKS_PER_READ` chunks each) gives
//!   the same list back, loading them again reads nothing, and a missing chunk keeps the
//!   shipped list;
//! * a `Candidate` fed the stored text decides to store the same text;
//! * a catalogue that parses names 1 to 4 `http(s)://` URLs per list.
#![no_main]

use edgesoc_core::intel::refresh::{
    chunks, decide, store_statements, Candidate, ChunkRow, Decision, Fetched, ListLoad,
    LoadedLists, Sources, StoredMeta, CHUNKS_PER_READ, MAX_ERROR_CHARS, MAX_LIST_BYTES,
    MAX_LIST_ENTRIES, MAX_URLS_PER_LIST, MIN_KEEP_PERCENT,
};
use edgesoc_core::intel::{canonical_entries, ListKind, ListTexts, NetworkLists, ParsedList};
use edgesoc_core::api::sql::SqlParam;
use edgesoc_core::time::UnixMs;
use edgesoc_fuzz::{check_statement, fields};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let control = f.first().copied().unwrap_or_default();
    let kind = ListKind::ALL[control.first().map_or(0, |b| *b as usize) % ListKind::ALL.len()];
    let stored_entries = control.get(1).map_or(0, |b| *b as usize);
    let chunk_max = 4 + control.get(2).map_or(60, |b| *b as usize);
    let bodies: Vec<&[u8]> = if f.len() > 1 {
        f[1..].to_vec()
    } else {
        vec![&[]]
    };

    // The catalogue var, as text.
    if let Ok(text) = std::str::from_utf8(bodies[0]) {
        if let Ok(sources) = Sources::from_var(Some(&Value::String(text.to_string()))) {
            for (_, urls) in sources.iter() {
                assert!((1..=MAX_URLS_PER_LIST).contains(&urls.len()));
                for u in urls {
                    assert!(u.starts_with("https://") || u.starts_with("http://"), "{u}");
                }
            }
        }
    }

    let fetched: Vec<Fetched> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| Fetched {
            url: format!("https://lists.example/{i}"),
            body: Ok(b.to_vec()),
        })
        .collect();
    let stored = (stored_entries > 0).then(|| StoredMeta {
        entries: stored_entries,
        sha256: String::new(),
    });
    match decide(kind, &fetched, stored.as_ref()) {
        Decision::Keep { error } => {
            assert!(!error.is_empty());
            assert!(error.chars().count() <= MAX_ERROR_CHARS, "{}", error.len());
        }
        Decision::Unchanged { .. } => panic!("nothing stored has an empty hash"),
        Decision::Store {
            text,
            entries,
            sha256,
        } => check_stored(kind, &text, entries, &sha256, stored_entries, chunk_max),
    }
});

fn check_stored(
    kind: ListKind,
    text: &str,
    entries: usize,
    sha256: &str,
    stored_entries: usize,
    chunk_max: usize,
) {
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), entries);
    assert!((1..=MAX_LIST_ENTRIES).contains(&entries));
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    let in_force = if stored_entries > 0 {
        stored_entries
    } else {
        NetworkLists::shipped().entry_count(kind)
    };
    assert!(entries * 100 >= in_force * MIN_KEEP_PERCENT);
    // Canonical: canonicalising again changes nothing.
    assert_eq!(canonical_entries(kind, text).unwrap(), lines);

    let mut texts = ListTexts::default();
    texts.set(kind, Some(text));
    let lists = NetworkLists::from_texts(&texts).unwrap();
    assert_eq!(lists.entry_count(kind), entries);
    let parsed = ParsedList::parse(kind, text).unwrap();
    assert!(parsed.bytes() <= MAX_LIST_BYTES, "{} bytes", parsed.bytes());
    assert_eq!(parsed.bytes(), lists.list_bytes(kind));
    for line in &lines {
        if kind.is_asn_list() {
            let asn: u32 = line.parse().unwrap();
            assert!(listed(
                &lists,
                kind,
                "203.0.113.1".parse().unwrap(),
                Some(asn)
            ));
        } else {
            // The network address of a CIDR (host bits are cleared), or the address itself.
            let addr: IpAddr = line.split('/').next().unwrap().parse().unwrap();
            assert!(listed(&lists, kind, addr, None), "{line}");
        }
    }

    // Fed one body at a time, the same decision.
    let mut candidate = Candidate::new(kind);
    candidate.add(&Fetched {
        url: "https://lists.example/0".into(),
        body: Ok(text.as_bytes().to_vec()),
    });
    assert!(
        matches!(candidate.decide(None), Decision::Store { text: t, .. } if t == text)
            || in_force_shrinks(kind, entries)
    );

    // The same text again, with its hash stored, is unchanged.
    let again = Fetched {
        url: "https://lists.example/again".into(),
        body: Ok(text.as_bytes().to_vec()),
    };
    let meta = StoredMeta {
        entries,
        sha256: sha256.to_string(),
    };
    assert_eq!(
        decide(kind, &[again], Some(&meta)),
        Decision::Unchanged { entries }
    );

    // Chunks rejoin; the statements bind every placeholder; what they write loads back.
    let pieces = chunks(text, chunk_max);
    assert_eq!(pieces.concat(), text);
    assert!(pieces.iter().all(|p| p.len() <= chunk_max));
    let stmts = store_statements(
        kind,
        &["https://lists.example/0".into()],
        text,
        entries,
        sha256,
        UnixMs(1),
    );
    for s in &stmts {
        check_statement(s);
    }
    let chunk_rows: Vec<Value> = stmts[1..stmts.len() - 1]
        .iter()
        .map(|(_, p)| match (&p[1], &p[2]) {
            (SqlParam::Number(seq), SqlParam::Text(body)) => {
                json!({"list": kind.as_str(), "seq": seq, "body": body})
            }
            other => panic!("chunk params {other:?}"),
        })
        .collect();
    let row = json!({"list": kind.as_str(), "entries": entries, "chunks": chunk_rows.len(),
                     "fetched_at": 1, "sha256": sha256});
    let mut loaded = LoadedLists::default();
    let (read, problems) = loaded.changed(std::slice::from_ref(&row));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(read, [kind]);
    assert_eq!(loaded.finish(read_list(kind, &row, &chunk_rows)), None);
    assert_eq!(loaded.lists(), &lists);
    assert_eq!(loaded.changed(std::slice::from_ref(&row)), (vec![], vec![]));
    // A missing first or last chunk keeps the shipped list.
    for missing in [0, chunk_rows.len() - 1] {
        let mut rows = chunk_rows.clone();
        rows.remove(missing);
        let mut loaded = LoadedLists::default();
        assert!(loaded.finish(read_list(kind, &row, &rows)).is_some());
        assert_eq!(loaded.lists(), NetworkLists::shipped());
    }
}

/// Reads one list as the Worker does, answering each `LIST_SQL` statement as D1 would from
/// the list row and chunk rows the store statements wrote.
fn read_list(kind: ListKind, row: &Value, chunk_rows: &[Value]) -> ListLoad {
    let mut load = ListLoad::new(kind);
    let mut statements = 0;
    while let Some(statement) = load.next_statement() {
        check_statement(&statement);
        let (SqlParam::Number(lo), SqlParam::Number(hi)) = (&statement.1[1], &statement.1[2])
        else {
            panic!("{statement:?}")
        };
        let mut rows: Vec<ChunkRow> = chunk_rows
            .iter()
            .filter(|c| c["seq"].as_f64().is_some_and(|q| *lo <= q && q <= *hi))
            .map(|c| ChunkRow::from_json(row, Some(c)))
            .collect();
        if rows.is_empty() {
            rows.push(ChunkRow::from_json(row, None));
        }
        assert!(rows.len() <= CHUNKS_PER_READ);
        load.feed(rows);
        statements += 1;
        assert!(statements <= chunk_rows.len() + 1, "reads end");
    }
    load
}

/// Whether `entries` is under 10% of the shipped list of `kind` (then a decision without a
/// stored list refuses it).
fn in_force_shrinks(kind: ListKind, entries: usize) -> bool {
    entries * 100 < NetworkLists::shipped().entry_count(kind) * MIN_KEEP_PERCENT
}

fn listed(lists: &NetworkLists, kind: ListKind, ip: IpAddr, asn: Option<u32>) -> bool {
    let f = lists.flags(ip, asn);
    match kind {
        ListKind::TorExits => f.is_tor,
        ListKind::DatacenterAsns | ListKind::DatacenterCidrs => f.is_datacenter,
        ListKind::VpnAsns | ListKind::VpnCidrs => f.is_vpn,
        ListKind::ProxyCidrs => f.is_proxy,
        ListKind::RelayAsns | ListKind::RelayCidrs => f.is_relay,
    }
}
