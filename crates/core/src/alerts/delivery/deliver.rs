//! Delivering: planned deliveries are sent to the delivery queue ([`enqueue_pending`]); its
//! consumer makes one attempt per message ([`deliver_batch`]) — load, claim, send, record —
//! and tells the queue when to try again. The test button makes one attempt at once
//! ([`test_destination`]).

use super::destination::{Allowed, DestinationRow, Kind};
use super::format::{self, AlertView, HttpRequest, Purpose};
use super::ledger::{self, Attempt};
use super::outbound::check_url;
use super::policy::{Answer, Outcome, Policy};
use crate::alerts::AlertRow;
use crate::analytics::event_row::EventRow;
use crate::ingest::consume::{Ack, Delivered};
use crate::runtime::{Db, Http, Mailer, Queue};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Value};

/// The deployment's delivery settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub policy: Policy,
    /// How long a receiver has to answer.
    pub timeout_ms: u32,
    pub allowed: Allowed,
    /// PagerDuty's Events API v2 endpoint (a test receiver in tests).
    pub pagerduty_url: String,
    /// Where the dashboard is, for links in alerts.
    pub public_url: String,
    /// The sender of alert emails.
    pub email_from: Option<String>,
}

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// How long a receiver has to answer, by default.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// The runtime a delivery needs.
pub struct DeliverEnv<'a, D, H, M> {
    pub db: &'a D,
    pub http: &'a H,
    /// `None` when the `send_email` binding is not configured.
    pub mailer: Option<&'a M>,
    pub settings: &'a Settings,
    pub now: &'a dyn Fn() -> UnixMs,
}

/// Sends the pending deliveries of `orgs` that never reached the queue (or every
/// organisation's overdue ones, with `orgs` empty and `sweep_now` set), one message each, and
/// marks them queued; those of `paused` organisations (being moved) are left for a later sweep.
/// Returns how many were queued.
pub async fn enqueue_pending<D: Db, Q: Queue>(
    db: &D,
    queue: &Q,
    orgs: &[&str],
    sweep_now: Option<UnixMs>,
    paused: &[String],
    now: UnixMs,
) -> Result<usize, String> {
    let select = match sweep_now {
        Some(at) => ledger::sweep_statement(at),
        None if orgs.is_empty() => return Ok(0),
        None => ledger::unqueued_statement(orgs),
    };
    let rows = db.batch(&[select]).await.map_err(|e| e.to_string())?;
    let found: Vec<(String, String)> = rows
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["id"].as_str()?.into(), r["org_id"].as_str()?.into())))
        .filter(|(_, org): &(String, String)| !paused.contains(org))
        .collect();
    if found.is_empty() {
        return Ok(0);
    }
    let bodies: Vec<String> = found
        .iter()
        .map(|(id, org)| ledger::message(id, org))
        .collect();
    let ids: Vec<String> = found.into_iter().map(|(id, _)| id).collect();
    for chunk in bodies.chunks(100) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        queue.send(&refs).await?;
    }
    db.batch(&[ledger::queued_statement(&ids, now)])
        .await
        .map_err(|e| e.to_string())?;
    Ok(ids.len())
}

#[derive(Deserialize)]
struct Loaded {
    id: String,
    org_id: String,
    destination_id: String,
    reason: String,
    status: String,
    attempts: f64,
    created_at: f64,
    kind: Option<String>,
    target: Option<String>,
    secret: Option<String>,
    enabled: Option<f64>,
}

/// The delivery consumer: one attempt per message.
pub async fn deliver_batch<D: Db, H: Http, M: Mailer>(
    env: &DeliverEnv<'_, D, H, M>,
    messages: &[Delivered],
) -> (Vec<Ack>, Vec<String>) {
    let mut acks = Vec::with_capacity(messages.len());
    let mut notes = Vec::new();
    for m in messages {
        let id = m.body.as_deref().and_then(ledger::message_delivery);
        let ack = match id {
            None => {
                notes.push(format!("delivery queue: unreadable message {}", m.id));
                Ack::Ack
            }
            Some(id) => match deliver_one(env, &id).await {
                Ok((ack, note)) => {
                    notes.extend(note);
                    ack
                }
                Err(e) => {
                    notes.push(format!("delivery {id}: {e}; retrying"));
                    Ack::Retry
                }
            },
        };
        acks.push(ack);
    }
    (acks, notes)
}

