//! Kubernetes API server audit events (`audit.k8s.io/v1` `Event`): RBAC and service account
//! changes, exec/attach into pods, refused requests; reads and other requests are events.

use super::text::{ip_of, name};
use super::{owned_at, str_at, Outcome, Recognised};
use crate::logs::classify::{IamAction, LogType};
use serde_json::{Map, Value};

const K8S: &str = "k8s_audit";

/// Resources whose changes are IAM changes.
const RBAC: [&str; 5] = [
    "roles",
    "clusterroles",
    "rolebindings",
    "clusterrolebindings",
    "serviceaccounts",
];
/// Verbs that change an object.
const WRITES: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Recognises an `Event` of `audit.k8s.io`. Only the final stage counts (`ResponseComplete`,
/// `Panic`, or none given): `RequestReceived`/`ResponseStarted` repeat the same request.
pub(super) fn parse(obj: &Map<String, Value>) -> Option<Recognised> {
    if str_at(obj, "kind") != Some("Event")
        || !str_at(obj, "apiVersion").is_some_and(|v| v.starts_with("audit.k8s.io/"))
    {
        return None;
    }
    let verb = str_at(obj, "verb").unwrap_or("");
    let resource = str_at(obj, "objectRef.resource");
    let sub = str_at(obj, "objectRef.subresource");
    let code = obj
        .get("responseStatus")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..=599).contains(c));
    let early = matches!(
        str_at(obj, "stage"),
        Some("RequestReceived" | "ResponseStarted")
    );
    let base = match code {
        _ if early => Recognised::new(K8S, LogType::NetworkEvent),
        Some(401 | 403) => Recognised::new(K8S, LogType::LoginFailure),
        Some(c) if c >= 400 => Recognised {
            outcome: Outcome::Failure,
            ..Recognised::new(K8S, LogType::NetworkEvent)
        },
        _ => Recognised::iam_or_event(K8S, action(verb, resource.unwrap_or(""), sub)),
    };
    let path = resource.map(|r| {
        let mut p = r.to_string();
        for part in [str_at(obj, "objectRef.name"), sub].into_iter().flatten() {
            p.push('/');
            p.push_str(part);
        }
        p
    });
    Some(Recognised {
        user: owned_at(obj, "user.username"),
        ip: obj
            .get("sourceIPs")
            .and_then(Value::as_array)
            .and_then(|ips| ips.first())
            .and_then(Value::as_str)
            .and_then(ip_of),
        method: name(verb),
        status: code,
        resource: path,
        ..base
    })
}

/// The action of a successful request: exec/attach into a pod escalates; RBAC and service
/// account writes are changes (a new binding attaches a policy); anything else is `None`.
fn action(verb: &str, resource: &str, sub: Option<&str>) -> Option<IamAction> {
    let shell = resource == "pods" && matches!(sub, Some("exec" | "attach"));
    if shell && matches!(verb, "create" | "get") {
        return Some(IamAction::RoleEscalated);
    }
    if !RBAC.contains(&resource) || !WRITES.contains(&verb) {
        return None;
    }
    Some(match verb {
        "create" if resource.ends_with("bindings") => IamAction::PolicyAttached,
        "create" => IamAction::ResourceCreated,
        "delete" | "deletecollection" => IamAction::ResourceDeleted,
        _ => IamAction::PermissionChanged,
    })
}
