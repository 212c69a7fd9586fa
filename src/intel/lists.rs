//! Network lists in the Worker: the hourly refresh from public sources (cron), and the lists in
//! force for enrichment ([`current`]), cached per isolate. The decisions (catalogue, caps,
//! memory budget, shrink guard, what to store, how to load) are
//! `edgesoc_core::intel::refresh`; this module only fetches, reads and writes.

use crate::d1::Primary;
use edgesoc_core::intel::refresh::{
    error_statement, store_batches, stored_meta, unchanged_statement, Candidate, ChunkRow,
    Decision, Fetched, ListLoad, LoadedLists, Sources, FETCH_TIMEOUT_MS, LISTS_SQL,
    MAX_SOURCE_BYTES, RELOAD_AFTER_MS, RELOAD_RETRY_MS, SOURCES_VAR,
};
use edgesoc_core::intel::NetworkLists;
use edgesoc_core::time::UnixMs;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, ResponseBody,
};

/// What an isolate loaded (the lists and the stored versions they were built from) and when
/// to look again.
struct Cached {
    loaded: LoadedLists,
    check_at_ms: f64,
    /// False until the isolate's first load has finished: requests meanwhile wait for it
    /// instead of enriching with the shipped lists or loading a second copy.
    ready: bool,
}

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
    /// Bumped by [`invalidate`], so a load that was under way during a refresh is not trusted
    /// for the full reload interval.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// How often a request waiting for the isolate's first load looks again.
const FIRST_LOAD_POLL_MS: u64 = 10;

enum Claim {
    /// The lists in force are fresh (or another request is reloading them).
    Fresh(NetworkLists),
    /// The isolate's first load is under way.
    Wait,
    /// This request loads.
    Load,
}

/// The network lists in force: the stored lists over the shipped ones. Each isolate reads D1 at
/// most once per `RELOAD_AFTER_MS` (5 minutes), and re-reads only the lists stored anew since,
/// one at a time and 2 MiB of text per statement, each replacing its old copy as soon as it is
/// parsed; the refresh invalidates its own isolate's copy at once. When nothing is stored the
/// shipped lists apply; when a read fails, the lists already in force stay and the read is
/// retried after `RELOAD_RETRY_MS`. Never fails. The returned lists are shared, not copied.
pub async fn current(store: &Primary) -> NetworkLists {
    let now = js_sys::Date::now();
    let generation = GENERATION.with(Cell::get);
    // The first request past the interval claims the reload; concurrent requests keep using
    // the lists in force meanwhile (in a new isolate, they wait for the first load).
    let claim = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match c.as_mut() {
            Some(c) if now < c.check_at_ms && !c.ready => Claim::Wait,
            Some(c) if now < c.check_at_ms => Claim::Fresh(c.loaded.lists().clone()),
            Some(c) => {
                c.check_at_ms = now + RELOAD_RETRY_MS as f64;
                Claim::Load
            }
            None => {
                *c = Some(Cached {
                    loaded: LoadedLists::default(),
                    check_at_ms: now + RELOAD_RETRY_MS as f64,
                    ready: false,
                });
                Claim::Load
            }
        }
    });
    match claim {
        Claim::Fresh(lists) => return lists,
        Claim::Wait => return first_load().await,
        Claim::Load => {}
    }
    // No borrow is held across an await: requests interleave here.
    let result = reload(store).await;
    if let Err(e) = &result {
        worker::console_error!("network lists: read failed, keeping the lists in force: {e}");
    }
    let stale = GENERATION.with(Cell::get) != generation;
    with_cache(|c| {
        c.ready = true;
        c.check_at_ms = match result {
            Ok(()) if stale => 0.0,
            Ok(()) => now + RELOAD_AFTER_MS as f64,
            Err(_) => now + RELOAD_RETRY_MS as f64,
        };
        c.loaded.lists().clone()
    })
}

/// Waits (polling a timer of its own) until the isolate's first load is done, at most
/// `RELOAD_RETRY_MS`, then returns the lists in force.
async fn first_load() -> NetworkLists {
    let give_up = js_sys::Date::now() + RELOAD_RETRY_MS as f64;
    while !with_cache(|c| c.ready) && js_sys::Date::now() < give_up {
        Delay::from(Duration::from_millis(FIRST_LOAD_POLL_MS)).await;
    }
    with_cache(|c| c.loaded.lists().clone())
}

