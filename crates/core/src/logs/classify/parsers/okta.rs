//! Okta System Log events: sign-ins and their failures, lockouts, admin grants, user and policy
//! lifecycle, API tokens and threat detection.

use super::{owned_at, str_at, Outcome, Recognised};
use crate::logs::classify::{IamAction, LogType};
use serde_json::{Map, Value};

const OKTA: &str = "okta";

/// Event types that report a sign-in attempt: success or failure by `outcome.result`.
const SIGN_INS: [&str; 4] = [
    "user.session.start",
    "user.authentication.sso",
    "user.authentication.auth_via_mfa",
    "user.authentication.verify",
];

/// Recognises an event with a string `eventType` and an `actor` object.
pub(super) fn parse(obj: &Map<String, Value>) -> Option<Recognised> {
    let event = str_at(obj, "eventType")?;
    obj.get("actor")?.as_object()?;
    let outcome = match str_at(obj, "outcome.result") {
        Some("SUCCESS" | "ALLOW") => Outcome::Success,
        Some("FAILURE" | "DENY") => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    let base = match kind(event) {
        Kind::SignIn => match outcome {
            Outcome::Success => Recognised::new(OKTA, LogType::LoginSuccess),
            Outcome::Failure => Recognised::new(OKTA, LogType::LoginFailure),
            Outcome::Unknown => Recognised::new(OKTA, LogType::NetworkEvent),
        },
        // A change that failed changed nothing.
        Kind::Iam(_) if outcome == Outcome::Failure => Recognised::new(OKTA, LogType::NetworkEvent),
        Kind::Iam(action) => Recognised::iam(OKTA, action),
        Kind::Other(t) => Recognised::new(OKTA, t),
    };
    let target = obj
        .get("target")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(Value::as_object);
    let login = matches!(base.log_type, LogType::LoginSuccess | LogType::LoginFailure);
    Some(Recognised {
        outcome: if login { base.outcome } else { outcome },
        user: owned_at(obj, "actor.alternateId"),
        ip: str_at(obj, "client.ipAddress").and_then(super::text::ip_of),
        method: Some(event.to_string()),
        device: owned_at(obj, "client.userAgent.rawUserAgent"),
        resource: target
            .and_then(|t| owned_at(t, "alternateId").or_else(|| owned_at(t, "displayName"))),
        ..base
    })
}

enum Kind {
    SignIn,
    Iam(IamAction),
    Other(LogType),
}

/// What an event type reports. `user.account.privilege.grant` (an admin role) is an escalation;
/// group membership is a permission change, since a group's rights vary.
/// `policy.evaluate_sign_on` runs on every sign-in and changes nothing: an event.
fn kind(event: &str) -> Kind {
    use IamAction::*;
    match event {
        e if SIGN_INS.contains(&e) => Kind::SignIn,
        e if e.starts_with("user.account.lock") => Kind::Other(LogType::LoginFailure),
        "user.account.privilege.grant" => Kind::Iam(RoleEscalated),
        "user.lifecycle.create" | "system.api_token.create" => Kind::Iam(ResourceCreated),
        "system.api_token.revoke" => Kind::Iam(ResourceDeleted),
        e if e.starts_with("user.lifecycle.delete") => Kind::Iam(ResourceDeleted),
        "security.threat.detected" => Kind::Other(LogType::NetworkScan),
        e if e.starts_with("policy.evaluate") => Kind::Other(LogType::NetworkEvent),
        e if [
            "policy.",
            "application.user_membership.",
            "group.user_membership.",
        ]
        .iter()
        .any(|p| e.starts_with(p))
            || e.starts_with("user.account.privilege.")
            || e.starts_with("user.lifecycle.") =>
        {
            Kind::Iam(PermissionChanged)
        }
        _ => Kind::Other(LogType::NetworkEvent),
    }
}
