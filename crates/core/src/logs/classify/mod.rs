//! Log type classification (docs/dashboard.md §4–§6), log levels (§3.1, §7.3) and field
//! extraction from raw log lines (§7.3).
//!
//! Everything here runs once, at ingestion; the results are stored in columns and never
//! recomputed at query time (§2). The module is pure: no I/O, no clock, no `worker`.

use crate::ingest::catalogue::{self, Severity};
use serde::{Deserialize, Serialize};

mod extract;
mod logfmt;
pub mod parsers;

pub use extract::{extract_fields, ExtractedFields, LineFormat};
pub use parsers::{Outcome, Recognised};

/// The dashboard's log `type` (§3.1, §4). The declaration order is the §4 rule order, which is
/// also the order of the Sankey `telemetry` layer (§3.4), so `Ord` follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogType {
    /// A failed authentication (`login_failure`).
    LoginFailure,
    /// A successful authentication (`login_success`).
    LoginSuccess,
    /// A change to identities, roles or permissions (`iam_change`).
    IamChange,
    /// A scan, probe or enumeration (`network_scan`).
    NetworkScan,
    /// Anything else (`network_event`), the default.
    NetworkEvent,
}

impl LogType {
    /// Every type, in §4 rule order.
    pub const ALL: [LogType; 5] = [
        LogType::LoginFailure,
        LogType::LoginSuccess,
        LogType::IamChange,
        LogType::NetworkScan,
        LogType::NetworkEvent,
    ];

    /// The wire/storage spelling (`login_failure`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::LoginFailure => "login_failure",
            LogType::LoginSuccess => "login_success",
            LogType::IamChange => "iam_change",
            LogType::NetworkScan => "network_scan",
            LogType::NetworkEvent => "network_event",
        }
    }

    /// Parses the wire/storage spelling (case-sensitive, as stored).
    pub fn parse(s: &str) -> Option<LogType> {
        LogType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The IAM change `action` vocabulary (§5). Only meaningful when the type is
/// [`LogType::IamChange`]; it is never a raw cloud method name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IamAction {
    /// A policy was attached (stem `attach`).
    PolicyAttached,
    /// A role was escalated or elevated (stems `escalat`, `elevat`).
    RoleEscalated,
    /// A resource was created (stem `creat`).
    ResourceCreated,
    /// A resource was deleted (stem `delet`).
    ResourceDeleted,
    /// Any other IAM change, the default.
    PermissionChanged,
}

impl IamAction {
    /// Every action, in §5 table order.
    pub const ALL: [IamAction; 5] = [
        IamAction::PolicyAttached,
        IamAction::RoleEscalated,
        IamAction::ResourceCreated,
        IamAction::ResourceDeleted,
        IamAction::PermissionChanged,
    ];