async fn deliver_one<D: Db, H: Http, M: Mailer>(
    env: &DeliverEnv<'_, D, H, M>,
    id: &str,
) -> Result<(Ack, Option<String>), String> {
    let now = (env.now)();
    let rows = env
        .db
        .batch(&ledger::load_statements(id))
        .await
        .map_err(|e| e.to_string())?;
    let [delivery, alert, events] = rows.as_slice() else {
        return Err("the load answered the wrong number of result sets".into());
    };
    let Some(l) = delivery.first() else {
        return Ok((Ack::Ack, Some(format!("delivery {id} no longer exists"))));
    };
    let l: Loaded = serde_json::from_value(l.clone()).map_err(|e| e.to_string())?;
    if l.status != "pending" {
        return Ok((Ack::Ack, None)); // delivered, dead or cancelled: never again
    }
    let destination = match (&l.kind, &l.target, l.enabled) {
        (Some(kind), Some(target), Some(enabled)) if enabled != 0.0 => {
            (kind.clone(), target.clone())
        }
        _ => return cancel(env.db, &l.id, now, "its destination is gone or disabled").await,
    };
    let Some(alert) = alert.first() else {
        return cancel(env.db, &l.id, now, "its alert is gone").await;
    };
    // Only one consumer gets the next attempt of a delivery.
    let claimed = env
        .db
        .batch(&[ledger::claim_statement(&l.id, l.attempts as i64, now)])
        .await
        .map_err(|e| e.to_string())?;
    let Some(number) = claimed
        .first()
        .and_then(|r| r.first())
        .and_then(|r| r["attempts"].as_f64())
    else {
        return Ok((Ack::Ack, None)); // another consumer is on it
    };
    let view = alert_view(alert, events, &env.settings.public_url)?;
    let purpose = if l.reason == "resolve" {
        Purpose::Resolve
    } else {
        Purpose::Raise
    };
    let (answer, latency_ms) = send(
        env,
        &destination,
        l.secret.as_deref(),
        &l.id,
        &view,
        purpose,
        now,
    )
    .await;
    let elapsed = now.0 - l.created_at as i64;
    let outcome = env
        .settings
        .policy
        .decide(&answer, number as u32, elapsed, now.0);
    let attempt = Attempt::new(&l.id, &l.org_id, &l.destination_id, number as i64, now)
        .answered(&answer, latency_ms, outcome);
    record(env.db, &attempt).await?;
    let note = match outcome {
        Outcome::Dead => Some(format!(
            "delivery {id} is dead after {number} attempts: {}",
            attempt.error.clone().unwrap_or_default()
        )),
        _ => None,
    };
    let ack = match outcome {
        Outcome::Retry { after_seconds } => Ack::RetryAfter(after_seconds),
        Outcome::Delivered | Outcome::Dead => Ack::Ack,
    };
    Ok((ack, note))
}

fn status_of(answer: &Answer) -> Option<u16> {
    match answer {
        Answer::Status { status, .. } => Some(*status),
        _ => None,
    }
}

/// Cancels a delivery that can no longer be made, and says why.
async fn cancel<D: Db>(
    db: &D,
    id: &str,
    now: UnixMs,
    why: &str,
) -> Result<(Ack, Option<String>), String> {
    db.batch(&[ledger::cancel_statement(id, now)])
        .await
        .map_err(|e| e.to_string())?;
    Ok((Ack::Ack, Some(format!("delivery {id} cancelled: {why}"))))
}

