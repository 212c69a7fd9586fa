//! OpenSSH server messages (`sshd`, `sshd-session`): logins, failed and invalid users,
//! connection bookkeeping and pre-authentication probes, read without keywords so that `port`
//! or `invalid` never decide the type.

use super::text::{account, ip_of, word_after};
use super::Recognised;
use crate::logs::classify::LogType;

const SSHD: &str = "sshd";

/// SSH authentication methods that open `Accepted …`/`Failed …` lines.
const AUTH_METHODS: [&str; 6] = [
    "password",
    "publickey",
    "keyboard-interactive",
    "none",
    "hostbased",
    "gssapi",
];

/// Messages that mean a client never got as far as authenticating: scanners and probes. The
/// IP is the first word after the prefix, or after `from`.
const PROBES: [&str; 6] = [
    "Did not receive identification string from ",
    "banner exchange: Connection from ",
    "Unable to negotiate with ",
    "Protocol major versions differ for ",
    "Bad protocol version identification ",
    "kex_exchange_identification: ",
];

/// Connection bookkeeping with `[user] IP port N` after the prefix: not a second failure count.
const CLOSINGS: [&str; 5] = [
    "Connection closed by ",
    "Disconnected from ",
    "Connection reset by ",
    "Disconnecting ",
    "Timeout before authentication for ",
];

/// Recognises one sshd message (syslog prefix already removed).
pub(super) fn parse(msg: &str) -> Option<Recognised> {
    let msg = ["error: ", "fatal: "]
        .iter()
        .find_map(|p| msg.strip_prefix(p))
        .unwrap_or(msg);
    if let Some(rest) = msg.strip_prefix("Accepted ") {
        return login(rest, LogType::LoginSuccess);
    }
    if let Some(rest) = msg.strip_prefix("Failed ") {
        return login(rest, LogType::LoginFailure);
    }
    if let Some(rest) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        return user_from(rest, LogType::LoginFailure);
    }
    if let Some(rest) = msg.strip_prefix("Invalid user ") {
        return user_from(rest, LogType::LoginFailure);
    }
    if let Some(prefix) = PROBES.iter().find(|p| msg.starts_with(**p)) {
        let rest = &msg[prefix.len()..];
        let ip = rest.split_whitespace().next().and_then(ip_of);
        return Some(Recognised {
            ip: ip.or_else(|| word_after(rest, "from").and_then(ip_of)),
            ..Recognised::new(SSHD, LogType::NetworkScan)
        });
    }
    if let Some(prefix) = CLOSINGS.iter().find(|p| msg.starts_with(**p)) {
        return Some(closing(&msg[prefix.len()..]));
    }
    if let Some(rest) = msg.strip_prefix("Postponed ") {
        return login(rest, LogType::NetworkEvent);
    }
    if let Some(rest) = msg.strip_prefix("PAM: Authentication failure for ") {
        // Followed by its own `Failed keyboard-interactive/pam …` line, which counts.
        return user_from(rest, LogType::NetworkEvent);
    }
    let session = ["Starting session: ", "Close session: "];
    if session.iter().any(|p| msg.starts_with(p)) {
        return Some(Recognised {
            user: word_after(msg, "for")
                .or_else(|| word_after(msg, "user"))
                .and_then(account),
            ip: word_after(msg, "from").and_then(ip_of),
            ..Recognised::new(SSHD, LogType::NetworkEvent)
        });
    }
    let first_ip = ["Received disconnect from ", "Connection from "]
        .iter()
        .find_map(|p| msg.strip_prefix(p));
    let no_ip = ["Disconnecting", "Server listening on "];
    if first_ip.is_none() && !no_ip.iter().any(|p| msg.starts_with(p)) {
        return None;
    }
    Some(Recognised {
        ip: first_ip
            .and_then(|r| r.split_whitespace().next())
            .and_then(ip_of),
        ..Recognised::new(SSHD, LogType::NetworkEvent)
    })
}

/// `METHOD for [invalid user ]USER from IP port N …` after `Accepted`/`Failed`.
fn login(rest: &str, log_type: LogType) -> Option<Recognised> {
    let (method, rest) = rest.split_once(" for ")?;
    if !AUTH_METHODS.iter().any(|m| method.starts_with(m)) || method.contains(' ') {
        return None;
    }
    Some(Recognised {
        method: Some(method.to_string()),
        ..user_from(rest, log_type)?
    })
}

/// `[invalid user ]USER from IP …`; the user may be empty (`Invalid user  from …`). The last
/// ` from ` separates them (a user may be called `from`; the tail never holds one).
fn user_from(rest: &str, log_type: LogType) -> Option<Recognised> {
    let (who, tail) = rest.rsplit_once(" from ").or_else(|| {
        // An empty user: the separator's space is the one after `user`.
        rest.strip_prefix("from ").map(|tail| ("", tail))
    })?;
    Some(Recognised {
        user: account(who),
        ip: tail.split_whitespace().next().and_then(ip_of),
        ..Recognised::new(SSHD, log_type)
    })
}

/// `[authenticating |invalid ]user USER IP port N …` or `IP port N …`; anything else after
/// the prefix is still a `network_event`, without a user.
fn closing(rest: &str) -> Recognised {
    let head = rest.rsplit_once(" port ").map_or(rest, |(head, _)| head);
    let (who, ip) = head.rsplit_once(' ').unwrap_or(("", head));
    let ip = ip_of(ip);
    Recognised {
        user: ip.as_ref().and_then(|_| account(who)),
        ip,
        ..Recognised::new(SSHD, LogType::NetworkEvent)
    }
}
