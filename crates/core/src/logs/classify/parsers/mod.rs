//! Format parsers for the logs teams actually ship (docs/dashboard.md §7.5). They run before
//! the §4 keyword rules, which stay the fallback for every line no parser recognises.
//!
//! JSON parsers (CloudTrail, Okta, GCP audit, Kubernetes audit) read the parsed object; text
//! parsers (sshd, PAM/sudo/su, access logs) read the message without its syslog prefix.

use super::{IamAction, LogType};
use serde_json::{Map, Value};

mod access_log;
mod cloudtrail;
mod gcp_audit;
mod k8s_audit;
mod okta;
mod pam_sudo;
mod sshd;
mod text;

pub use cloudtrail::split_file as split_cloudtrail_file;
pub use text::strip_syslog;

/// What an attempt reported: succeeded, failed, or not said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Outcome {
    /// The attempt succeeded (an accepted login, a completed change).
    Success,
    /// The attempt failed or was denied.
    Failure,
    /// The line does not say, or it is not an attempt.
    #[default]
    Unknown,
}

/// A line a format parser recognised: its type (and action), and the fields it read. Strings are
/// trimmed and never empty; the IP is canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// Which parser read the line (`sshd`, `pam`, `sudo`, `su`, `access_log`, `cloudtrail`,
    /// `okta`, `gcp_audit`, `k8s_audit`).
    pub parser: &'static str,
    /// The log type; it wins over the §4 rules.
    pub log_type: LogType,
    /// `Some` exactly when the type is `iam_change`.
    pub action: Option<IamAction>,
    /// Success or failure of the attempt, when the line says.
    pub outcome: Outcome,
    /// The acting (or targeted, for failed logins) account.
    pub user: Option<String>,
    /// The client IP, canonical.
    pub ip: Option<String>,
    /// HTTP method, cloud API method, Kubernetes verb or SSH auth method.
    pub method: Option<String>,
    /// An HTTP status in 100–599.
    pub status: Option<u16>,
    /// What was acted on: path, command, role, policy, object.
    pub resource: Option<String>,
    /// The client's user agent, where the format records it (Okta, CloudTrail): the device the
    /// identity rules compare (docs/api.md §10.5).
    pub device: Option<String>,
}

impl Recognised {
    /// A record of `log_type` (not `iam_change`); the outcome follows a login type.
    pub(crate) fn new(parser: &'static str, log_type: LogType) -> Self {
        let outcome = match log_type {
            LogType::LoginSuccess => Outcome::Success,
            LogType::LoginFailure => Outcome::Failure,
            _ => Outcome::Unknown,
        };
        Recognised {
            parser,
            log_type,
            action: None,
            outcome,
            user: None,
            ip: None,
            method: None,
            status: None,
            resource: None,
            device: None,
        }
    }

    /// An `iam_change` record with `action`; the change happened, so the outcome is success.
    pub(crate) fn iam(parser: &'static str, action: IamAction) -> Self {
        Recognised {
            action: Some(action),
            outcome: Outcome::Success,
            ..Recognised::new(parser, LogType::IamChange)
        }
    }

    /// `iam(action)` when `action` is given, else a `network_event`.
    pub(crate) fn iam_or_event(parser: &'static str, action: Option<IamAction>) -> Self {
        action.map_or_else(
            || Recognised::new(parser, LogType::NetworkEvent),
            |a| Recognised::iam(parser, a),
        )
    }
}

/// Runs the parsers: the JSON ones over `object` (a JSON line's keys), then the text ones over
/// `message` (the whole plain line, or a JSON/logfmt line's message). `None`: no parser knows
/// the line, and the §4 rules classify it.
pub fn recognise(message: &str, object: Option<&Map<String, Value>>) -> Option<Recognised> {
    if let Some(obj) = object {
        let found = cloudtrail::parse(obj)
            .or_else(|| okta::parse(obj))
            .or_else(|| gcp_audit::parse(obj))
            .or_else(|| k8s_audit::parse(obj));
        if found.is_some() {
            return found;
        }
    }
    let msg = strip_syslog(message);
    if msg.is_empty() {
        return None;
    }
    sshd::parse(msg)
        .or_else(|| pam_sudo::parse(msg))
        .or_else(|| access_log::parse(msg))
}

/// The trimmed, non-empty string at a dotted `path` of `obj` (`userIdentity.userName`).
fn str_at<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let mut parts = path.split('.');
    let mut v = obj.get(parts.next()?)?;
    for part in parts {
        v = v.as_object()?.get(part)?;
    }
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// [`str_at`] as an owned string.
fn owned_at(obj: &Map<String, Value>, path: &str) -> Option<String> {
    str_at(obj, path).map(str::to_string)
}

/// The first of `paths` present in `obj`, owned.
fn first_at(obj: &Map<String, Value>, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| owned_at(obj, p))
}

#[cfg(test)]
mod access_log_tests;
#[cfg(test)]
mod cloud_tests;
#[cfg(test)]
mod k8s_okta_tests;
#[cfg(test)]
mod pam_sudo_tests;
#[cfg(test)]
mod sshd_tests;
#[cfg(test)]
mod text_tests;