/// Writes an attempt and the delivery's new state.
async fn record<D: Db>(db: &D, attempt: &Attempt<'_>) -> Result<(), String> {
    db.batch(&attempt.statements())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The alert and its events as delivered.
fn alert_view(alert: &Value, events: &[Value], public_url: &str) -> Result<AlertView, String> {
    let row: AlertRow = serde_json::from_value(alert.clone()).map_err(|e| e.to_string())?;
    let events = events
        .iter()
        .filter_map(|e| serde_json::from_value::<EventRow>(e.clone()).ok())
        .map(|e| e.to_api(false))
        .collect();
    Ok(AlertView {
        link: alert_link(public_url, &row.id),
        alert: row.to_api(),
        events,
    })
}

/// The alert in the dashboard.
pub fn alert_link(public_url: &str, id: &str) -> String {
    format!("{}/?alert={id}", public_url.trim_end_matches('/'))
}

/// One attempt to a destination of `kind` at `target`.
async fn send<D, H: Http, M: Mailer>(
    env: &DeliverEnv<'_, D, H, M>,
    (kind, target): &(String, String),
    secret: Option<&str>,
    id: &str,
    view: &AlertView,
    purpose: Purpose,
    now: UnixMs,
) -> (Answer, u32) {
    let settings = env.settings;
    let request: Result<HttpRequest, String> = match Kind::parse(kind) {
        Some(Kind::Webhook) => secret
            .and_then(|s| format::webhook(target, s, id, view, purpose, now))
            .ok_or_else(|| "the destination has no usable signing secret".to_string()),
        Some(Kind::Slack) => Ok(format::slack(target, view, purpose)),
        Some(Kind::PagerDuty) => Ok(format::pagerduty(
            &settings.pagerduty_url,
            target,
            view,
            purpose,
        )),
        Some(Kind::Email) => {
            let (Some(mailer), Some(from)) = (env.mailer, settings.email_from.as_deref()) else {
                return (
                    Answer::Refused(
                        "email is not configured (send_email binding EMAIL, EMAIL_FROM)".into(),
                    ),
                    0,
                );
            };
            let email = format::email(target, view, purpose);
            let raw = format::email_mime(from, &email, &format!("{id}@edgesoc"), now);
            let started = (env.now)();
            let sent = mailer.send(from, target, &raw).await;
            let latency = ((env.now)().0 - started.0).max(0) as u32;
            return match sent {
                Ok(()) => (
                    Answer::Status {
                        status: 202,
                        retry_after: None,
                    },
                    latency,
                ),
                Err(e) => (Answer::Failed(e), latency),
            };
        }
        None => Err(format!("unknown destination kind {kind}")),
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => return (Answer::Refused(e), 0),
    };
    // Checked again at every attempt: the deployment's rules may have changed since.
    if let Err(refused) = check_url(&request.url, settings.allowed.http_loopback) {
        return (Answer::Refused(format!("url {}", refused.0)), 0);
    }
    env.http.post(&request, settings.timeout_ms).await
}

/// The test button: a sample alert of the organisation, sent once, at once, and recorded in the
/// destination's delivery log. Answers the receiver's status and latency.
pub async fn test_destination<D: Db, H: Http, M: Mailer>(
    env: &DeliverEnv<'_, D, H, M>,
    destination: &DestinationRow,
    delivery_id: &str,
) -> Result<Value, String> {
    let now = (env.now)();
    let alert = json!({
        "id": delivery_id, "org_id": destination.org_id, "alert_type": "suspicious_activity",
        "severity": "high", "status": "open", "title": "Test alert from edgesoc",
        "description": format!("A test of the destination \"{}\". No action needed.", destination.name),
        "source_ip": "203.0.113.1", "actor_id": "test-user", "trigger_event_id": null,
        "created_at": now.iso_millis(), "updated_at": now.iso_millis(),
        "metadata": {"occurrences": 1, "evidence": {"test": true}},
    });
    let view = AlertView {
        link: alert_link(&env.settings.public_url, delivery_id),
        alert,
        events: Vec::new(),
    };
    env.db
        .batch(&[ledger::test_delivery_statement(
            &destination.org_id,
            &destination.id,
            delivery_id,
            now,
        )])
        .await
        .map_err(|e| e.to_string())?;
    let target = (destination.kind.clone(), destination.target.clone());
    let (answer, latency_ms) = send(
        env,
        &target,
        destination.secret.as_deref(),
        delivery_id,
        &view,
        Purpose::Test,
        now,
    )
    .await;
    let delivered = matches!(&answer, Answer::Status { status, .. } if (200..300).contains(status));
    let outcome = if delivered {
        Outcome::Delivered
    } else {
        Outcome::Dead
    };
    let attempt = Attempt::new(delivery_id, &destination.org_id, &destination.id, 1, now)
        .answered(&answer, latency_ms, outcome);
    record(env.db, &attempt).await?;
    Ok(json!({
        "delivery_id": delivery_id,
        "delivered": delivered,
        "status": status_of(&answer),
        "latency_ms": latency_ms,
        "error": attempt.error,
    }))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "deliver_tests.rs"]
mod tests;