fn with_cache<T>(f: impl FnOnce(&mut Cached) -> T) -> T {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.get_or_insert_with(|| Cached {
            loaded: LoadedLists::default(),
            check_at_ms: 0.0,
            ready: false,
        });
        f(c)
    })
}

/// Makes the next [`current`] in this isolate look at D1 again (after a refresh stored a list).
fn invalidate() {
    GENERATION.with(|g| g.set(g.get() + 1));
    CACHE.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            c.check_at_ms = 0.0;
        }
    });
}

/// Brings the cached lists up to date with D1: the stored versions first, then each changed
/// list on its own, a few chunks per statement (`ListLoad`, which reads a list again when it
/// was stored anew meanwhile), its rows converted and parsed one chunk at a time, and put in
/// force before the next list is read. A failed read leaves the lists not yet read as they
/// were (with their old versions, so the retry reads them).
async fn reload(store: &Primary) -> Result<(), String> {
    let rows = store
        .batch(&[(LISTS_SQL.to_string(), Vec::new())])
        .await
        .map_err(|e| e.to_string())?
        .pop()
        .unwrap_or_default();
    let (changed, problems) = with_cache(|c| c.loaded.changed(&rows));
    for p in problems {
        worker::console_error!("network lists: {p}");
    }
    if changed.is_empty() {
        return Ok(());
    }
    let started = js_sys::Date::now();
    for kind in &changed {
        let mut load = ListLoad::new(*kind);
        while let Some(statement) = load.next_statement() {
            let rows = store
                .raw_rows(&statement)
                .await
                .map_err(|e| e.to_string())?;
            // One row (one chunk of at most 256 KiB) in wasm memory at a time; an unreadable
            // row reads as empty, which the chunk check refuses.
            load.feed(
                rows.into_iter()
                    .map(|r| serde_wasm_bindgen::from_value::<ChunkRow>(r).unwrap_or_default()),
            );
        }
        if let Some(p) = with_cache(|c| c.loaded.finish(load)) {
            worker::console_error!("network lists: {p}");
        }
    }
    let (lists, bytes) = with_cache(|c| {
        let lists = c.loaded.lists();
        let each: Vec<String> = changed
            .iter()
            .map(|k| format!("{k} {} entries", lists.entry_count(*k)))
            .collect();
        (each.join(", "), lists.bytes())
    });
    worker::console_log!(
        "network lists: loaded {lists} in {} ms; the lists in force hold {bytes} bytes",
        js_sys::Date::now() - started
    );
    Ok(())
}

/// One list's refresh outcome, for the summary log.
pub struct Outcome {
    pub list: &'static str,
    /// `Err(reason)` when the list in force was kept.
    pub result: Result<Stored, String>,
}

/// A successful refresh of one list.
pub enum Stored {
    /// A new text with this many entries replaced the stored one.
    Replaced(usize),
    /// The source served the stored text again (this many entries); nothing was rewritten.
    Unchanged(usize),
}

