//! What each kind of destination receives for an alert (docs/api.md §11.3):
//! - `webhook`: a signed Standard Webhooks POST of `{type, timestamp, data: {alert, evidence,
//!   events, links}}` (the alert as `GET /alerts/:id` shows it, the triggering events as
//!   `GET /events/:id` shows them);
//! - `slack`: an incoming-webhook message in Block Kit;
//! - `pagerduty`: an Events API v2 `trigger` (or `resolve`) with the alert id as `dedup_key`;
//! - `email`: a plain-text and HTML message for the `send_email` binding.
//!
//! Everything taken from events is untrusted: Slack text is escaped, HTML is escaped, and
//! lengths are bounded.

use super::sign;
use crate::time::UnixMs;
use serde_json::{json, Value};

/// Why a delivery is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new alert, or new occurrences of one.
    Raise,
    /// The alert was resolved (PagerDuty resolves its incident).
    Resolve,
    /// The test button.
    Test,
}

impl Purpose {
    /// How titles mark a test or a resolve; nothing for a raise.
    fn label(self) -> Option<&'static str> {
        match self {
            Purpose::Test => Some("test"),
            Purpose::Resolve => Some("resolved"),
            Purpose::Raise => None,
        }
    }
}

/// The alert as delivered: its API object, the events behind it, and a link to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertView {
    pub alert: Value,
    pub events: Vec<Value>,
    /// The alert in the dashboard.
    pub link: String,
}

/// One HTTP request to make.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// One email to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Longest PagerDuty summary (their limit).
const PAGERDUTY_SUMMARY_CHARS: usize = 1024;
/// Longest text Slack shows in one section.
const SLACK_TEXT_CHARS: usize = 2900;

/// A value as text: strings as they are, `null` as nothing, anything else as JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn text(v: &Value, key: &str) -> String {
    plain(&v[key])
}

use crate::text::shorten as cut;

