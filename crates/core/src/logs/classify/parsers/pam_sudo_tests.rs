//! PAM, sudo and su lines.

use super::recognise;
use super::text_tests::check;
use crate::logs::classify::{IamAction, LogType};

const F: LogType = LogType::LoginFailure;
const E: LogType = LogType::NetworkEvent;
const I: LogType = LogType::IamChange;

/// Line, parser, type, user, IP.
type Case<'a> = (&'a str, &'a str, LogType, Option<&'a str>, Option<&'a str>);

#[test]
fn pam_sudo_su_table() {
    let ip = Some("203.0.113.50");
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // sshd, sudo and su log each failure on a line of their own (which counts): their PAM
        // lines are the same attempts, events, with who and from where still read.
        ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50  user=root", "pam", E, Some("root"), ip),
        ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50", "pam", E, None, ip),
        ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=scanner.example.net  user=admin", "pam", E, Some("admin"), None),
        ("pam_sss(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::50 user=j.doe@corp.example", "pam", E, Some("j.doe@corp.example"), Some("2001:db8::50")),
        ("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50  user=root", "pam", E, Some("root"), ip),
        ("PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.50", "pam", E, None, ip),
        ("pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice", "pam", E, Some("alice"), None),
        ("pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/1 ruser=alice rhost=  user=root", "pam", E, Some("alice"), None),
        // Services that log nothing else: their PAM line is the failure. The user who tried
        // (ruser) when given, not the target account.
        ("pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=tty1 ruser= rhost=  user=root", "pam", F, Some("root"), None),
        ("pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=anonymous rhost=203.0.113.50", "pam", F, Some("anonymous"), ip),
        ("pam_sss(cockpit:auth): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost=203.0.113.50 user=ops", "pam", F, Some("ops"), ip),
        ("pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)", "pam", E, Some("deploy"), None),
        ("pam_unix(sshd:session): session closed for user deploy", "pam", E, Some("deploy"), None),
        ("pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)", "pam", E, Some("root"), None),
        ("pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", "pam", E, Some("alice"), None),
        ("pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)", "su", I, Some("alice"), None),
        ("pam_unix(su-l:session): session opened for user postgres(uid=113) by bob(uid=1001)", "su", I, Some("bob"), None),
        ("pam_unix(sshd:auth): check pass; user unknown", "pam", E, None, None),
        ("alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", "sudo", I, Some("alice"), None),
        ("sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", "sudo", I, Some("alice"), None),
        ("svc.deploy : PWD=/srv ; USER=www-data ; COMMAND=/bin/sh -c echo a ; echo b", "sudo", I, Some("svc.deploy"), None),
        ("alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash", "sudo", F, Some("alice"), None),
        ("bob : user NOT in sudoers ; TTY=pts/2 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/cat /etc/shadow", "sudo", F, Some("bob"), None),
        ("bob : command not allowed ; TTY=pts/2 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/vim", "sudo", F, Some("bob"), None),
        ("carol : a password is required ; TTY=unknown ; PWD=/ ; USER=root ; COMMAND=/bin/true", "sudo", E, Some("carol"), None),
        ("su: (to root) alice on pts/1", "su", I, Some("alice"), None),
        ("(to postgres) bob on pts/3", "su", I, Some("bob"), None),
        ("FAILED SU (to root) alice on pts/1", "su", F, Some("alice"), None),
    ];
    for &(line, parser, t, user, ip) in cases {
        check(line, parser, t, user, ip);
        let tag = if line.starts_with("su") && !line.starts_with("svc") {
            ""
        } else {
            "prog[77]: "
        };
        let syslog = format!("Dec  7 02:58:35 web-1 {tag}{line}");
        check(&syslog, parser, t, user, ip);
    }
}

#[test]
fn escalations_name_the_target_and_the_command() {
    let sudo = "sudo[901]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx";
    let r = check(sudo, "sudo", I, Some("alice"), None);
    assert_eq!(r.action, Some(IamAction::RoleEscalated));
    assert_eq!(
        r.resource.as_deref(),
        Some("root: /usr/bin/systemctl restart nginx")
    );
    let r = check(
        "su[55]: (to root) alice on pts/1",
        "su",
        I,
        Some("alice"),
        None,
    );
    assert_eq!(
        (r.action, r.resource.as_deref()),
        (Some(IamAction::RoleEscalated), Some("root"))
    );
    let r = check(
        "pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)",
        "su",
        I,
        Some("alice"),
        None,
    );
    assert_eq!(r.resource.as_deref(), Some("root"));
    // A sudo line without a target user still names the command.
    let r = check("dave : COMMAND=/bin/ls", "sudo", I, Some("dave"), None);
    assert_eq!(r.resource.as_deref(), Some("/bin/ls"));
}

#[test]
fn lookalikes_are_not_sudo_su_or_pam() {
    for line in [
        "two words : COMMAND=/bin/ls",
        "ratio : 3 ; nothing else",
        "pam(sshd:auth): authentication failure",
        "something (to root) else",
        "PAM module loaded",
    ] {
        assert_eq!(recognise(line, None), None, "{line}");
    }
}
