//! Okta System Log and Kubernetes audit events.

use super::{recognise, Outcome, Recognised};
use crate::logs::classify::{extract_fields, IamAction, LogType};
use serde_json::{json, Map, Value};

fn parse(v: &Value) -> Recognised {
    let obj: Map<String, Value> = serde_json::from_value(v.clone()).unwrap();
    recognise("", Some(&obj)).unwrap_or_else(|| panic!("not recognised: {v}"))
}

fn okta(event: &str, result: &str) -> Value {
    json!({
        "uuid": "6c1f0e1e-5b7a-11ef-9f6b-0242ac120002", "published": "2026-12-07T10:00:00.000Z",
        "eventType": event, "displayMessage": "whatever Okta says", "severity": "INFO",
        "actor": {"id": "00u1", "type": "User", "alternateId": "maria.lopez@corp.example", "displayName": "Maria Lopez"},
        "client": {"ipAddress": "198.51.100.140", "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": result, "reason": null},
        "target": [{"id": "00u2", "type": "User", "alternateId": "sam.ito@corp.example", "displayName": "Sam Ito"}],
    })
}

#[test]
fn okta_table() {
    use IamAction::*;
    use LogType::*;
    #[rustfmt::skip]
    let cases: &[(&str, &str, LogType, Option<IamAction>)] = &[
        ("user.session.start", "SUCCESS", LoginSuccess, None),
        ("user.session.start", "FAILURE", LoginFailure, None),
        ("user.authentication.sso", "SUCCESS", LoginSuccess, None),
        ("user.authentication.auth_via_mfa", "FAILURE", LoginFailure, None),
        ("user.authentication.verify", "DENY", LoginFailure, None),
        ("user.authentication.verify", "ALLOW", LoginSuccess, None),
        ("user.session.start", "CHALLENGE", NetworkEvent, None),
        ("user.account.lock", "SUCCESS", LoginFailure, None),
        ("user.account.privilege.grant", "SUCCESS", IamChange, Some(RoleEscalated)),
        ("group.user_membership.add", "SUCCESS", IamChange, Some(PermissionChanged)),
        ("user.lifecycle.create", "SUCCESS", IamChange, Some(ResourceCreated)),
        ("user.lifecycle.delete.initiated", "SUCCESS", IamChange, Some(ResourceDeleted)),
        ("user.lifecycle.suspend", "SUCCESS", IamChange, Some(PermissionChanged)),
        ("policy.lifecycle.update", "SUCCESS", IamChange, Some(PermissionChanged)),
        ("application.user_membership.add", "SUCCESS", IamChange, Some(PermissionChanged)),
        ("system.api_token.create", "SUCCESS", IamChange, Some(ResourceCreated)),
        ("user.lifecycle.create", "FAILURE", NetworkEvent, None),
        ("policy.evaluate_sign_on", "ALLOW", NetworkEvent, None),
        ("security.threat.detected", "DENY", NetworkScan, None),
        ("user.session.end", "SUCCESS", NetworkEvent, None),
        ("app.oauth2.token.grant.access_token", "SUCCESS", NetworkEvent, None),
    ];
    for &(event, result, t, action) in cases {
        let r = parse(&okta(event, result));
        assert_eq!(
            (r.parser, r.log_type, r.action),
            ("okta", t, action),
            "{event} {result}"
        );
        assert_eq!(
            r.device.as_deref(),
            Some("Mozilla/5.0"),
            "the client's user agent"
        );
        assert_eq!(
            (r.user.as_deref(), r.ip.as_deref(), r.resource.as_deref()),
            (
                Some("maria.lopez@corp.example"),
                Some("198.51.100.140"),
                Some("sam.ito@corp.example")
            ),
            "{event}"
        );
    }
    assert_eq!(
        parse(&okta("user.account.lock", "SUCCESS")).outcome,
        Outcome::Failure
    );
    assert_eq!(
        parse(&okta("user.session.start", "CHALLENGE")).outcome,
        Outcome::Unknown
    );
    // A target without alternateId falls back to its display name; no target, no resource.
    let mut v = okta("group.user_membership.add", "SUCCESS");
    v["target"] = json!([{"type": "UserGroup", "displayName": "Domain Admins"}]);
    assert_eq!(parse(&v).resource.as_deref(), Some("Domain Admins"));
    v["target"] = Value::Null;
    assert_eq!(parse(&v).resource, None);
    // The displayMessage is never the classified message: the event type decides.
    let f = extract_fields(&okta("user.session.start", "FAILURE").to_string(), None);
    assert_eq!(
        (f.classify().0, f.user.as_deref()),
        (LoginFailure, Some("maria.lopez@corp.example"))
    );
}

