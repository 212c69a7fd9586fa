//! The queue consumer's work on one batch of messages: decode each; record what cannot be
//! decoded as an incident (`super::incidents`); hold back the messages of split requests until
//! they commit (`super::hold`); enrich every event with one batch of lookups
//! (`crate::intel::enrichment`); store the events, each in one row with its dashboard log item,
//! in one transaction (with the dashboard rollups' catch-up when due); run detection over the batch (`crate::detect::batch`). Every step is
//! idempotent — event ids are fixed at acceptance and every insert ignores known keys — so
//! retrying the whole batch after any failure is safe, and a redelivered message stores nothing
//! twice.

use crate::access::ids::OrgId;
use crate::alerts::delivery::deliver::enqueue_pending;
use crate::detect::batch::{delivering_orgs, detect_batch};
use crate::ingest::hold::{self, Verdict};
use crate::ingest::incidents::{self, Incident};
use crate::ingest::message::{Delivery, QueueMessage};
use crate::ingest::record::{self, EventRecord};
use crate::intel::enrichment::BatchEnrichment;
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::runtime::{Db, Limiter, Queue};
use crate::time::UnixMs;
use crate::ApiError;

/// One message as the queue delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub id: String,
    /// `None` when the body is not text.
    pub body: Option<String>,
    /// Time since the message was first sent.
    pub age_ms: i64,
}

/// What to tell the queue about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Done with: stored, recorded as an incident, or dropped on purpose.
    Ack,
    /// Deliver again (after the queue's own delay).
    Retry,
    /// Deliver again after this many seconds.
    RetryAfter(u32),
}

/// The runtime the consumer works against.
pub struct ConsumeEnv<'a, D, L, Q, P = D> {
    /// The database that holds the batch's organisations' data (`crate::shards`).
    pub db: &'a D,
    /// The primary database, when it is another one: it keeps split requests' commit records
    /// and the IP-range tables. `None`: `db` is the primary, and every lookup goes in one
    /// batch. (A message that cannot be decoded is recorded on `db`: messages that name no
    /// organisation are routed to the primary, the others to their organisation's shard, where
    /// its health report reads them.)
    pub primary: Option<&'a P>,
    /// The delivery queue; `None` where it is not configured (deliveries then wait for the
    /// hourly sweep).
    pub deliveries: Option<&'a Q>,
    /// The limiter of an organisation (incidents refund their events).
    pub limiter_for: &'a dyn Fn(&OrgId) -> Result<L, ApiError>,
    /// The network lists in force.
    pub lists: &'a NetworkLists,
    pub now: UnixMs,
    /// How often the dashboard rollups catch up with the stored items
    /// (`crate::logs::rollups::catch_up`; 0 = with every batch).
    pub catch_up_every_ms: i64,
    /// Whether an injected fault strikes (`crate::faults`); never in production.
    pub strikes: &'a dyn Fn(&str) -> bool,
}

