//! AWS CloudTrail and GCP audit records.

use super::{recognise, Outcome, Recognised};
use crate::logs::classify::{extract_fields, IamAction, LogType};
use serde_json::{json, Map, Value};

fn parse(v: Value) -> Recognised {
    let obj: Map<String, Value> = serde_json::from_value(v.clone()).unwrap();
    recognise("", Some(&obj)).unwrap_or_else(|| panic!("not recognised: {v}"))
}

fn trail(event: &str, source: &str, extra: Value) -> Value {
    let mut v = json!({
        "eventVersion": "1.09", "eventTime": "2026-12-07T10:00:00Z",
        "eventSource": source, "eventName": event, "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.61", "userAgent": "aws-cli/2.15",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dana", "userName": "dana"},
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

const IAM: &str = "iam.amazonaws.com";

#[test]
fn cloudtrail_table() {
    use IamAction::*;
    use LogType::*;
    let login = |result: &str| json!({"responseElements": {"ConsoleLogin": result}});
    let params = |p: Value| json!({ "requestParameters": p });
    #[rustfmt::skip]
    let cases: Vec<(Value, LogType, Option<IamAction>, Option<&str>)> = vec![
        (trail("ConsoleLogin", "signin.amazonaws.com", login("Success")), LoginSuccess, None, None),
        (trail("ConsoleLogin", "signin.amazonaws.com", login("Failure")), LoginFailure, None, None),
        (trail("AssumeRole", "sts.amazonaws.com", params(json!({"roleArn": "arn:aws:iam::111122223333:role/Admin", "roleSessionName": "dana"}))), IamChange, Some(RoleEscalated), Some("arn:aws:iam::111122223333:role/Admin")),
        (trail("AssumeRoleWithSAML", "sts.amazonaws.com", params(json!({"roleArn": "arn:aws:iam::111122223333:role/Sso"}))), IamChange, Some(RoleEscalated), Some("arn:aws:iam::111122223333:role/Sso")),
        (trail("AttachRolePolicy", IAM, params(json!({"roleName": "deploy", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}))), IamChange, Some(PolicyAttached), Some("arn:aws:iam::aws:policy/AdministratorAccess")),
        (trail("PutUserPolicy", IAM, params(json!({"userName": "dana", "policyName": "inline-admin"}))), IamChange, Some(PolicyAttached), Some("inline-admin")),
        (trail("AddUserToGroup", IAM, params(json!({"userName": "eve", "groupName": "Admins"}))), IamChange, Some(RoleEscalated), Some("Admins")),
        (trail("CreateUser", IAM, params(json!({"userName": "backdoor"}))), IamChange, Some(ResourceCreated), Some("backdoor")),
        (trail("CreateAccessKey", IAM, params(json!({"userName": "backdoor"}))), IamChange, Some(ResourceCreated), Some("backdoor")),
        (trail("DeleteRole", IAM, params(json!({"roleName": "legacy"}))), IamChange, Some(ResourceDeleted), Some("legacy")),
        (trail("UpdateAssumeRolePolicy", IAM, params(json!({"roleName": "deploy"}))), IamChange, Some(PermissionChanged), Some("deploy")),
        (trail("DetachUserPolicy", IAM, params(json!({"userName": "dana", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}))), IamChange, Some(PermissionChanged), Some("arn:aws:iam::aws:policy/ReadOnlyAccess")),
        (trail("GetUser", IAM, params(json!({"userName": "dana"}))), NetworkEvent, None, Some("dana")),
        (trail("ListRoles", IAM, json!({})), NetworkEvent, None, None),
        (trail("DescribeInstances", "ec2.amazonaws.com", json!({})), NetworkEvent, None, None),
        (trail("GetObject", "s3.amazonaws.com", json!({})), NetworkEvent, None, None),
        (trail("AttachRolePolicy", IAM, json!({"errorCode": "AccessDenied", "errorMessage": "not authorized"})), LoginFailure, None, None),
        (trail("RunInstances", "ec2.amazonaws.com", json!({"errorCode": "Client.UnauthorizedOperation"})), LoginFailure, None, None),
        (trail("DeleteRole", IAM, json!({"errorCode": "NoSuchEntityException"})), NetworkEvent, None, None),
    ];
    for (v, t, action, resource) in cases {
        let r = parse(v.clone());
        assert_eq!(
            (r.parser, r.log_type, r.action, r.resource.as_deref()),
            ("cloudtrail", t, action, resource),
            "{v}"
        );
        assert_eq!(r.user.as_deref(), Some("dana"), "{v}");
        assert_eq!(r.ip.as_deref(), Some("203.0.113.61"), "{v}");
        assert_eq!(r.method.as_deref(), v["eventName"].as_str(), "{v}");
        assert_eq!(r.device.as_deref(), Some("aws-cli/2.15"), "{v}");
    }
}

#[test]
fn cloudtrail_users_ips_and_outcomes() {
    let root = trail(
        "ConsoleLogin",
        "signin.amazonaws.com",
        json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"},
               "responseElements": {"ConsoleLogin": "Failure"}}),
    );
    let r = parse(root);
    assert_eq!(
        (r.user.as_deref(), r.outcome),
        (Some("root"), Outcome::Failure)
    );

    let assumed = trail(
        "CreateRole",
        IAM,
        json!({"sourceIPAddress": "iam.amazonaws.com",
               "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice@corp.example"},
               "requestParameters": {"roleName": "x"}}),
    );
    let r = parse(assumed);
    assert_eq!(
        (r.user.as_deref(), r.ip),
        (Some("alice@corp.example"), None)
    );
    assert_eq!(r.outcome, Outcome::Success);

    let principal = trail(
        "GetCallerIdentity",
        "sts.amazonaws.com",
        json!({"userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:ci-runner"}}),
    );
    assert_eq!(parse(principal).user.as_deref(), Some("ci-runner"));

    // A service assuming its own role is routine, not an escalation.
    let service = trail(
        "AssumeRole",
        "sts.amazonaws.com",
        json!({"userIdentity": {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}}),
    );
    let r = parse(service);
    assert_eq!((r.log_type, r.user), (LogType::NetworkEvent, None));

    // End to end: the record's user and IP reach the fields (no generic key holds them).
    let f = extract_fields(
        &trail(
            "ConsoleLogin",
            "signin.amazonaws.com",
            json!({"responseElements": {"ConsoleLogin": "Success"}}),
        )
        .to_string(),
        None,
    );
    assert_eq!(f.classify(), (LogType::LoginSuccess, None));
    assert_eq!(
        (f.user.as_deref(), f.ip.as_deref(), f.method.as_deref()),
        (Some("dana"), Some("203.0.113.61"), Some("ConsoleLogin"))
    );
}

