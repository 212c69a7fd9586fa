//! Field extraction from one raw log line (docs/dashboard.md §7.3).
//!
//! A line a format parser recognises (§7.5) takes its type from the parser, and the parser's
//! user, IP, method, status and resource win. Otherwise, source order for every field: the
//! line's own keys (JSON or logfmt), then the entry's structured metadata, then — for the IP
//! and the status only — the plain-text heuristics run over the message. Labels are not seen
//! here; the caller applies them (§7.1, §3.1).

use super::parsers::{recognise, Recognised};
use super::{classify_with_action, logfmt, tokenize, IamAction, LogLevel, LogType};
use serde_json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const MESSAGE_KEYS: &[&str] = &["msg", "message", "log", "textPayload"];
const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl"];
const IP_KEYS: &[&str] = &[
    "ip",
    "client_ip",
    "clientIp",
    "remote_addr",
    "src_ip",
    "source_ip",
    "sourceIp",
    "protoPayload.requestMetadata.callerIp",
];
const USER_KEYS: &[&str] = &[
    "user",
    "username",
    "user_name",
    "identity",
    "principal",
    "actor",
    "protoPayload.authenticationInfo.principalEmail",
];
const METHOD_KEYS: &[&str] = &[
    "method",
    "methodName",
    "http_method",
    "protoPayload.methodName",
];
const STATUS_KEYS: &[&str] = &["status", "status_code", "statusCode"];
const RESOURCE_KEYS: &[&str] = &["resource", "resourceName", "protoPayload.resourceName"];
const GEO_KEYS: &[&str] = &["geo", "country", "country_code"];
const HOSTNAME_KEYS: &[&str] = &["hostname", "host", "pod"];
const TARGET_IP_KEYS: &[&str] = &["target_ip", "dest_ip", "dst_ip"];
const DEVICE_KEYS: &[&str] = &["device"];
const VPN_KEYS: &[&str] = &["vpn"];

/// How a line was read (§7.3 steps 1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineFormat {
    /// The line starts with `{` and parses as a JSON object.
    Json,
    /// Every whitespace-separated element is a `key=value` pair (see the `logfmt` reader).
    Logfmt,
    /// Anything else.
    #[default]
    Plain,
}

/// The fields of one raw log line (§7.3). Every optional field is `None` when unknown; strings
/// are trimmed and never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractedFields {
    /// Which §7.3 step read the line.
    pub format: LineFormat,
    /// The text classified by §4. Plain text: the whole (trimmed) line. JSON/logfmt: the first
    /// of `msg`, `message`, `log`, `textPayload`, or empty when none is present — the line's
    /// key names are never classified (a GCP audit record's `authenticationInfo` key would
    /// otherwise make every record `login_success`).
    pub message: String,
    /// The level given by the line, normalised; `None` when the line gives none, in which case
    /// the caller uses a label or [`LogLevel::from_status`].
    pub level: Option<LogLevel>,
    /// The client IP in canonical form (IPv4-mapped IPv6 becomes IPv4; a port or brackets are
    /// dropped). A key whose value is not an IP counts as absent.
    pub ip: Option<String>,
    /// The acting user.
    pub user: Option<String>,
    /// The method (HTTP method or cloud API method name), also fed to §4.
    pub method: Option<String>,
    /// A status in 100–599.
    pub status: Option<u16>,
    /// The resource acted on (for `iamChanges`).
    pub resource: Option<String>,
    /// A country / geo value, as given.
    pub geo: Option<String>,
    /// A host name field (a label, applied by the caller, wins over it).
    pub hostname: Option<String>,
    /// The target IP, canonical like `ip`.
    pub target_ip: Option<String>,
    /// A device field.
    pub device: Option<String>,
    /// `Some(true)` for a truthy `vpn` field or the token `vpn` in the message; `Some(false)`
    /// for an explicitly falsy `vpn` field; otherwise `None`.
    pub vpn: Option<bool>,
    /// What a format parser read (§7.5); its type and action win over §4/§5.
    pub parsed: Option<Recognised>,
}