/// Consumes one batch: an answer per message, in order, and log lines for the operator.
pub async fn consume<D: Db, L: Limiter, Q: Queue, P: Db>(
    env: &ConsumeEnv<'_, D, L, Q, P>,
    messages: &[Delivered],
) -> (Vec<Ack>, Vec<String>) {
    let mut acks = vec![Ack::Retry; messages.len()];
    let mut notes = Vec::new();
    // Decode; what cannot be decoded is an incident, recorded once and then acked.
    let mut batch: Vec<(usize, Delivery)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let decoded = match &m.body {
            Some(text) => QueueMessage::parse(text).map_err(|e| e.to_string()),
            None => Err("body is not text".to_string()),
        };
        match decoded {
            Ok(d) => batch.push((i, d)),
            Err(e) => {
                let incident = Incident::undecodable(&m.id, m.body.as_deref(), &e);
                notes.push(incident.describe());
                let reported = incidents::report(env.db, env.limiter_for, &incident, env.now).await;
                acks[i] = match reported {
                    Ok(()) => Ack::Ack,
                    Err(e) => {
                        notes.push(format!("recording incident {}: {e}; retrying", incident.id));
                        Ack::Retry
                    }
                };
            }
        }
    }
    if batch.is_empty() {
        return (acks, notes);
    }
    // Split requests: store a held message only once its request has committed.
    let held = match env.primary {
        Some(primary) => admit_held(primary, batch, messages, &mut acks, &mut notes)
            .await
            .map_err(|e| e.to_string()),
        None => admit_held(env.db, batch, messages, &mut acks, &mut notes)
            .await
            .map_err(|e| e.to_string()),
    };
    let batch = match held {
        Ok(batch) => batch,
        Err(e) => {
            notes.push(format!("hold lookup failed: {e}; retrying"));
            return (acks, notes);
        }
    };
    if batch.is_empty() {
        return (acks, notes);
    }
    let indexes: Vec<usize> = batch.iter().map(|(i, _)| *i).collect();
    match store_and_detect(env, batch).await {
        Ok(unenriched) => {
            notes.extend(unenriched);
            indexes.iter().for_each(|&i| acks[i] = Ack::Ack);
        }
        Err(e) => notes.push(format!("{e}; retrying {} messages", indexes.len())),
    }
    (acks, notes)
}

/// Enrich, store, then detect (detection reads the stored history, batch siblings included).
/// `Ok` carries a note when the lookups' answers were unreadable and the events were stored
/// unenriched.
async fn store_and_detect<D: Db, L, Q: Queue, P: Db>(
    env: &ConsumeEnv<'_, D, L, Q, P>,
    mut batch: Vec<(usize, Delivery)>,
) -> Result<Option<String>, String> {
    let unenriched = enrich(env, &mut batch)
        .await
        .map_err(|e| format!("enrichment lookups failed: {e}"))?;
    let mut records: Vec<EventRecord> = Vec::new();
    let mut plans: Vec<Plan> = Vec::new();
    for (_, d) in batch {
        plans.extend(std::iter::repeat_n(d.plan, d.events.len()));
        records.extend(d.events);
    }
    if (env.strikes)("consumer_insert") {
        return Err("fault injection: consumer_insert".into());
    }
    insert(env.db, &records, env.now, env.catch_up_every_ms)
        .await
        .map_err(|e| format!("insert of {} events failed: {e}", records.len()))?;
    let events: Vec<(EventRecord, Plan)> = records.into_iter().zip(plans).collect();
    env.db.detecting();
    detect_batch(env.db, &events, env.lists, env.now)
        .await
        .map_err(|e| format!("detection failed: {e}"))?;
    // New and updated alerts reach the delivery queue now; a failed send retries the batch
    // (everything above is idempotent), so an instant alert is not left for the sweep.
    if let Some(queue) = env.deliveries {
        let orgs = delivering_orgs(&events);
        enqueue_pending(env.db, queue, &orgs, None, &[], env.now)
            .await
            .map_err(|e| format!("queueing alert deliveries failed: {e}"))?;
    }
    if (env.strikes)("consumer_fail_after_insert") {
        return Err("fault injection: consumer_fail_after_insert".into());
    }
    Ok(unenriched)
}

