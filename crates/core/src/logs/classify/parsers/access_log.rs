//! nginx/Apache access logs (common, combined, with a vhost prefix): a login only for a POST or
//! PUT to a login path, a scan for well-known probe paths, every other request an event.

use super::text::{ip_of, name};
use super::Recognised;
use crate::logs::classify::LogType;

const ACCESS: &str = "access_log";

/// Last path segments that are login endpoints (`/api/login`, `/users/sign_in`, …).
const LOGIN_SEGMENTS: [&str; 12] = [
    "login",
    "signin",
    "sign_in",
    "sign-in",
    "logon",
    "log_in",
    "session",
    "sessions",
    "authenticate",
    "login.php",
    "wp-login.php",
    "xmlrpc.php",
];
/// Substrings of the lowercased target that only probes send (traversal, injection).
const PROBE_PARTS: [&str; 12] = [
    "../",
    "..%2f",
    "%2e%2e",
    "..\\",
    "..%5c",
    "/etc/passwd",
    "/etc/shadow",
    "win.ini",
    "/proc/self",
    "${jndi",
    "%24%7bjndi",
    "<script",
];
/// Path segments (lowercase) of probe targets: exact names, then prefixes.
const PROBE_SEGMENTS: [&str; 13] = [
    "cgi-bin",
    "actuator",
    "server-status",
    "server-info",
    "hnap1",
    "boaform",
    "pma",
    "myadmin",
    "phpinfo.php",
    "info.php",
    "eval-stdin.php",
    "phpunit",
    "_ignition",
];
const PROBE_PREFIXES: [&str; 9] = [
    ".env",
    ".git",
    ".svn",
    ".hg",
    ".aws",
    ".ssh",
    ".ht",
    ".ds_store",
    "phpmyadmin",
];
/// WordPress paths: probes when the site answers 404 (it is not WordPress).
const WORDPRESS: [&str; 5] = [
    "wp-admin",
    "wp-includes",
    "wp-content",
    "wp-login.php",
    "xmlrpc.php",
];

/// Recognises `[VHOST ]IP IDENT USER [TIME] "REQUEST" STATUS BYTES …`.
pub(super) fn parse(msg: &str) -> Option<Recognised> {
    let (head, rest) = msg.split_once(" [")?;
    let mut words = head.split_whitespace().rev();
    let (user, _ident, ip) = (words.next()?, words.next()?, words.next()?);
    if words.nth(1).is_some() {
        return None; // more than a vhost before the client
    }
    let (time, rest) = rest.split_once("] ")?;
    if !time.contains('/') || !time.contains(':') {
        return None;
    }
    let (request, rest) = quoted(rest)?;
    let mut tail = rest.split_whitespace();
    let status = tail.next().filter(|s| s.len() == 3)?.parse::<u16>().ok();
    let status = status.filter(|s| (100..=599).contains(s))?;
    let bytes = tail.next()?;
    if bytes != "-" && !bytes.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut parts = request.split_whitespace();
    let method = parts
        .next()
        .filter(|m| m.len() <= 16 && m.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    let target = parts.next().unwrap_or("");
    let log_type = match method {
        Some(m) => request_type(m, target, status),
        // `-` or an empty request: a connection closed before one; anything else is garbage
        // (a TLS handshake on the plain port, another protocol): a probe.
        None if request.trim().is_empty() || request.trim() == "-" => LogType::NetworkEvent,
        None => LogType::NetworkScan,
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    Some(Recognised {
        user: Some(user).filter(|u| *u != "-").and_then(name),
        ip: ip_of(ip),
        method: method.map(str::to_string),
        status: Some(status),
        resource: name(path),
        ..Recognised::new(ACCESS, log_type)
    })
}

/// The contents of a leading `"…"` (backslash escapes kept) and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('"')?;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The type of a well-formed request.
fn request_type(method: &str, target: &str, status: u16) -> LogType {
    let lower = target.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    let segments = || path.split('/').filter(|s| !s.is_empty());
    let proxy =
        method == "CONNECT" || lower.starts_with("http://") || lower.starts_with("https://");
    let probe = PROBE_PARTS.iter().any(|p| lower.contains(p))
        || segments().any(|s| {
            PROBE_SEGMENTS.contains(&s) || PROBE_PREFIXES.iter().any(|p| s.starts_with(p))
        });
    if proxy || probe {
        return LogType::NetworkScan;
    }
    let last = segments().next_back().unwrap_or("");
    let oauth_token = path.ends_with("/oauth/token") || path.ends_with("/oauth2/token");
    let login_path =
        LOGIN_SEGMENTS.contains(&last) || oauth_token || segments().any(|s| s == "auth");
    if matches!(method, "POST" | "PUT") && login_path {
        if let Some(t) = login_outcome(last, status) {
            return t;
        }
    }
    if status == 404 && segments().any(|s| WORDPRESS.contains(&s)) {
        return LogType::NetworkScan;
    }
    LogType::NetworkEvent
}

/// A login attempt's result from its status: 401/403 failed, 2xx/302/303 succeeded. WordPress
/// answers a failed `wp-login.php` with 200 (success is a 302), and `xmlrpc.php` always with
/// 200, so those 200s are a failure and an event respectively.
fn login_outcome(last: &str, status: u16) -> Option<LogType> {
    match (last, status) {
        (_, 401 | 403) | ("wp-login.php", 200) => Some(LogType::LoginFailure),
        ("xmlrpc.php", _) => None,
        (_, 200..=299 | 302 | 303) => Some(LogType::LoginSuccess),
        _ => None,
    }
}