/// `City, CC` from the alert's signal copies, or `None`.
fn location(alert: &Value) -> Option<String> {
    let m = &alert["metadata"];
    let parts: Vec<String> = ["city", "country"]
        .iter()
        .filter_map(|k| m[*k].as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The alert's key facts in display order: severity, actor, IP, location.
fn facts(alert: &Value) -> Vec<(&'static str, String)> {
    let mut facts = vec![("Severity", severity_word(alert))];
    for (label, key) in [("Actor", "actor_id"), ("IP", "source_ip")] {
        if let Some(v) = alert[key].as_str() {
            facts.push((label, v.to_string()));
        }
    }
    if let Some(loc) = location(alert) {
        facts.push(("Location", loc));
    }
    facts
}

/// Evidence for people, one line per fact, for text renderings: travel hops by their summary
/// (not the raw endpoints), tallies as `alice ×3, bob ×2 (3 in all)`, event ids counted, lists
/// joined, scalars as `key: value`; then when the alert was first and last seen.
fn evidence_lines(alert: &Value) -> Vec<String> {
    let m = &alert["metadata"];
    let Value::Object(ev) = &m["evidence"] else {
        return Vec::new();
    };
    let has_hops = ev.get("hops").is_some_and(Value::is_array);
    let mut out = Vec::new();
    for (k, v) in ev {
        match (k.as_str(), v) {
            ("hops", Value::Array(hops)) => out.extend(
                hops.iter()
                    .enumerate()
                    .map(|(i, h)| format!("hop {}: {}", i + 1, text(h, "summary"))),
            ),
            ("from" | "to", _) if has_hops => {}
            ("event_ids", Value::Array(ids)) => out.push(format!("events: {}", ids.len())),
            (key, Value::Array(list)) if list.iter().all(Value::is_object) && !list.is_empty() => {
                let tally: Vec<String> = list
                    .iter()
                    .map(|e| {
                        let name = e
                            .as_object()
                            .and_then(|o| o.iter().find(|(k, _)| *k != "count"))
                            .map_or(String::new(), |(_, v)| plain(v));
                        format!("{name} ×{}", text(e, "count"))
                    })
                    .collect();
                let total = ev
                    .get(&format!("{key}_total"))
                    .map_or(String::new(), |t| format!(" ({} in all)", plain(t)));
                out.push(format!("{key}: {}{total}", tally.join(", ")));
            }
            (key, _)
                if key.ends_with("_total") && ev.contains_key(key.trim_end_matches("_total")) => {}
            (key, Value::Array(list)) => {
                let items: Vec<String> = list.iter().map(plain).collect();
                out.push(format!("{key}: {}", items.join(", ")));
            }
            (key, Value::String(s)) => out.push(format!("{key}: {s}")),
            (key, other) => out.push(format!("{key}: {other}")),
        }
    }
    for (label, key) in [("first seen", "first_seen"), ("last seen", "last_seen")] {
        if let Some(t) = m[key].as_str() {
            out.push(format!("{label}: {t}"));
        }
    }
    out
}

fn severity_word(alert: &Value) -> String {
    let s = text(alert, "severity");
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The headline: `Critical: Privilege Escalation Detected`.
fn headline(alert: &Value) -> String {
    format!("{}: {}", severity_word(alert), text(alert, "title"))
}

/// The Standard Webhooks body.
pub fn webhook_body(view: &AlertView, purpose: Purpose, now: UnixMs) -> String {
    let kind = match purpose {
        Purpose::Test => "alert.test",
        Purpose::Resolve => "alert.resolved",
        Purpose::Raise if view.alert["metadata"]["occurrences"].as_u64().unwrap_or(1) > 1 => {
            "alert.updated"
        }
        Purpose::Raise => "alert.raised",
    };
    json!({
        "type": kind,
        "timestamp": now.iso_millis(),
        "data": {
            "alert": view.alert,
            "evidence": view.alert["metadata"]["evidence"],
            "events": view.events,
            "links": { "alert": view.link },
        },
    })
    .to_string()
}

/// A signed webhook POST; `id` is the delivery's (the same on every retry). `None` when the
/// stored secret is unusable.
pub fn webhook(
    url: &str,
    secret: &str,
    id: &str,
    view: &AlertView,
    purpose: Purpose,
    now: UnixMs,
) -> Option<HttpRequest> {
    let body = webhook_body(view, purpose, now);
    let signed = sign::headers(secret, id, now.0.div_euclid(1000), &body)?;
    let mut headers = vec![("content-type", "application/json".to_string())];
    headers.extend(signed);
    Some(HttpRequest {
        url: url.to_string(),
        headers,
        body,
    })
}

/// Slack's escaping for text objects: `&`, `<` and `>` (so no one can inject a link or a
/// mention through an actor id).
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message in Block Kit.
pub fn slack(url: &str, view: &AlertView, purpose: Purpose) -> HttpRequest {
    let a = &view.alert;
    let title = match purpose.label() {
        Some(label) => format!("[{label}] {}", headline(a)),
        None => headline(a),
    };
    let fields: Vec<Value> = facts(a)
        .into_iter()
        .map(|(name, value)| {
            json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", slack_escape(&cut(&value, 200)))})
        })
        .collect();
    let mut summary = text(a, "description");
    let evidence = evidence_lines(a);
    if !evidence.is_empty() {
        summary.push_str("\n\n");
        summary.push_str(&evidence.join("\n"));
    }
    let body = json!({
        "text": slack_escape(&cut(&title, 150)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150)}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(&cut(&summary, SLACK_TEXT_CHARS))}},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open in edgesoc"}, "url": view.link}
            ]},
        ],
    });
    HttpRequest {
        url: url.to_string(),
        headers: vec![("content-type", "application/json".to_string())],
        body: body.to_string(),
    }
}

/// PagerDuty's severity for ours.
fn pagerduty_severity(alert: &Value) -> &'static str {
    match alert["severity"].as_str() {
        Some("critical") => "critical",
        Some("high") => "error",
        Some("medium") => "warning",
        _ => "info",
    }
}