impl ExtractedFields {
    /// Classifies the line: the format parser's verdict (§7.5) when one recognised it, else §4/§5
    /// from its method, message and status. The action is `Some` exactly when the type is
    /// `iam_change`.
    pub fn classify(&self) -> (LogType, Option<IamAction>) {
        if let Some(p) = &self.parsed {
            return (p.log_type, p.action);
        }
        classify_with_action(
            self.method.as_deref().unwrap_or(""),
            &self.message,
            self.status,
        )
    }
}

/// Extracts the §7.3 fields from one line (already truncated to 8 KiB by the caller).
/// `structured` is the entry's structured metadata (§7.1); it fills fields the line itself
/// does not give. The format parsers (§7.5) run first, over a JSON line's object and over the
/// message; the fields they read win.
///
/// Within one source, the first key present wins, where "present" means it holds a usable
/// value: `null`, empty strings, objects/arrays, non-IP strings for IP keys and statuses
/// outside 100–599 are skipped. Dotted keys such as `protoPayload.methodName` are looked up
/// literally first, then as a nested path.
pub fn extract_fields(line: &str, structured: Option<&Map<String, Value>>) -> ExtractedFields {
    let line = line.trim();
    let (format, own) = read_line(line);
    let mut sources: Vec<&Map<String, Value>> = Vec::with_capacity(2);
    sources.extend(own.as_ref());
    sources.extend(structured);

    let message = match format {
        LineFormat::Plain => line.to_string(),
        LineFormat::Json | LineFormat::Logfmt => {
            first(&sources, MESSAGE_KEYS, text_value).unwrap_or_default()
        }
    };
    let object = own.as_ref().filter(|_| format == LineFormat::Json);
    let parsed = recognise(&message, object);
    let from_parser = |pick: fn(&Recognised) -> Option<String>| parsed.as_ref().and_then(pick);
    let ip = from_parser(|p| p.ip.clone())
        .or_else(|| first(&sources, IP_KEYS, ip_value))
        .or_else(|| first_ip_literal(&message).map(|ip| ip.to_string()));
    let status = parsed
        .as_ref()
        .and_then(|p| p.status)
        .or_else(|| first(&sources, STATUS_KEYS, status_value))
        .or_else(|| common_log_status(&message));
    let vpn_token = tokenize("", &message).iter().any(|t| t == "vpn");
    let vpn = if vpn_token {
        Some(true)
    } else {
        first(&sources, VPN_KEYS, truthiness)
    };

    ExtractedFields {
        format,
        level: first(&sources, LEVEL_KEYS, |v| {
            v.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(LogLevel::normalize)
        }),
        ip,
        user: from_parser(|p| p.user.clone()).or_else(|| first(&sources, USER_KEYS, text_value)),
        method: from_parser(|p| p.method.clone())
            .or_else(|| first(&sources, METHOD_KEYS, text_value)),
        status,
        resource: from_parser(|p| p.resource.clone())
            .or_else(|| first(&sources, RESOURCE_KEYS, text_value)),
        geo: first(&sources, GEO_KEYS, text_value),
        hostname: first(&sources, HOSTNAME_KEYS, text_value),
        target_ip: first(&sources, TARGET_IP_KEYS, ip_value),
        device: from_parser(|p| p.device.clone())
            .or_else(|| first(&sources, DEVICE_KEYS, text_value)),
        vpn,
        message,
        parsed,
    }
}

/// Decides the line's format and, for JSON/logfmt, returns its keys.
fn read_line(line: &str) -> (LineFormat, Option<Map<String, Value>>) {
    if line.starts_with('{') {
        if let Ok(map) = serde_json::from_str::<Map<String, Value>>(line) {
            return (LineFormat::Json, Some(map));
        }
    }
    if let Some(pairs) = logfmt::parse(line) {
        let mut map = Map::new();
        for (key, value) in pairs {
            // The first occurrence of a repeated key wins.
            map.entry(key).or_insert(Value::String(value));
        }
        return (LineFormat::Logfmt, Some(map));
    }
    (LineFormat::Plain, None)
}

