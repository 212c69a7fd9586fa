//! Tests for the shared text helpers: the syslog prefix stripper, word and IP helpers; and the
//! `check` helper the other parser tests use.

use super::text::{account, ip_of, strip_syslog, word_after};
use super::{recognise, Recognised};
use crate::logs::classify::LogType;

/// Asserts what the parsers make of a text line (parser, type, user, IP) and returns it.
pub(super) fn check(
    line: &str,
    parser: &str,
    log_type: LogType,
    user: Option<&str>,
    ip: Option<&str>,
) -> Recognised {
    let r = recognise(line, None).unwrap_or_else(|| panic!("not recognised: {line}"));
    assert_eq!(
        (r.parser, r.log_type, r.user.as_deref(), r.ip.as_deref()),
        (parser, log_type, user, ip),
        "{line}"
    );
    assert_eq!(r.action.is_some(), log_type == LogType::IamChange, "{line}");
    r
}

#[test]
fn syslog_prefixes_are_stripped() {
    let msg = "Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2";
    for line in [
        msg.to_string(),
        format!("sshd[1234]: {msg}"),
        format!("sshd: {msg}"),
        format!("sshd-session[88]: {msg}"),
        format!("Dec  7 02:58:35 bastion-1 sshd[1234]: {msg}"),
        format!("Dec 17 02:58:35 bastion-1 sshd[1234]: {msg}"),
        format!("Dec  7 02:58:35 sshd[1234]: {msg}"),
        format!("<38>Dec  7 02:58:35 bastion-1 sshd[1234]: {msg}"),
        format!("<38>1 2026-12-07T02:58:35.120Z bastion-1 sshd 1234 - - {msg}"),
        format!("<38>1 2026-12-07T02:58:35Z bastion-1 sshd 1234 ID47 [meta x=\"a]b\" y=\"q\\\"\"][o k=\"v\"] {msg}"),
        format!("<38>1 2026-12-07T02:58:35Z bastion-1 sshd 1234 - - \u{feff}{msg}"),
        format!("2026-12-07T02:58:35.120+00:00 bastion-1 sshd[1234]: {msg}"),
        format!("2026-12-07T02:58:35Z sshd[1234]: {msg}"),
        format!("2026-12-07 02:58:35 bastion-1 sshd[1234]: {msg}"),
        format!("  {msg}\n"),
    ] {
        assert_eq!(strip_syslog(&line), msg, "{line:?}");
    }
}

#[test]
fn non_syslog_lines_are_left_alone() {
    for line in [
        "192.0.2.8 - - [30/Jan/2026:09:15:00 +0000] \"GET / HTTP/1.1\" 200 2",
        "2001:db8:: - - [30/Jan/2026:09:15:00 +0000] \"GET / HTTP/1.1\" 200 2",
        "pam_unix(sshd:auth): authentication failure; user=root",
        "Decimal 7 things happened",
        "<abc>not a priority",
        "(to root) alice on pts/1",
        "",
    ] {
        assert_eq!(strip_syslog(line), line, "{line:?}");
    }
    // A timestamp and a host without a tag: the rest is the message.
    assert_eq!(strip_syslog("Dec  7 02:58:35 web-1 hello"), "hello");
    // A capitalised word with a colon is a message, not a tag (unless it has a pid).
    assert_eq!(strip_syslog("Disconnecting: bye"), "Disconnecting: bye");
    assert_eq!(strip_syslog("CRON[77]: (root) CMD x"), "(root) CMD x");
    // Broken structured data: the version's fields are kept as the message.
    assert_eq!(strip_syslog("<38>1 a b c d e [x"), "a b c d e [x");
}

#[test]
fn helpers() {
    let s = "Failed password for root from 2001:db8::7 port 22 ssh2";
    assert_eq!(word_after(s, "from"), Some("2001:db8::7"));
    assert_eq!(word_after(s, "port"), Some("22"));
    assert_eq!(word_after(s, "ssh2"), None);
    assert_eq!(word_after(s, "nope"), None);
    assert_eq!(ip_of("198.51.100.9:"), Some("198.51.100.9".into()));
    assert_eq!(ip_of("::ffff:198.51.100.9"), Some("198.51.100.9".into()));
    assert_eq!(ip_of("[2001:db8::1]:22"), Some("2001:db8::1".into()));
    assert_eq!(ip_of("host.example.com"), None);
    assert_eq!(account("invalid user oracle"), Some("oracle".into()));
    assert_eq!(account("authenticating user root"), Some("root".into()));
    assert_eq!(account("user bob"), Some("bob".into()));
    assert_eq!(account("invalid user "), None);
    assert_eq!(account("user"), Some("user".into()));
    assert_eq!(account(" "), None);
}