fn gcp(method: &str, status: Option<i64>) -> Value {
    let mut payload = json!({
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "serviceName": "iam.googleapis.com", "methodName": method,
        "resourceName": "projects/acme/serviceAccounts/ci@acme.iam.gserviceaccount.com",
        "authenticationInfo": {"principalEmail": "ops@acme.example"},
        "requestMetadata": {"callerIp": "2001:db8:77::5", "callerSuppliedUserAgent": "gcloud"},
    });
    if let Some(code) = status {
        payload["status"] = json!({"code": code, "message": "denied"});
    }
    json!({"protoPayload": payload, "severity": "NOTICE", "logName": "projects/acme/logs/cloudaudit.googleapis.com%2Factivity"})
}

#[test]
fn gcp_audit_table() {
    use IamAction::*;
    use LogType::*;
    #[rustfmt::skip]
    let cases: &[(&str, Option<i64>, LogType, Option<IamAction>)] = &[
        ("SetIamPolicy", None, IamChange, Some(PolicyAttached)),
        ("v1.compute.instances.setIamPolicy", Some(0), IamChange, Some(PolicyAttached)),
        ("google.iam.admin.v1.CreateServiceAccount", None, IamChange, Some(ResourceCreated)),
        ("google.iam.admin.v1.CreateServiceAccountKey", None, IamChange, Some(ResourceCreated)),
        ("google.iam.admin.v1.CreateRole", None, IamChange, Some(ResourceCreated)),
        ("google.iam.admin.v1.DeleteServiceAccountKey", None, IamChange, Some(ResourceDeleted)),
        ("google.iam.admin.v1.UpdateRole", None, IamChange, Some(PermissionChanged)),
        ("io.k8s.authorization.rbac.v1.clusterrolebindings.create", None, IamChange, Some(ResourceCreated)),
        ("GetIamPolicy", None, NetworkEvent, None),
        ("google.iam.admin.v1.ListServiceAccounts", None, NetworkEvent, None),
        ("v1.compute.instances.insert", None, NetworkEvent, None),
        ("storage.buckets.delete", None, NetworkEvent, None),
        ("SetIamPolicy", Some(7), LoginFailure, None),
        ("v1.compute.instances.delete", Some(16), LoginFailure, None),
        ("google.iam.admin.v1.CreateRole", Some(6), NetworkEvent, None),
    ];
    for &(method, status, t, action) in cases {
        let r = parse(gcp(method, status));
        assert_eq!(
            (r.parser, r.log_type, r.action),
            ("gcp_audit", t, action),
            "{method} {status:?}"
        );
        assert_eq!(
            (r.user.as_deref(), r.ip.as_deref(), r.method.as_deref()),
            (
                Some("ops@acme.example"),
                Some("2001:db8:77::5"),
                Some(method)
            )
        );
    }
}