/// The first usable value over `sources` (in order), and within one source over `keys` (in
/// order).
fn first<T>(
    sources: &[&Map<String, Value>],
    keys: &[&str],
    read: impl Fn(&Value) -> Option<T>,
) -> Option<T> {
    sources
        .iter()
        .find_map(|map| keys.iter().find_map(|key| lookup(map, key).and_then(&read)))
}

/// A key's non-null value: the literal key first, then the dotted path through nested objects.
fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(key).filter(|v| !v.is_null()) {
        return Some(v);
    }
    if !key.contains('.') {
        return None;
    }
    let mut parts = key.split('.');
    let mut current = map.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    (!current.is_null()).then_some(current)
}

/// A non-empty trimmed string, or a number written out.
fn text_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string holding an IP, in canonical form.
fn ip_value(v: &Value) -> Option<String> {
    v.as_str().and_then(parse_ip_field).map(|ip| ip.to_string())
}

/// Parses an IP field value: `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`; for a comma list
/// (`X-Forwarded-For` style) the first element that is an IP.
pub(super) fn parse_ip_field(s: &str) -> Option<IpAddr> {
    s.split(',').find_map(|part| {
        let part = part.trim();
        let ip = part
            .parse::<IpAddr>()
            .ok()
            .or_else(|| part.parse::<SocketAddr>().ok().map(|sa| sa.ip()))
            .or_else(|| {
                part.strip_prefix('[')
                    .and_then(|p| p.strip_suffix(']'))
                    .and_then(|p| p.parse::<IpAddr>().ok())
            })?;
        Some(ip.to_canonical())
    })
}

/// An integer status in 100–599, from a JSON integer or a string of digits.
fn status_value(v: &Value) -> Option<u16> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse::<u64>().ok()?
        }
        _ => return None,
    };
    u16::try_from(n).ok().filter(|n| (100..=599).contains(n))
}

/// Truthiness of a `vpn` field: booleans; numbers (non-zero is true); the strings
/// `true`/`yes`/`y`/`on`/`1` and `false`/`no`/`n`/`off`/`0` (any case). Other values: unknown.
fn truthiness(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            match s.as_str() {
                "true" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The first IPv4 or IPv6 literal in free text (§7.3 plain text), canonicalised.
///
/// Candidates are the maximal runs of ASCII letters, digits, `.` and `:`; each is tried with
/// `std::net` parsing as-is, then without sentence punctuation (leading/trailing `.`, trailing
/// `:`), then as `ipv4:port`. So `cache::fetch` or `v1.2.3.4` are not IPs, `[2001:db8::1]:443`
/// gives `2001:db8::1`, and a bare `::` (no hex digit) is ignored.
pub(super) fn first_ip_literal(text: &str) -> Option<IpAddr> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':'))
        .find_map(ip_in_word)
        .map(|ip| ip.to_canonical())
}

fn ip_in_word(word: &str) -> Option<IpAddr> {
    if !word.bytes().any(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some(ip);
    }
    let trimmed = word.trim_matches('.').trim_end_matches(':');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = trimmed.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The status of a common/combined log format line: the three-digit number (100–599) that
/// follows a closing `"` and whitespace, and is itself followed by whitespace or the end.
/// Backslash-escaped quotes inside a quoted string do not close it.
pub(super) fn common_log_status(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    let mut inside = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if inside => {
                i += 2;
                continue;
            }
            b'"' => {
                if inside {
                    if let Some(status) = status_after_quote(&bytes[i + 1..]) {
                        return Some(status);
                    }
                }
                inside = !inside;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn status_after_quote(rest: &[u8]) -> Option<u16> {
    let start = rest.iter().position(|b| *b != b' ' && *b != b'\t')?;
    if start == 0 {
        return None;
    }
    let digits = rest.get(start..start + 3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if rest
        .get(start + 3)
        .is_some_and(|b| !b.is_ascii_whitespace())
    {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    (100..=599).contains(&n).then_some(n)
}