/// Refreshes every list the catalogue (`NETWORK_LIST_SOURCES`, else the public defaults) names:
/// fetch, decide, then store or record the error. One list's failure never stops the others.
/// `Err` only when nothing could be attempted (bad catalogue, no D1).
pub async fn refresh(env: &Env, now: UnixMs) -> Result<Vec<Outcome>, String> {
    let sources = Sources::from_var(sources_var(env)?.as_ref())?;
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let store = Primary::open(env).map_err(|e| format!("D1 binding: {e}"))?;
    let timeout_ms =
        crate::vars::positive_u32(env, "NETWORK_LIST_TIMEOUT_MS", FETCH_TIMEOUT_MS as u32);
    let stored = stored_meta(
        &store
            .batch(&[(LISTS_SQL.to_string(), Vec::new())])
            .await
            .map_err(|e| format!("reading the stored lists: {e}"))?
            .pop()
            .unwrap_or_default(),
    );
    let mut outcomes = Vec::new();
    for (kind, urls) in sources.iter() {
        // Each body is read into the candidate and dropped before the next URL is fetched.
        let mut candidate = Candidate::new(kind);
        for url in urls {
            let body = fetch_capped(url, timeout_ms).await;
            let failed = body.is_err();
            candidate.add(&Fetched {
                url: url.clone(),
                body,
            });
            if failed {
                break; // the list is refused anyway
            }
        }
        let decision = candidate.decide(stored.get(&kind));
        let result = match decision {
            Decision::Store {
                text,
                entries,
                sha256,
            } => {
                // One batch, or (over 4 MiB of text) staged batches and a last one that puts
                // the list in place: each batch's statements are built only when it is sent.
                let mut stored = Ok(Stored::Replaced(entries));
                for batch in store_batches(kind, urls, &text, entries, &sha256, now) {
                    if let Err(e) = store.batch(&batch).await {
                        stored = Err(format!("storing failed: {e}"));
                        break;
                    }
                }
                stored
            }
            Decision::Unchanged { entries } => {
                match store.batch(&[unchanged_statement(kind, now)]).await {
                    Ok(_) => Ok(Stored::Unchanged(entries)),
                    Err(e) => Err(format!("recording the check failed: {e}")),
                }
            }
            Decision::Keep { error } => Err(error),
        };
        if let Err(error) = &result {
            if let Err(e) = store.batch(&[error_statement(kind, error, now)]).await {
                worker::console_error!("network lists: recording the {kind} error failed: {e}");
            }
        }
        outcomes.push(Outcome {
            list: kind.as_str(),
            result,
        });
    }
    if outcomes
        .iter()
        .any(|o| matches!(o.result, Ok(Stored::Replaced(_))))
    {
        invalidate();
    }
    Ok(outcomes)
}

/// The raw `NETWORK_LIST_SOURCES` binding: `None` only when it is not set at all (a string var
/// or a `[vars]` table otherwise). A binding that is set but unreadable is an error, never the
/// defaults: a deployment that configured its sources must not fetch others.
fn sources_var(env: &Env) -> Result<Option<serde_json::Value>, String> {
    let raw = js_sys::Reflect::get(env, &JsValue::from_str(SOURCES_VAR))
        .map_err(|_| format!("{SOURCES_VAR}: unreadable"))?;
    if raw.is_undefined() {
        return Ok(None);
    }
    if let Some(text) = raw.as_string() {
        return Ok(Some(serde_json::Value::String(text)));
    }
    serde_wasm_bindgen::from_value(raw)
        .map(Some)
        .map_err(|e| format!("{SOURCES_VAR}: {e}"))
}

/// GETs `url` within `timeout_ms`, refusing non-2xx answers and bodies over `MAX_SOURCE_BYTES`
/// (checked against `Content-Length` and again while streaming, so an oversize body is never
/// buffered whole).
async fn fetch_capped(url: &str, timeout_ms: u32) -> Result<Vec<u8>, String> {
    let too_large = || format!("body over {MAX_SOURCE_BYTES} bytes; refused");
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async move {
        let headers = Headers::new();
        let _ = headers.set("User-Agent", "edgesoc-network-lists");
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(headers);
        let req = Request::new_with_init(url, &init).map_err(|e| format!("bad request: {e}"))?;
        let mut resp = Fetch::Request(req)
            .send_with_signal(&signal)
            .await
            .map_err(|e| format!("fetch failed: {e}"))?;
        let status = resp.status_code();
        if !(200..300).contains(&status) {
            return Err(format!("HTTP {status}"));
        }
        // A declared length over the cap is refused unread; one under it sizes the buffer.
        let declared = match resp.headers().get("Content-Length") {
            Ok(Some(len)) => len.trim().parse::<u64>().ok(),
            _ => None,
        };
        if declared.is_some_and(|n| n > MAX_SOURCE_BYTES as u64) {
            return Err(too_large());
        }
        let mut stream = match resp.body() {
            ResponseBody::Empty => return Ok(Vec::new()),
            ResponseBody::Body(bytes) if bytes.len() > MAX_SOURCE_BYTES => return Err(too_large()),
            ResponseBody::Body(bytes) => return Ok(bytes.clone()),
            ResponseBody::Stream(_) => resp.stream().map_err(|e| format!("body: {e}"))?,
        };
        let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("reading the body failed: {e}"))?;
            if body.len() + chunk.len() > MAX_SOURCE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let timer = Delay::from(Duration::from_millis(timeout_ms.into()));
    match select(pin!(work), pin!(timer)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            controller.abort();
            Err(format!("timed out after {timeout_ms} ms"))
        }
    }
}