#[test]
fn gcp_entries_without_audit_shape_are_not_audit() {
    let obj: Map<String, Value> =
        serde_json::from_value(json!({"protoPayload": {"methodName": "x"}})).unwrap();
    assert_eq!(recognise("", Some(&obj)), None);
    let obj: Map<String, Value> =
        serde_json::from_value(json!({"protoPayload": "flat", "eventVersion": "1"})).unwrap();
    assert_eq!(recognise("", Some(&obj)), None);
}

#[test]
fn a_cloudtrail_file_on_one_line_is_split_into_its_records() {
    let at = |t: &str, extra: Value| {
        let mut r = trail("ConsoleLogin", "signin.amazonaws.com", extra);
        r["eventTime"] = json!(t);
        r
    };
    let records = vec![
        at(
            "2026-12-07T10:00:00Z",
            json!({"responseElements": {"ConsoleLogin": "Success"}}),
        ),
        at(
            "2026-12-07T10:00:05.250Z",
            json!({"responseElements": {"ConsoleLogin": "Failure"}}),
        ),
        at(
            "not a time",
            json!({"responseElements": {"ConsoleLogin": "Success"}}),
        ),
    ];
    let file = json!({ "Records": records }).to_string();
    let (lines, beyond) = super::split_cloudtrail_file(&file, 10).expect("a file");
    assert_eq!(beyond, 0);
    let times: Vec<Option<i64>> = lines.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        times,
        [Some(1_796_637_600_000), Some(1_796_637_605_250), None]
    );
    let types: Vec<LogType> = lines
        .iter()
        .map(|(l, _)| extract_fields(l, None).classify().0)
        .collect();
    assert_eq!(
        types,
        [
            LogType::LoginSuccess,
            LogType::LoginFailure,
            LogType::LoginSuccess
        ],
        "each record read as a record on its own line"
    );
    let (kept, beyond) = super::split_cloudtrail_file(&file, 2).unwrap();
    assert_eq!(
        (kept.len(), beyond),
        (2, 1),
        "at most `max`, the rest counted"
    );

    // Anything else stays one line.
    for line in [
        trail("ConsoleLogin", "signin.amazonaws.com", json!({})).to_string(),
        json!({"Records": []}).to_string(),
        json!({"Records": [1, 2]}).to_string(),
        json!({"Records": [{"msg": "not a record"}]}).to_string(),
        json!({"Records": records, "other": 1}).to_string(),
        r#"{"Records": [ broken"#.to_string(),
        "Records".to_string(),
    ] {
        assert!(super::split_cloudtrail_file(&line, 10).is_none(), "{line}");
    }
}