/// A PagerDuty Events API v2 event: `trigger` for a raise or a test, `resolve` for a resolved
/// alert; the alert id is the `dedup_key`, so retries and updates land on one incident.
pub fn pagerduty(
    endpoint: &str,
    routing_key: &str,
    view: &AlertView,
    purpose: Purpose,
) -> HttpRequest {
    let a = &view.alert;
    let dedup_key = match purpose {
        Purpose::Test => format!("edgesoc-test-{}", text(a, "id")),
        _ => text(a, "id"),
    };
    let body = match purpose {
        Purpose::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        }),
        Purpose::Raise | Purpose::Test => {
            let mut summary = headline(a);
            if let Some(actor) = a["actor_id"].as_str() {
                summary.push_str(&format!(" — {actor}"));
            }
            if let Some(ip) = a["source_ip"].as_str() {
                summary.push_str(&format!(" from {ip}"));
            }
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": cut(&summary, PAGERDUTY_SUMMARY_CHARS),
                    "source": a["source_ip"].as_str().unwrap_or("edgesoc"),
                    "severity": pagerduty_severity(a),
                    "timestamp": a["created_at"],
                    "component": a["alert_type"],
                    "class": a["alert_type"],
                    "group": a["org_id"],
                    "custom_details": {
                        "description": a["description"],
                        "actor_id": a["actor_id"],
                        "location": location(a),
                        "evidence": a["metadata"]["evidence"],
                        "occurrences": a["metadata"]["occurrences"],
                    },
                },
                "client": "edgesoc",
                "client_url": view.link,
                "links": [{"href": view.link, "text": "Open in edgesoc"}],
            })
        }
    };
    HttpRequest {
        url: endpoint.to_string(),
        headers: vec![("content-type", "application/json".to_string())],
        body: body.to_string(),
    }
}

/// HTML escaping for the email body.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// An email: a short subject, and the same content as plain text and HTML.
pub fn email(to: &str, view: &AlertView, purpose: Purpose) -> Email {
    let a = &view.alert;
    let tag = purpose.label().map_or(String::new(), |l| format!(" {l}"));
    let mut subject = format!("[edgesoc{tag}] {}", headline(a));
    if let Some(actor) = a["actor_id"].as_str() {
        subject.push_str(&format!(" — {actor}"));
    }
    let subject = cut(&subject.replace(['\r', '\n'], " "), 200);
    let mut facts = facts(a);
    if let Some(t) = a["alert_type"].as_str() {
        facts.push(("Alert type", t.to_string()));
    }
    facts.push(("Raised", text(a, "created_at")));
    let evidence = evidence_lines(a);
    let mut plain = format!("{}\n\n{}\n\n", headline(a), text(a, "description"));
    for (k, v) in &facts {
        plain.push_str(&format!("{k}: {v}\n"));
    }
    if !evidence.is_empty() {
        plain.push_str(&format!("\nEvidence:\n{}\n", evidence.join("\n")));
    }
    plain.push_str(&format!("\nOpen in edgesoc: {}\n", view.link));
    let rows: String = facts
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                k,
                html_escape(v)
            )
        })
        .collect();
    let evidence_html: String = evidence
        .iter()
        .map(|l| format!("<li>{}</li>", html_escape(l)))
        .collect();
    let html = format!(
        "<h2>{}</h2><p>{}</p><table>{rows}</table>{}<p><a href=\"{}\">Open in edgesoc</a></p>",
        html_escape(&headline(a)),
        html_escape(&text(a, "description")),
        if evidence_html.is_empty() {
            String::new()
        } else {
            format!("<h3>Evidence</h3><ul>{evidence_html}</ul>")
        },
        html_escape(&view.link),
    );
    Email {
        to: to.to_string(),
        subject,
        text: plain,
        html,
    }
}

