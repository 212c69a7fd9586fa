//! Google Cloud audit log entries (`protoPayload` of `@type` AuditLog): IAM policy and service
//! account changes, denied calls; other methods are events.

use super::{owned_at, str_at, Outcome, Recognised};
use crate::logs::classify::{IamAction, LogType};
use serde_json::{Map, Value};

const GCP: &str = "gcp_audit";

/// Method words (lowercase) that make a method an IAM one.
const IAM_WORDS: [&str; 5] = ["iam", "role", "serviceaccount", "permission", "policy"];
/// Method name prefixes (lowercase, last dotted part) that change nothing.
const READ_ONLY: [&str; 6] = ["get", "list", "test", "query", "search", "lookup"];

/// Recognises an entry whose `protoPayload` has a `methodName` and is an AuditLog (by `@type`,
/// or by `serviceName` when a shipper dropped the type).
pub(super) fn parse(obj: &Map<String, Value>) -> Option<Recognised> {
    let payload = obj.get("protoPayload")?.as_object()?;
    let method = str_at(payload, "methodName")?;
    let audit = str_at(payload, "@type").is_some_and(|t| t.ends_with("AuditLog"))
        || str_at(payload, "serviceName").is_some()
        || payload.contains_key("authenticationInfo");
    if !audit {
        return None;
    }
    let code = payload
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let base = match code {
        0 => Recognised::iam_or_event(GCP, iam_action(method)),
        // PERMISSION_DENIED, UNAUTHENTICATED.
        7 | 16 => Recognised::new(GCP, LogType::LoginFailure),
        _ => Recognised {
            outcome: Outcome::Failure,
            ..Recognised::new(GCP, LogType::NetworkEvent)
        },
    };
    Some(Recognised {
        user: owned_at(payload, "authenticationInfo.principalEmail"),
        ip: str_at(payload, "requestMetadata.callerIp").and_then(super::text::ip_of),
        method: Some(method.to_string()),
        resource: owned_at(payload, "resourceName"),
        ..base
    })
}

/// The action of a successful call: `SetIamPolicy` attaches a policy; IAM methods create,
/// delete or otherwise change; read-only and non-IAM methods are `None` (an event).
fn iam_action(method: &str) -> Option<IamAction> {
    let lower = method.to_ascii_lowercase();
    let last = lower.rsplit('.').next().unwrap_or("");
    if last == "setiampolicy" {
        return Some(IamAction::PolicyAttached);
    }
    if !IAM_WORDS.iter().any(|w| lower.contains(w)) || READ_ONLY.iter().any(|p| last.starts_with(p))
    {
        return None;
    }
    Some(if last.contains("create") {
        IamAction::ResourceCreated
    } else if last.contains("delete") {
        IamAction::ResourceDeleted
    } else {
        IamAction::PermissionChanged
    })
}