/// Verb, resource, subresource, code; then type, action and the resource read.
type K8sCase<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    u16,
    LogType,
    Option<IamAction>,
    &'a str,
);

fn k8s(verb: &str, resource: &str, sub: Option<&str>, code: u16) -> Value {
    let mut obj =
        json!({"resource": resource, "namespace": "prod", "name": "web-1", "apiVersion": "v1"});
    if let Some(s) = sub {
        obj["subresource"] = json!(s);
    }
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": "3f1b", "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/prod",
        "verb": verb, "user": {"username": "kube:admin@corp.example", "groups": ["system:authenticated"]},
        "sourceIPs": ["203.0.113.200", "10.0.0.1"], "userAgent": "kubectl/v1.31.0",
        "objectRef": obj, "responseStatus": {"metadata": {}, "code": code},
    })
}

#[test]
fn k8s_audit_table() {
    use IamAction::*;
    use LogType::*;
    #[rustfmt::skip]
    let cases: &[K8sCase] = &[
        ("create", "clusterrolebindings", None, 201, IamChange, Some(PolicyAttached), "clusterrolebindings/web-1"),
        ("create", "rolebindings", None, 201, IamChange, Some(PolicyAttached), "rolebindings/web-1"),
        ("create", "roles", None, 201, IamChange, Some(ResourceCreated), "roles/web-1"),
        ("create", "serviceaccounts", Some("token"), 201, IamChange, Some(ResourceCreated), "serviceaccounts/web-1/token"),
        ("delete", "clusterroles", None, 200, IamChange, Some(ResourceDeleted), "clusterroles/web-1"),
        ("patch", "clusterroles", None, 200, IamChange, Some(PermissionChanged), "clusterroles/web-1"),
        ("create", "pods", Some("exec"), 101, IamChange, Some(RoleEscalated), "pods/web-1/exec"),
        ("get", "pods", Some("attach"), 101, IamChange, Some(RoleEscalated), "pods/web-1/attach"),
        ("get", "secrets", None, 200, NetworkEvent, None, "secrets/web-1"),
        ("list", "roles", None, 200, NetworkEvent, None, "roles/web-1"),
        ("watch", "pods", None, 200, NetworkEvent, None, "pods/web-1"),
        ("create", "deployments", None, 201, NetworkEvent, None, "deployments/web-1"),
        ("get", "pods", None, 401, LoginFailure, None, "pods/web-1"),
        ("create", "clusterrolebindings", None, 403, LoginFailure, None, "clusterrolebindings/web-1"),
        ("create", "roles", None, 409, NetworkEvent, None, "roles/web-1"),
    ];
    for &(verb, res, sub, code, t, action, path) in cases {
        let r = parse(&k8s(verb, res, sub, code));
        assert_eq!(
            (r.parser, r.log_type, r.action, r.resource.as_deref()),
            ("k8s_audit", t, action, Some(path)),
            "{verb} {res} {sub:?} {code}"
        );
        assert_eq!(
            (
                r.user.as_deref(),
                r.ip.as_deref(),
                r.method.as_deref(),
                r.status
            ),
            (
                Some("kube:admin@corp.example"),
                Some("203.0.113.200"),
                Some(verb),
                Some(code)
            )
        );
    }
}

#[test]
fn k8s_only_the_final_stage_counts_and_other_kinds_are_not_audit() {
    let mut v = k8s("create", "clusterrolebindings", None, 201);
    v["stage"] = json!("RequestReceived");
    v.as_object_mut().unwrap().remove("responseStatus");
    assert_eq!(parse(&v).log_type, LogType::NetworkEvent);
    let mut v = k8s("create", "roles", None, 201);
    v["apiVersion"] = json!("v1");
    let obj: Map<String, Value> = serde_json::from_value(v).unwrap();
    assert_eq!(recognise("", Some(&obj)), None);
}