    /// The wire/storage spelling (`policy_attached`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            IamAction::PolicyAttached => "policy_attached",
            IamAction::RoleEscalated => "role_escalated",
            IamAction::ResourceCreated => "resource_created",
            IamAction::ResourceDeleted => "resource_deleted",
            IamAction::PermissionChanged => "permission_changed",
        }
    }

    /// Parses the wire/storage spelling (case-sensitive, as stored).
    pub fn parse(s: &str) -> Option<IamAction> {
        IamAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A log level, the vocabulary of `_metadata.severity` (§3.1). Ordered mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warning`
    Warning,
    /// `error`
    Error,
    /// `critical`
    Critical,
}

impl LogLevel {
    /// Every level, mildest first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
    ];

    /// The wire/storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }

    /// Parses the exact wire/storage spelling (case-sensitive). For shipper input use
    /// [`LogLevel::normalize`].
    pub fn parse(s: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Normalises a level given by a shipper (§7.3), case-insensitively and ignoring
    /// surrounding whitespace: `warn`→warning; `err`→error; `fatal`, `crit`, `emerg`, `alert`,
    /// `panic`→critical; `trace`→debug; `notice`→info; the five canonical names map to
    /// themselves; anything else (including the empty string) → info.
    ///
    /// Matching is exact per alias, as the contract lists them: `emergency` or `severe` are
    /// *not* aliases and become info.
    pub fn normalize(raw: &str) -> LogLevel {
        let raw = raw.trim();
        let is = |name: &str| raw.eq_ignore_ascii_case(name);
        if is("debug") || is("trace") {
            LogLevel::Debug
        } else if is("warning") || is("warn") {
            LogLevel::Warning
        } else if is("error") || is("err") {
            LogLevel::Error
        } else if ["critical", "fatal", "crit", "emerg", "alert", "panic"]
            .into_iter()
            .any(is)
        {
            LogLevel::Critical
        } else {
            // `info`, `notice` and everything unknown.
            LogLevel::Info
        }
    }

    /// The level to use when a line gives none (§7.3): error if the status is ≥ 500, warning
    /// if it is ≥ 400, otherwise (or without a status) info.
    pub fn from_status(status: Option<u16>) -> LogLevel {
        match status {
            Some(s) if s >= 500 => LogLevel::Error,
            Some(s) if s >= 400 => LogLevel::Warning,
            _ => LogLevel::Info,
        }
    }
}

/// Maps a stored event severity to a log level (§3.1): critical→critical, high→error,
/// medium/warning→warning, low/info→info.
pub fn event_log_level(sev: Severity) -> LogLevel {
    match sev {
        Severity::Critical => LogLevel::Critical,
        Severity::High => LogLevel::Error,
        Severity::Medium | Severity::Warning => LogLevel::Warning,
        Severity::Low | Severity::Info => LogLevel::Info,
    }
}

/// Splits `method` and `msg` into lowercase tokens (§4): the two are joined with a space,
/// split on every non-alphanumeric character and on lower→upper camelCase boundaries
/// (`SetIamPolicy` → `set`, `iam`, `policy`), then lowercased. Empty tokens are dropped.
///
/// "Alphanumeric" is Unicode's (`char::is_alphanumeric`). Only a lowercase letter followed by
/// an uppercase one is a boundary, exactly as specified: `HTTPServer` stays `httpserver` and
/// `OAuth2Login` stays `oauth2login`.
pub fn tokenize(method: &str, msg: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in method
        .chars()
        .chain(std::iter::once(' '))
        .chain(msg.chars())
    {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if prev_lower && c.is_uppercase() && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Tokens that never match any keyword or stem (§4), compared exactly (after lowercasing).
/// They keep `portal` from matching `port` and `author` from matching `auth`.
pub const EXCLUDED_TOKENS: [&str; 7] = [
    "portal",
    "portals",
    "portfolio",
    "portable",
    "author",
    "authors",
    "authority",
];

/// Rule 1, first set: the failure words.
const FAILURE_WORDS: [&str; 5] = ["failed", "wrong", "denied", "unauthorized", "invalid"];
/// Rule 1, second set: the authentication words.
const FAILURE_AUTH_WORDS: [&str; 4] = ["login", "auth", "password", "signin"];
/// Rule 2, unconditional words.
const SUCCESS_WORDS: [&str; 3] = ["login", "auth", "authenticated"];
/// Rule 2, words that need a 2xx status.
const SUCCESS_2XX_WORDS: [&str; 2] = ["password", "signin"];
/// Words of a line reporting a server error: never `login_success` (rule 2).
const SERVER_ERROR_WORDS: [&str; 5] = ["error", "exception", "unavailable", "timeout", "timed"];
/// Rule 3.
const IAM_WORDS: [&str; 5] = ["iam", "policy", "role", "permission", "grant"];
/// Rule 4.
const SCAN_WORDS: [&str; 5] = ["scan", "probe", "discovery", "enumeration", "port"];

/// True when some non-excluded token starts with one of `keywords` (§4 "matching").
fn matches_any<S: AsRef<str>>(tokens: &[S], keywords: &[&str]) -> bool {
    tokens
        .iter()
        .map(AsRef::as_ref)
        .filter(|t| !EXCLUDED_TOKENS.contains(t))
        .any(|t| keywords.iter().any(|k| t.starts_with(k)))
}

/// The §4 rules over already-computed tokens; the first match wins. Rule 2 never matches a
/// line reporting a server error (a status ≥ 500 or an error word).
fn classify_tokens<S: AsRef<str>>(tokens: &[S], status: Option<u16>) -> LogType {
    let server_error =
        || status.is_some_and(|s| s >= 500) || matches_any(tokens, &SERVER_ERROR_WORDS);
    if matches_any(tokens, &FAILURE_WORDS) && matches_any(tokens, &FAILURE_AUTH_WORDS) {
        LogType::LoginFailure
    } else if (matches_any(tokens, &SUCCESS_WORDS)
        || (status.is_some_and(|s| (200..=299).contains(&s))
            && matches_any(tokens, &SUCCESS_2XX_WORDS)))
        && !server_error()
    {
        LogType::LoginSuccess
    } else if matches_any(tokens, &IAM_WORDS) {
        LogType::IamChange
    } else if matches_any(tokens, &SCAN_WORDS) {
        LogType::NetworkScan
    } else {
        LogType::NetworkEvent
    }
}

/// The §5 stems over already-computed tokens; the first *stem* in table order wins,
/// wherever its token is in the line.
fn iam_action_tokens<S: AsRef<str>>(tokens: &[S]) -> IamAction {
    const STEMS: [(&[&str], IamAction); 4] = [
        (&["attach"], IamAction::PolicyAttached),
        (&["escalat", "elevat"], IamAction::RoleEscalated),
        (&["creat"], IamAction::ResourceCreated),
        (&["delet"], IamAction::ResourceDeleted),
    ];
    STEMS
        .iter()
        .find(|(stems, _)| matches_any(tokens, stems))
        .map_or(IamAction::PermissionChanged, |&(_, action)| action)
}

/// Classifies a raw line or custom event (§4): `method` may be empty, `status` is the HTTP-like
/// status when known. Rules, first match wins: login_failure, login_success, iam_change,
/// network_scan, else network_event; a server error is never login_success. The known quirk of
/// §4 (a failure word without an auth word falls through) is kept deliberately.
pub fn classify(method: &str, msg: &str, status: Option<u16>) -> LogType {
    classify_tokens(&tokenize(method, msg), status)
}

/// The IAM action of a line (§5): `attach`→policy_attached, `escalat`/`elevat`→role_escalated,
/// `creat`→resource_created, `delet`→resource_deleted, else permission_changed. Only meaningful
/// when [`classify`] gives [`LogType::IamChange`].
pub fn iam_action(method: &str, msg: &str) -> IamAction {
    iam_action_tokens(&tokenize(method, msg))
}

/// [`classify`] and, for `iam_change` only, [`iam_action`], tokenising once.
pub fn classify_with_action(
    method: &str,
    msg: &str,
    status: Option<u16>,
) -> (LogType, Option<IamAction>) {
    let tokens = tokenize(method, msg);
    let log_type = classify_tokens(&tokens, status);
    let action = (log_type == LogType::IamChange).then(|| iam_action_tokens(&tokens));
    (log_type, action)
}

/// The §6 table: standard events with a type other than `network_event`.
const EVENT_TYPES: [(&str, LogType, Option<IamAction>); 12] = [
    ("auth.login_failed", LogType::LoginFailure, None),
    ("auth.login_success", LogType::LoginSuccess, None),
    (
        "authz.role_changed",
        LogType::IamChange,
        Some(IamAction::RoleEscalated),
    ),
    (
        "admin.privilege_escalation",
        LogType::IamChange,
        Some(IamAction::RoleEscalated),
    ),
    (
        "authz.permission_granted",
        LogType::IamChange,
        Some(IamAction::PolicyAttached),
    ),
    (
        "authz.permission_revoked",
        LogType::IamChange,
        Some(IamAction::PermissionChanged),
    ),
    (
        "admin.user_suspended",
        LogType::IamChange,
        Some(IamAction::PermissionChanged),
    ),
    (
        "admin.settings_changed",
        LogType::IamChange,
        Some(IamAction::PermissionChanged),
    ),
    (
        "admin.user_created",
        LogType::IamChange,
        Some(IamAction::ResourceCreated),
    ),
    (
        "admin.api_key_created",
        LogType::IamChange,
        Some(IamAction::ResourceCreated),
    ),
    (
        "admin.user_deleted",
        LogType::IamChange,
        Some(IamAction::ResourceDeleted),
    ),
    (
        "admin.api_key_revoked",
        LogType::IamChange,
        Some(IamAction::ResourceDeleted),
    ),
];

/// Classifies a LiteSOC event by name (§6). Standard events use the §6 table (every standard
/// event not in it is `network_event`); custom events go through §4/§5 with `msg` = the event
/// name with `.` and `_` turned into spaces, followed by `metadata.message` when the caller
/// found it to be a string. No method and no status are used for events.
///
/// Alias spellings (`login.failed`, …) are canonicalised first, although the ingest path
/// already stores canonical names. The action is `Some` exactly when the type is
/// `iam_change`.
pub fn classify_event(
    event_name: &str,
    metadata_message: Option<&str>,
) -> (LogType, Option<IamAction>) {
    let name = catalogue::canonical_alias(event_name).unwrap_or(event_name);
    if let Some(&(_, log_type, action)) = EVENT_TYPES.iter().find(|(n, _, _)| *n == name) {
        return (log_type, action);
    }
    if catalogue::lookup(name).standard {
        return (LogType::NetworkEvent, None);
    }
    let mut msg = name.replace(['.', '_'], " ");
    if let Some(extra) = metadata_message {
        msg.push(' ');
        msg.push_str(extra);
    }
    classify_with_action("", &msg, None)
}

#[cfg(test)]
mod extract_tests;
#[cfg(test)]
mod tests;