/// Passes on the deliveries that were never held or whose split request has committed; a held
/// message whose request has not committed is delivered again later, or dropped once it is too
/// old for any commit to come. One D1 read, only when a message is held.
async fn admit_held<D: Db>(
    db: &D,
    batch: Vec<(usize, Delivery)>,
    messages: &[Delivered],
    acks: &mut [Ack],
    notes: &mut Vec<String>,
) -> Result<Vec<(usize, Delivery)>, D::Error> {
    // A message's events all belong to the organisation of the request that sent it.
    fn org(d: &Delivery) -> &OrgId {
        &d.events[0].org_id
    }
    let holds: Vec<(&str, &OrgId)> = batch
        .iter()
        .filter_map(|(_, d)| Some((d.hold.as_deref()?, org(d))))
        .collect();
    if holds.is_empty() {
        return Ok(batch);
    }
    let rows = db.batch(&[hold::committed_statement(&holds)]).await?;
    let committed: Vec<(String, String)> = rows
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["hold"].as_str()?.into(), r["org_id"].as_str()?.into())))
        .collect();
    let mut kept = Vec::new();
    for (i, d) in batch {
        let verdict = match d.hold.as_deref() {
            None => Verdict::Store,
            Some(token) => {
                let done = committed.iter().any(|(h, o)| h == token && *o == org(&d).0);
                hold::verdict(done, messages[i].age_ms)
            }
        };
        match verdict {
            Verdict::Store => kept.push((i, d)),
            Verdict::Wait => acks[i] = Ack::RetryAfter(hold::RETRY_DELAY_SECONDS),
            Verdict::Drop => {
                notes.push(format!(
                    "dropping message {} of split request {}: it never committed",
                    messages[i].id,
                    d.hold.as_deref().unwrap_or_default()
                ));
                acks[i] = Ack::Ack;
            }
        }
    }
    Ok(kept)
}

/// Enriches every event of the batch with one batch of lookups. Unreadable answers leave the
/// events as accepted: stored unenriched rather than never.
async fn enrich<D: Db, L, Q, P: Db>(
    env: &ConsumeEnv<'_, D, L, Q, P>,
    batch: &mut [(usize, Delivery)],
) -> Result<Option<String>, String> {
    let mut records = Vec::new();
    let mut cfs = Vec::new();
    let mut counts = Vec::new();
    for (_, d) in batch.iter_mut() {
        counts.push(d.events.len());
        cfs.extend(std::iter::repeat_n(&d.cf, d.events.len()));
        records.append(&mut d.events);
    }
    let unreadable = enrich_records(
        (env.db, env.primary),
        &mut records,
        &cfs,
        env.lists,
        env.now,
    )
    .await?;
    // Hand the records back, in order, to the deliveries they came from.
    let mut it = records.into_iter();
    for ((_, d), n) in batch.iter_mut().zip(counts) {
        d.events = it.by_ref().take(n).collect();
    }
    Ok(unreadable)
}

/// Enriches `records`, each with the `cf` of the request it came in, with one batch of lookups
/// (also the seeding path of the native detection scenarios): the threat history on the
/// organisations' database, the IP-range tables on the primary (one batch when they are the
/// same). `Some(note)` when the answers were unreadable and the records stay as accepted.
pub(crate) async fn enrich_records<D: Db, P: Db>(
    (db, primary): (&D, Option<&P>),
    records: &mut [EventRecord],
    cfs: &[&serde_json::Value],
    lists: &NetworkLists,
    now: UnixMs,
) -> Result<Option<String>, String> {
    let (plan, mut statements) = BatchEnrichment::plan(records, now);
    let rows = match primary {
        None => db.batch(&statements).await.map_err(|e| e.to_string())?,
        Some(primary) => {
            let tables = statements.split_off(plan.history_statements());
            let mut rows = db.batch(&statements).await.map_err(|e| e.to_string())?;
            rows.extend(primary.batch(&tables).await.map_err(|e| e.to_string())?);
            rows
        }
    };
    let unreadable = plan.apply(records, cfs, rows, lists).err();
    Ok(unreadable.map(|e| format!("{e}: stored unenriched")))
}

/// Stores the events, each in one row with its dashboard log item, in one transaction,
/// idempotently, with a catch-up of the dashboard rollups if one is due at `now` after
/// `every_ms` (`crate::logs::rollups::catch_up`; also the seeding path of the native SQL tests,
/// `crate::testing::store`).
pub(crate) async fn insert<D: Db>(
    db: &D,
    records: &[EventRecord],
    now: UnixMs,
    every_ms: i64,
) -> Result<(), String> {
    let mut statements = record::insert_statements(records).map_err(|e| e.to_string())?;
    statements.extend(crate::logs::rollups::catch_up(now.0, every_ms));
    db.batch(&statements).await.map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "consume_tests.rs"]
mod tests;
