//! sshd lines: logins, failures, bookkeeping and probes, read without the keyword rules.

use super::recognise;
use super::text_tests::check;
use crate::logs::classify::{extract_fields, LogType};

const S: LogType = LogType::LoginSuccess;
const F: LogType = LogType::LoginFailure;
const E: LogType = LogType::NetworkEvent;
const P: LogType = LogType::NetworkScan;

#[test]
fn sshd_lines_table() {
    let ip4 = Some("192.0.2.77");
    let ip6 = Some("2001:db8:4::1b");
    let cases: &[(&str, LogType, Option<&str>, Option<&str>)] = &[
        ("Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2", S, Some("deploy"), ip4),
        ("Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2: ED25519 SHA256:q2Xk0Jm4c1Zt", S, Some("deploy"), ip4),
        ("Accepted password for alice.smith from 2001:db8:4::1b port 40022 ssh2", S, Some("alice.smith"), ip6),
        ("Accepted keyboard-interactive/pam for ops@corp from 192.0.2.77 port 22 ssh2", S, Some("ops@corp"), ip4),
        ("Accepted gssapi-with-mic for svc-backup from 192.0.2.77 port 50100 ssh2", S, Some("svc-backup"), ip4),
        ("Failed password for root from 192.0.2.77 port 40001 ssh2", F, Some("root"), ip4),
        ("Failed password for invalid user oracle from 192.0.2.77 port 50122 ssh2", F, Some("oracle"), ip4),
        ("Failed publickey for git from 2001:db8:4::1b port 6022 ssh2: RSA SHA256:aa", F, Some("git"), ip6),
        ("Failed none for invalid user admin from 192.0.2.77 port 33210 ssh2", F, Some("admin"), ip4),
        ("Failed none for invalid user  from 192.0.2.77 port 33210 ssh2", F, None, ip4),
        ("Failed keyboard-interactive/pam for invalid user test from 192.0.2.77 port 1 ssh2", F, Some("test"), ip4),
        // A user literally named `invalid`, and one named `from`.
        ("Failed password for invalid from 192.0.2.77 port 2 ssh2", F, Some("invalid"), ip4),
        ("Failed password for invalid user from from 192.0.2.77 port 2 ssh2", F, Some("from"), ip4),
        ("Invalid user oracle from 192.0.2.77 port 22", F, Some("oracle"), ip4),
        ("Invalid user ubnt from 2001:db8:4::1b", F, Some("ubnt"), ip6),
        ("Invalid user  from 192.0.2.77 port 22", F, None, ip4),
        ("error: maximum authentication attempts exceeded for root from 192.0.2.77 port 22 ssh2 [preauth]", F, Some("root"), ip4),
        ("error: maximum authentication attempts exceeded for invalid user pi from 192.0.2.77 port 9 ssh2 [preauth]", F, Some("pi"), ip4),
        ("Connection closed by authenticating user root 192.0.2.77 port 41234 [preauth]", E, Some("root"), ip4),
        ("Connection closed by invalid user oracle 2001:db8:4::1b port 22 [preauth]", E, Some("oracle"), ip6),
        ("Connection closed by 192.0.2.77 port 41234 [preauth]", E, None, ip4),
        ("Disconnected from authenticating user root 192.0.2.77 port 41234 [preauth]", E, Some("root"), ip4),
        ("Disconnected from invalid user admin 192.0.2.77 port 5 [preauth]", E, Some("admin"), ip4),
        ("Disconnected from user deploy 192.0.2.77 port 51514", E, Some("deploy"), ip4),
        ("Disconnecting invalid user admin 192.0.2.77 port 5: Too many authentication failures [preauth]", E, Some("admin"), ip4),
        ("Disconnecting: Too many authentication failures [preauth]", E, None, None),
        ("Connection reset by 192.0.2.77 port 5 [preauth]", E, None, ip4),
        ("fatal: Timeout before authentication for 192.0.2.77 port 5", E, None, ip4),
        ("Received disconnect from 192.0.2.77 port 51514:11: Bye Bye [preauth]", E, None, ip4),
        ("Received disconnect from 2001:db8:4::1b port 22:11: disconnected by user", E, None, ip6),
        ("Connection from 192.0.2.77 port 51514 on 10.0.0.5 port 22 rdomain \"\"", E, None, ip4),
        ("Postponed keyboard-interactive for bob from 192.0.2.77 port 22 ssh2 [preauth]", E, Some("bob"), ip4),
        ("error: PAM: Authentication failure for root from 192.0.2.77", E, Some("root"), ip4),
        ("Starting session: shell on pts/0 for deploy from 192.0.2.77 port 51514 id 0", E, Some("deploy"), ip4),
        ("Close session: user deploy from 192.0.2.77 port 51514 id 0", E, Some("deploy"), ip4),
        ("Server listening on 0.0.0.0 port 22.", E, None, None),
        ("Did not receive identification string from 192.0.2.77 port 60112", P, None, ip4),
        ("Did not receive identification string from 192.0.2.77", P, None, ip4),
        ("banner exchange: Connection from 192.0.2.77 port 60112: invalid format", P, None, ip4),
        ("Unable to negotiate with 2001:db8:4::1b port 4022: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1", P, None, ip6),
        ("Protocol major versions differ for 192.0.2.77: SSH-2.0-OpenSSH_9.6 vs. SSH-1.5-Nmap", P, None, ip4),
        ("Bad protocol version identification 'GET / HTTP/1.1' from 192.0.2.77 port 5", P, None, ip4),
        ("kex_exchange_identification: Connection closed by remote host", P, None, None),
        ("error: kex_exchange_identification: read: Connection reset by peer", P, None, None),
    ];
    for &(line, t, user, ip) in cases {
        check(line, "sshd", t, user, ip);
        check(
            &format!("Dec  7 02:58:35 bastion-1 sshd[4121]: {line}"),
            "sshd",
            t,
            user,
            ip,
        );
    }
}

#[test]
fn the_auth_method_is_the_method() {
    let r = check(
        "Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2",
        "sshd",
        S,
        Some("deploy"),
        Some("192.0.2.77"),
    );
    assert_eq!(r.method.as_deref(), Some("publickey"));
}

#[test]
fn lines_that_only_look_like_sshd_are_not_sshd() {
    for line in [
        "Accepted connection for bob from 192.0.2.77",
        "Failed to start nginx.service for unit web from systemd",
        "Failed password",
        "Invalid user",
        "Connection established",
    ] {
        assert!(
            recognise(line, None).is_none_or(|r| r.parser != "sshd"),
            "{line}"
        );
    }
}

#[test]
fn an_accepted_login_is_never_a_scan_and_fields_reach_the_line() {
    for line in [
        "Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2",
        "sshd[1]: Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2",
        r#"{"level":"info","msg":"Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2","ip":"10.0.0.9"}"#,
        "level=info msg=\"Accepted publickey for deploy from 192.0.2.77 port 51514 ssh2\" user=other",
    ] {
        let f = extract_fields(line, None);
        assert_eq!(f.classify(), (S, None), "{line}");
        // The parser's values win over the line's keys.
        assert_eq!(f.user.as_deref(), Some("deploy"), "{line}");
        assert_eq!(f.ip.as_deref(), Some("192.0.2.77"), "{line}");
    }
    // The keyword rules alone would have called these scans (`port`) or events.
    let f = extract_fields("Invalid user oracle from 198.51.100.9 port 22", None);
    assert_eq!((f.classify().0, f.user.as_deref()), (F, Some("oracle")));
}
