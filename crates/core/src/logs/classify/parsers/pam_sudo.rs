//! PAM module messages (`pam_unix(sshd:auth): …`), sudo's command and failure lines, and su's
//! switches: failed local and remote authentication and privilege escalation.

use super::text::{ip_of, name, word_after};
use super::Recognised;
use crate::logs::classify::{IamAction, LogType};

/// sudo's reasons that mean the user was refused.
const SUDO_REFUSALS: [&str; 3] = ["incorrect password", "NOT in sudoers", "not allowed"];

/// Recognises a PAM, sudo or su message (syslog prefix already removed).
pub(super) fn parse(msg: &str) -> Option<Recognised> {
    pam(msg).or_else(|| sudo(msg)).or_else(|| su(msg))
}

/// Services that log each failed attempt on a line of their own (sshd's `Failed password …`,
/// sudo's `N incorrect password attempts`, su's `FAILED SU`), which counts: their PAM module's
/// failure line is the same attempt told twice, and counting both would halve brute force's
/// thresholds for them.
const SELF_REPORTING: [&str; 4] = ["sshd", "sudo", "su", "su-l"];

/// `pam_MODULE(SERVICE:TYPE): TEXT` and `PAM N more authentication failures; …`.
fn pam(msg: &str) -> Option<Recognised> {
    if let Some(rest) = msg.strip_prefix("PAM ") {
        // The service's summary of failures it already logged one by one: an event.
        return rest
            .contains(" more authentication failure")
            .then(|| Recognised {
                log_type: LogType::NetworkEvent,
                ..pam_failure(rest)
            });
    }
    let (module, text) = msg.split_once("): ")?;
    let (module, service) = module.split_once('(')?;
    let (service, _kind) = service.split_once(':')?;
    if !module.starts_with("pam_") {
        return None;
    }
    if text.starts_with("authentication failure") {
        let failure = pam_failure(text);
        if SELF_REPORTING.contains(&service) {
            return Some(Recognised {
                log_type: LogType::NetworkEvent,
                ..failure
            });
        }
        return Some(failure);
    }
    if let Some(rest) = text.strip_prefix("session opened for user ") {
        return Some(session_opened(service, rest));
    }
    // Other PAM bookkeeping (`check pass; user unknown`, `session closed …`): an event, so the
    // fallback never reads `auth` in it as a login.
    Some(Recognised {
        user: kv(text, "user=").or_else(|| {
            let closed = text.strip_prefix("session closed for user ")?;
            closed.split_whitespace().next().and_then(name)
        }),
        ..Recognised::new("pam", LogType::NetworkEvent)
    })
}

/// A failure with `logname= uid= euid= tty= ruser= rhost= user=` pairs: the user is `ruser`
/// when given (the local user who tried, su/sudo), else `user`; `rhost` only when an IP.
fn pam_failure(text: &str) -> Recognised {
    Recognised {
        user: kv(text, "ruser=").or_else(|| kv(text, "user=")),
        ip: kv(text, "rhost=").as_deref().and_then(ip_of),
        ..Recognised::new("pam", LogType::LoginFailure)
    }
}

/// `TARGET(uid=N) by [ACTOR](uid=M)`: su sessions are escalations by ACTOR to TARGET; other
/// services' sessions (sshd, sudo, cron) are events of ACTOR, else TARGET.
fn session_opened(service: &str, rest: &str) -> Recognised {
    let before_uid = |s: &str| name(s.split('(').next().unwrap_or(""));
    let target = rest.split_whitespace().next().and_then(before_uid);
    let actor = word_after(rest, "by").and_then(before_uid);
    let base = match (service, &actor) {
        ("su" | "su-l", Some(_)) => Recognised::iam("su", IamAction::RoleEscalated),
        _ => Recognised::new("pam", LogType::NetworkEvent),
    };
    Recognised {
        user: actor.or(target.clone()),
        resource: target,
        ..base
    }
}

/// The value of the `key` pair (`user=alice`) among the words of `text`.
fn kv(text: &str, key: &str) -> Option<String> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(name)
}

/// `USER : [REASON ; ]TTY=… ; PWD=… ; USER=TARGET ; COMMAND=…`: a command run as another user is
/// an escalation (resource `TARGET: COMMAND`); a refusal is a failed login; other reasons are
/// events.
fn sudo(msg: &str) -> Option<Recognised> {
    let (who, rest) = msg.split_once(" : ")?;
    let (_, command) = rest.split_once("COMMAND=")?;
    if who.contains(char::is_whitespace) {
        return None;
    }
    let reason = rest.split(" ; ").next().filter(|r| !r.contains('='));
    let target = rest
        .split(" ; ")
        .find_map(|p| p.strip_prefix("USER="))
        .and_then(name);
    let resource = match (target, name(command)) {
        (Some(t), Some(c)) => Some(format!("{t}: {c}")),
        (_, c) => c,
    };
    let base = match reason {
        None => Recognised::iam("sudo", IamAction::RoleEscalated),
        Some(r) if SUDO_REFUSALS.iter().any(|x| r.contains(x)) => {
            Recognised::new("sudo", LogType::LoginFailure)
        }
        Some(_) => Recognised::new("sudo", LogType::NetworkEvent),
    };
    Some(Recognised {
        user: name(who),
        resource,
        ..base
    })
}

/// `(to TARGET) USER on TTY` (a switch) and `FAILED SU (to TARGET) USER on TTY` (a refusal).
fn su(msg: &str) -> Option<Recognised> {
    let (failed, rest) = match msg.strip_prefix("FAILED SU ") {
        Some(rest) => (true, rest),
        None => (false, msg),
    };
    let (target, rest) = rest.strip_prefix("(to ")?.split_once(") ")?;
    let user = rest.split_whitespace().next().and_then(name);
    let base = if failed {
        Recognised::new("su", LogType::LoginFailure)
    } else {
        Recognised::iam("su", IamAction::RoleEscalated)
    };
    Some(Recognised {
        user,
        resource: name(target),
        ..base
    })
}
