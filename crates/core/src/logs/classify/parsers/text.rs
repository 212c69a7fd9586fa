//! Small text helpers shared by the plain-text parsers: the syslog prefix, words after a
//! keyword, account names and IP words. No allocation beyond the strings returned.

use crate::logs::classify::extract::parse_ip_field;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The message of a syslog-style line, or the line itself. Accepted prefixes, each optional:
/// `<PRI>`; then either RFC 5424 (`1 TIMESTAMP HOST APP PROCID MSGID SD`), or a timestamp
/// (`Dec  7 02:58:35`, `2026-12-07T02:58:35Z`, `2026-12-07 02:58:35`), a host, and a tag
/// (`sshd[1234]:` or `sshd:`). A line that is only a message (journald) comes back trimmed.
pub fn strip_syslog(line: &str) -> &str {
    let s = line.trim();
    let s = match strip_pri(s) {
        Some(rest) => match rest.strip_prefix("1 ") {
            Some(v1) => return rfc5424_msg(v1).unwrap_or(v1).trim(),
            None => rest,
        },
        None => s,
    };
    let Some(after_ts) = strip_timestamp(s) else {
        return strip_tag(s).unwrap_or(s);
    };
    if let Some(msg) = strip_tag(after_ts) {
        return msg;
    }
    match split_word(after_ts) {
        Some((_host, rest)) => strip_tag(rest).unwrap_or(rest),
        None => after_ts,
    }
}

/// The first word of `s` and what follows it, both trimmed.
fn split_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    Some(match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim_start()),
        None => (s, ""),
    })
}

fn strip_pri(s: &str) -> Option<&str> {
    let (pri, rest) = s.strip_prefix('<')?.split_once('>')?;
    let digits = (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit());
    digits.then_some(rest)
}

/// RFC 5424 after the version: five fields, the structured data (`-` or `[…]…`), the message.
fn rfc5424_msg(s: &str) -> Option<&str> {
    let mut rest = s;
    for _ in 0..5 {
        rest = split_word(rest)?.1;
    }
    let msg = match rest.strip_prefix('-') {
        Some(msg) => msg,
        None => skip_structured_data(rest)?,
    };
    Some(msg.trim_start().trim_start_matches('\u{feff}'))
}

/// What follows `[id k="v"]…` (quotes may hold `]` and escaped quotes).
fn skip_structured_data(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let (mut quoted, mut escaped, mut open) = (false, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' if open => quoted = !quoted,
            b'[' if !quoted => open = true,
            b']' if !quoted && open => {
                open = false;
                if bytes.get(i + 1) != Some(&b'[') {
                    return Some(&s[i + 1..]);
                }
            }
            _ if !open => return None,
            _ => {}
        }
    }
    None
}

/// `s` after a leading BSD or ISO 8601 timestamp, or `None` when it has none.
fn strip_timestamp(s: &str) -> Option<&str> {
    let (w, rest) = split_word(s)?;
    if MONTHS.contains(&w) {
        let (day, rest) = split_word(rest)?;
        let (clock, rest) = split_word(rest)?;
        let day_ok = day.len() <= 2 && day.bytes().all(|b| b.is_ascii_digit());
        return (day_ok && is_clock(clock)).then_some(rest);
    }
    let b = w.as_bytes();
    let date =
        b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-';
    if !date {
        return None;
    }
    match split_word(rest) {
        Some((clock, after)) if w.len() == 10 && is_clock(clock) => Some(after),
        _ => Some(rest),
    }
}

fn is_clock(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() >= 8 && b[2] == b':' && b[5] == b':' && b[..2].iter().all(u8::is_ascii_digit)
}

/// `s` after a syslog tag: `prog[pid]:` (letters, digits, `_-./`), or `prog:` without uppercase
/// or `_`.
fn strip_tag(s: &str) -> Option<&str> {
    let (w, rest) = split_word(s)?;
    let tag = w.strip_suffix(':')?;
    let name = match tag.split_once('[') {
        Some((name, pid)) => {
            let pid = pid.strip_suffix(']')?;
            (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(name)?
        }
        // Without a pid, no uppercase or `_`: `Disconnecting:` and `kex_exchange_identification:`
        // open messages.
        None => (!tag.bytes().any(|b| b.is_ascii_uppercase() || b == b'_')).then_some(tag)?,
    };
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
    ok.then_some(rest)
}

/// The word that follows the first word equal to `key` (`from` → the IP, `port` → the port).
pub(super) fn word_after<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let mut words = s.split_whitespace();
    words.find(|w| *w == key)?;
    words.next()
}

/// The canonical IP written in `word`, ignoring one trailing `:` or `,`.
pub(super) fn ip_of(word: &str) -> Option<String> {
    let ip = parse_ip_field(word)
        .or_else(|| word.strip_suffix([':', ',', ';']).and_then(parse_ip_field))?;
    Some(ip.to_string())
}

/// The account of `who` without a leading `invalid user `, `authenticating user ` or
/// `user `; `None` when nothing is left.
pub(super) fn account(who: &str) -> Option<String> {
    let who = ["invalid user ", "authenticating user ", "user "]
        .iter()
        .find_map(|p| who.strip_prefix(p))
        .unwrap_or(who);
    name(who)
}

/// A trimmed, non-empty owned string.
pub(super) fn name(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string)
}
