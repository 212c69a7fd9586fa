//! AWS CloudTrail records (one per line): console logins, role assumption, IAM changes and
//! denied calls; every other API call is an event with its user and IP. A CloudTrail log file
//! shipped as one line (`{"Records": […]}`, as S3 holds it) is split into its records first
//! ([`split_file`]).

use super::text::ip_of;
use super::{first_at, owned_at, str_at, Outcome, Recognised};
use crate::logs::classify::{IamAction, LogType};
use serde_json::{Map, Value};

const CLOUDTRAIL: &str = "cloudtrail";

/// `errorCode`s that mean the caller was not allowed.
const DENIED: [&str; 4] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
];
/// IAM calls that change nothing.
const READ_ONLY: [&str; 4] = ["Get", "List", "Generate", "Simulate"];
/// Where the resource of an IAM change is read, first present wins.
const RESOURCE_PARAMS: [&str; 8] = [
    "requestParameters.policyArn",
    "requestParameters.policyName",
    "requestParameters.groupName",
    "requestParameters.roleName",
    "requestParameters.userName",
    "requestParameters.roleArn",
    "requestParameters.instanceProfileName",
    "requestParameters.accessKeyId",
];

/// One record of a CloudTrail file as a line of its own, and its `eventTime` (Unix ms) when that
/// is an RFC 3339 time.
pub type FileRecord = (String, Option<i64>);

/// The records of a CloudTrail log file (`{"Records": [record, …]}`); `None` for any other
/// line, including a file with no records, which stays one line. At most `max` records are
/// returned; the count of the rest comes second.
pub fn split_file(line: &str, max: usize) -> Option<(Vec<FileRecord>, usize)> {
    let line = line.trim();
    if !(line.starts_with('{') && line.contains("\"Records\"")) {
        return None;
    }
    let mut file: Map<String, Value> = serde_json::from_str(line).ok()?;
    let Value::Array(records) = file.remove("Records")? else {
        return None;
    };
    let is_record = |r: &Value| {
        r.as_object()
            .is_some_and(|o| o.contains_key("eventVersion"))
    };
    if !file.is_empty() || records.is_empty() || !records.iter().all(is_record) {
        return None;
    }
    let beyond = records.len().saturating_sub(max);
    let out = records
        .into_iter()
        .take(max)
        .map(|r| {
            let at = str_at(r.as_object()?, "eventTime")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis());
            Some((r.to_string(), at))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((out, beyond))
}

/// Recognises a record with `eventVersion`, `eventSource` and `eventName`.
pub(super) fn parse(obj: &Map<String, Value>) -> Option<Recognised> {
    str_at(obj, "eventVersion")?;
    let source = str_at(obj, "eventSource")?;
    let event = str_at(obj, "eventName")?;
    let error = str_at(obj, "errorCode");
    let base = if event == "ConsoleLogin" {
        match str_at(obj, "responseElements.ConsoleLogin") {
            Some("Success") => Recognised::new(CLOUDTRAIL, LogType::LoginSuccess),
            Some("Failure") => Recognised::new(CLOUDTRAIL, LogType::LoginFailure),
            _ => Recognised::new(CLOUDTRAIL, LogType::NetworkEvent),
        }
    } else if let Some(code) = error {
        let t = if DENIED.contains(&code) {
            LogType::LoginFailure
        } else {
            LogType::NetworkEvent
        };
        Recognised {
            outcome: Outcome::Failure,
            ..Recognised::new(CLOUDTRAIL, t)
        }
    } else if event.starts_with("AssumeRole")
        && str_at(obj, "userIdentity.type") != Some("AWSService")
    {
        Recognised {
            resource: owned_at(obj, "requestParameters.roleArn"),
            ..Recognised::iam(CLOUDTRAIL, IamAction::RoleEscalated)
        }
    } else if source == "iam.amazonaws.com" {
        Recognised {
            resource: first_at(obj, &RESOURCE_PARAMS),
            ..Recognised::iam_or_event(CLOUDTRAIL, iam_action(event))
        }
    } else {
        Recognised::new(CLOUDTRAIL, LogType::NetworkEvent)
    };
    Some(Recognised {
        user: user(obj),
        ip: str_at(obj, "sourceIPAddress").and_then(ip_of),
        method: Some(event.to_string()),
        device: owned_at(obj, "userAgent"),
        ..base
    })
}

/// The §5 action of an IAM call, `None` for read-only calls.
fn iam_action(event: &str) -> Option<IamAction> {
    let attach =
        event.starts_with("Attach") || (event.starts_with("Put") && event.ends_with("Policy"));
    Some(if attach {
        IamAction::PolicyAttached
    } else if event == "AddUserToGroup" {
        IamAction::RoleEscalated
    } else if event.starts_with("Create") {
        IamAction::ResourceCreated
    } else if event.starts_with("Delete") {
        IamAction::ResourceDeleted
    } else if READ_ONLY.iter().any(|p| event.starts_with(p)) {
        return None;
    } else {
        IamAction::PermissionChanged
    })
}

/// `userIdentity.userName`; `root` for the root user; else the last part of the ARN
/// (`assumed-role/Admin/alice` → `alice`) or of the principal id (`AROA…:alice`).
fn user(obj: &Map<String, Value>) -> Option<String> {
    if let Some(name) = owned_at(obj, "userIdentity.userName") {
        return Some(name);
    }
    if str_at(obj, "userIdentity.type") == Some("Root") {
        return Some("root".into());
    }
    let last = |s: &str, sep: char| s.rsplit(sep).next().map(str::trim).map(str::to_string);
    str_at(obj, "userIdentity.arn")
        .and_then(|arn| last(arn, '/'))
        .or_else(|| str_at(obj, "userIdentity.principalId").and_then(|p| last(p, ':')))
        .filter(|s| !s.is_empty())
}