/// The email as an RFC 5322 message (multipart/alternative) for the `send_email` binding.
/// The date, message id and MIME boundary are given: the builder's own defaults read the
/// system clock, which the Workers runtime's wasm has not.
pub fn email_mime(from: &str, email: &Email, message_id: &str, now: UnixMs) -> String {
    use mail_builder::headers::content_type::ContentType;
    use mail_builder::mime::MimePart;
    let boundary = format!(
        "edgesoc-{}",
        message_id.replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let body = MimePart::new(
        ContentType::new("multipart/alternative").attribute("boundary", boundary),
        vec![
            MimePart::new("text/plain", email.text.as_str()),
            MimePart::new("text/html", email.html.as_str()),
        ],
    );
    mail_builder::MessageBuilder::new()
        .from(("edgesoc", from))
        .to(email.to.as_str())
        .subject(email.subject.as_str())
        .message_id(message_id)
        .date(now.0.div_euclid(1000))
        .body(body)
        .write_to_string()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> AlertView {
        AlertView {
            alert: json!({
                "id": "6ba7b810-9dad-41d1-80b4-00c04fd430c8", "org_id": "org_a",
                "alert_type": "privilege_escalation", "severity": "critical", "status": "open",
                "title": "Privilege Escalation Detected",
                "description": "admin.privilege_escalation by <mallory>",
                "source_ip": "203.0.113.66", "actor_id": "<!channel> mallory & co",
                "created_at": "2026-01-30T09:15:00.000Z",
                "metadata": {"occurrences": 1, "city": "Berlin", "country": "DE",
                             "evidence": {"event_name": "admin.privilege_escalation", "count": 3}},
            }),
            events: vec![json!({"id": "e1", "event_name": "admin.privilege_escalation"})],
            link: "https://soc.example.com/?alert=6ba7b810-9dad-41d1-80b4-00c04fd430c8".into(),
        }
    }

    #[test]
    fn a_webhook_is_signed_and_carries_the_alert_its_evidence_events_and_link() {
        let secret = sign::new_secret([1; sign::SECRET_BYTES]);
        let now = UnixMs(1_769_764_500_123);
        let r = webhook(
            "https://r.example/h",
            &secret,
            "dlv_1",
            &view(),
            Purpose::Raise,
            now,
        )
        .unwrap();
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], "alert.raised");
        assert_eq!(body["data"]["alert"]["id"], view().alert["id"]);
        assert_eq!(body["data"]["evidence"]["count"], 3);
        assert_eq!(body["data"]["events"][0]["id"], "e1");
        assert_eq!(body["data"]["links"]["alert"], view().link);
        let header = |n: &str| r.headers.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(header("webhook-id"), "dlv_1");
        assert_eq!(header("webhook-timestamp"), "1769764500");
        assert_eq!(
            header("webhook-signature"),
            sign::headers(&secret, "dlv_1", 1_769_764_500, &r.body).unwrap()[2].1
        );
        let mut updated = view();
        updated.alert["metadata"]["occurrences"] = json!(4);
        assert!(webhook_body(&updated, Purpose::Raise, now).contains("\"alert.updated\""));
        assert!(webhook_body(&view(), Purpose::Test, now).contains("\"alert.test\""));
    }

    #[test]
    fn slack_text_cannot_inject_mentions_or_links() {
        let r = slack(
            "https://hooks.slack.com/services/x",
            &view(),
            Purpose::Raise,
        );
        assert!(!r.body.contains("<!channel>"), "{}", r.body);
        assert!(r.body.contains("&lt;!channel&gt; mallory &amp; co"));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][3]["elements"][0]["url"], view().link);
        assert!(body["blocks"][2]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("count: 3"));
    }

    #[test]
    fn pagerduty_triggers_and_resolves_one_incident_per_alert() {
        let id = view().alert["id"].as_str().unwrap().to_string();
        let t: Value = serde_json::from_str(
            &pagerduty(
                "https://events.pagerduty.com/v2/enqueue",
                "R0UT1NGKEY",
                &view(),
                Purpose::Raise,
            )
            .body,
        )
        .unwrap();
        assert_eq!(
            (t["event_action"].as_str(), t["dedup_key"].as_str()),
            (Some("trigger"), Some(id.as_str()))
        );
        assert_eq!(t["payload"]["severity"], "critical");
        assert_eq!(t["routing_key"], "R0UT1NGKEY");
        assert!(t["payload"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Critical: Privilege Escalation Detected"));
        let r: Value =
            serde_json::from_str(&pagerduty("https://e/", "K", &view(), Purpose::Resolve).body)
                .unwrap();
        assert_eq!(
            r,
            json!({"routing_key": "K", "event_action": "resolve", "dedup_key": id})
        );
        let test: Value =
            serde_json::from_str(&pagerduty("https://e/", "K", &view(), Purpose::Test).body)
                .unwrap();
        assert_ne!(
            test["dedup_key"],
            json!(id),
            "a test never touches the real incident"
        );
    }

    #[test]
    fn email_escapes_html_and_keeps_headers_on_one_line() {
        let mut v = view();
        v.alert["title"] = json!("Injected\r\nBcc: victim@example.com");
        let e = email("soc@example.com", &v, Purpose::Raise);
        assert!(!e.subject.contains('\n') && !e.subject.contains('\r'));
        assert!(e.html.contains("&lt;!channel&gt;"));
        assert!(!e.html.contains("<mallory>"));
        assert!(e.text.contains("Open in edgesoc: https://soc.example.com/"));
        let mime = email_mime(
            "alerts@example.com",
            &e,
            "dlv_1@edgesoc",
            UnixMs(1_769_764_500_000),
        );
        assert!(mime.contains("multipart/alternative"), "{mime}");
        assert!(
            mime.contains("To: <soc@example.com>") || mime.contains("To: soc@example.com"),
            "{mime}"
        );
        assert!(mime.contains("Message-ID: <dlv_1@edgesoc>"), "{mime}");
        let headers = mime.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers.contains("\r\nBcc:"),
            "no header injection: {headers}"
        );
        assert!(headers.contains("Subject:"));
    }

    #[test]
    fn evidence_reads_as_facts_not_json() {
        let mut v = view();
        v.alert["metadata"]["first_seen"] = json!("2026-01-30T09:00:00.000Z");
        v.alert["metadata"]["evidence"] = json!({
            "count": 6, "key": "ip",
            "accounts": [{"actor_id": "alice", "count": 4}, {"actor_id": "<bob>", "count": 2}],
            "accounts_total": 3,
            "event_ids": ["a", "b", "c"],
            "networks": ["vpn", "datacenter"],
            "from": {"city": "London"}, "to": {"city": "Tokyo"},
            "hops": [{"summary": "London, GB to New York, US: 5570 km"}, {"summary": "New York, US to Tokyo, JP: 10850 km"}],
        });
        let lines = evidence_lines(&v.alert);
        assert_eq!(
            lines,
            [
                "accounts: alice ×4, <bob> ×2 (3 in all)",
                "count: 6",
                "events: 3",
                "hop 1: London, GB to New York, US: 5570 km",
                "hop 2: New York, US to Tokyo, JP: 10850 km",
                "key: ip",
                "networks: vpn, datacenter",
                "first seen: 2026-01-30T09:00:00.000Z",
            ]
        );
        // Escaped where it is rendered.
        let mail = email("soc@example.com", &v, Purpose::Raise);
        assert!(mail
            .html
            .contains("<li>accounts: alice ×4, &lt;bob&gt; ×2 (3 in all)</li>"));
        assert!(!mail.html.contains("<bob>"));
        let slack = slack("https://hooks.slack.com/x", &v, Purpose::Raise);
        assert!(slack.body.contains("hop 2: New York, US to Tokyo, JP"));
        assert!(!slack.body.contains("<bob>"));
    }
}
