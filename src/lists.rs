//! Network lists in the Worker: the hourly refresh from public sources (cron), and the lists in
//! force for enrichment ([`current`]), cached per isolate. The decisions (catalogue, caps,
//! shrink guard, what to store, how to load) are `edgesoc_core::intel::refresh`; this module
//! only fetches, reads and writes.

use crate::d1::Store;
use edgesoc_core::intel::refresh::{
    assemble, decide, error_statement, load, store_statements, stored_meta, unchanged_statement,
    Decision, Fetched, Sources, CHUNKS_SQL, FETCH_TIMEOUT_MS, LISTS_SQL, MAX_SOURCE_BYTES,
    RELOAD_AFTER_MS, RELOAD_RETRY_MS, SOURCES_VAR,
};
use edgesoc_core::intel::NetworkLists;
use edgesoc_core::time::UnixMs;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, ResponseBody,
};

/// What an isolate last loaded: the lists, the stored versions they were built from, and when
/// to look again.
struct Cached {
    lists: Rc<NetworkLists>,
    /// `(list, fetched_at)` of every stored list, from [`LISTS_SQL`].
    versions: Versions,
    check_at_ms: f64,
}

type Versions = Vec<(String, i64)>;

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
    /// Bumped by [`invalidate`], so a load that was under way during a refresh is not trusted
    /// for the full reload interval.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// The network lists in force: the stored lists over the shipped ones. Each isolate reads D1 at
/// most once per `RELOAD_AFTER_MS` (5 minutes), and re-reads the list texts only when a stored
/// list changed; the refresh invalidates its own isolate's copy at once. When nothing is stored
/// the shipped lists apply; when the read fails, the lists already in force (else the shipped
/// ones) stay and the read is retried after `RELOAD_RETRY_MS`. Never fails.
pub async fn current(store: &Store) -> Rc<NetworkLists> {
    let now = js_sys::Date::now();
    let generation = GENERATION.with(Cell::get);
    // The first request past the interval claims the reload; concurrent requests keep using
    // the lists in force meanwhile.
    let known = CACHE.with(|c| match c.borrow_mut().as_mut() {
        Some(c) if now < c.check_at_ms => Err(c.lists.clone()),
        Some(c) => {
            c.check_at_ms = now + RELOAD_RETRY_MS as f64;
            Ok(Some((c.lists.clone(), c.versions.clone())))
        }
        None => Ok(None),
    });
    let known = match known {
        Err(fresh) => return fresh,
        Ok(known) => known,
    };
    // No borrow is held across this await: requests interleave here.
    let (lists, versions, wait) = match read(store, known.as_ref()).await {
        Ok((lists, versions)) => (lists, versions, RELOAD_AFTER_MS),
        Err(e) => {
            worker::console_error!("network lists: read failed, keeping the lists in force: {e}");
            let (lists, versions) =
                known.unwrap_or_else(|| (Rc::new(NetworkLists::shipped().clone()), Vec::new()));
            (lists, versions, RELOAD_RETRY_MS)
        }
    };
    let stale = GENERATION.with(Cell::get) != generation;
    CACHE.with(|c| {
        *c.borrow_mut() = Some(Cached {
            lists: lists.clone(),
            versions,
            check_at_ms: if stale { 0.0 } else { now + wait as f64 },
        })
    });
    lists
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

/// Reads the stored lists. With `known` (the lists in force and the versions they came from),
/// the texts are read only when a version changed; then rows and chunks are read again in one
/// batch, so they come from the same snapshot.
async fn read(
    store: &Store,
    known: Option<&(Rc<NetworkLists>, Versions)>,
) -> Result<(Rc<NetworkLists>, Versions), String> {
    let lists_stmt = || (LISTS_SQL.to_string(), Vec::new());
    if let Some((lists, known_versions)) = known {
        let rows = store
            .batch(&[lists_stmt()])
            .await
            .map_err(|e| e.to_string())?
            .pop()
            .unwrap_or_default();
        if *known_versions == versions(&rows) {
            return Ok((lists.clone(), known_versions.clone()));
        }
    }
    let mut results = store
        .batch(&[lists_stmt(), (CHUNKS_SQL.to_string(), Vec::new())])
        .await
        .map_err(|e| e.to_string())?;
    let chunk_rows = results.pop().unwrap_or_default();
    let rows = results.pop().unwrap_or_default();
    let (stored, mut problems) = assemble(&rows, &chunk_rows);
    let (lists, load_problems) = load(&stored);
    problems.extend(load_problems);
    for p in problems {
        worker::console_error!("network lists: {p}");
    }
    Ok((Rc::new(lists), versions(&rows)))
}

/// `(list, fetched_at)` of every stored list, from [`LISTS_SQL`] rows.
fn versions(rows: &[serde_json::Value]) -> Versions {
    rows.iter()
        .filter_map(|r| {
            let list = r.get("list")?.as_str()?.to_string();
            Some((list, r.get("fetched_at")?.as_f64()? as i64))
        })
        .collect()
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
    let store = Store::from_env(env).map_err(|e| format!("D1 binding: {e}"))?;
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
        let mut fetched = Vec::new();
        for url in urls {
            let body = fetch_capped(url, timeout_ms).await;
            let failed = body.is_err();
            fetched.push(Fetched {
                url: url.clone(),
                body,
            });
            if failed {
                break; // the list is refused anyway
            }
        }
        let result = match decide(kind, &fetched, stored.get(&kind)) {
            Decision::Store {
                text,
                entries,
                sha256,
            } => {
                let statements = store_statements(kind, urls, &text, entries, &sha256, now);
                match store.batch(&statements).await {
                    Ok(_) => Ok(Stored::Replaced(entries)),
                    Err(e) => Err(format!("storing failed: {e}")),
                }
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
        if let Ok(Some(len)) = resp.headers().get("Content-Length") {
            if len
                .trim()
                .parse::<u64>()
                .is_ok_and(|n| n > MAX_SOURCE_BYTES as u64)
            {
                return Err(too_large());
            }
        }
        let mut stream = match resp.body() {
            ResponseBody::Empty => return Ok(Vec::new()),
            ResponseBody::Body(bytes) if bytes.len() > MAX_SOURCE_BYTES => return Err(too_large()),
            ResponseBody::Body(bytes) => return Ok(bytes.clone()),
            ResponseBody::Stream(_) => resp.stream().map_err(|e| format!("body: {e}"))?,
        };
        let mut body = Vec::new();
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
