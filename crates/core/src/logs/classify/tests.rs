//! Tests for §3.1 levels, §4 tokenisation and rules, §5 actions and §6 events.

use super::*;
use crate::ingest::catalogue::STANDARD_EVENTS;
use IamAction as A;
use LogType as T;

fn c(msg: &str) -> LogType {
    classify("", msg, None)
}

// ---- tokenisation -------------------------------------------------------------------------

#[test]
fn tokenize_splits_camel_case() {
    assert_eq!(tokenize("SetIamPolicy", ""), ["set", "iam", "policy"]);
    assert_eq!(
        tokenize("google.iam.admin.v1.CreateRole", ""),
        ["google", "iam", "admin", "v1", "create", "role"]
    );
}

#[test]
fn tokenize_joins_method_and_msg_and_splits_on_non_alphanumerics() {
    assert_eq!(
        tokenize("POST", "/api/v1/login?user=Bob_Smith, ok!"),
        ["post", "api", "v1", "login", "user", "bob", "smith", "ok"]
    );
    // The join is a separator: the method's last token and the message's first stay apart.
    assert_eq!(tokenize("get", "user"), ["get", "user"]);
}

#[test]
fn tokenize_only_splits_lower_to_upper() {
    assert_eq!(tokenize("", "HTTPServer"), ["httpserver"]);
    assert_eq!(tokenize("", "getIAMPolicy"), ["get", "iampolicy"]);
    assert_eq!(tokenize("", "OAuth2Login"), ["oauth2login"]);
    assert_eq!(tokenize("", "signIn"), ["sign", "in"]);
    assert_eq!(tokenize("", "ABC def"), ["abc", "def"]);
}

#[test]
fn tokenize_lowercases_and_handles_unicode_and_empty_input() {
    assert_eq!(tokenize("", "ÉCHEC Connexion"), ["échec", "connexion"]);
    assert_eq!(tokenize("", "naïveÉté"), ["naïve", "été"]);
    assert!(tokenize("", "").is_empty());
    assert!(tokenize("--", " ... ").is_empty());
}

// ---- rule 1: login_failure ----------------------------------------------------------------

#[test]
fn rule1_every_failure_word_with_every_auth_word() {
    for failure in ["failed", "wrong", "denied", "unauthorized", "invalid"] {
        for auth in ["login", "auth", "password", "signin"] {
            let msg = format!("{failure} {auth}");
            assert_eq!(c(&msg), T::LoginFailure, "{msg}");
            // Starts-with matching on both sides.
            let msg = format!("{auth}s were {failure}x");
            assert_eq!(c(&msg), T::LoginFailure, "{msg}");
        }
    }
}

#[test]
fn rule1_wins_over_every_later_rule() {
    assert_eq!(
        classify("SetIamPolicy", "failed login, port scan, role", Some(200)),
        T::LoginFailure
    );
    assert_eq!(c("Authentication denied"), T::LoginFailure);
    assert_eq!(
        classify("", "Failed password for root", Some(200)),
        T::LoginFailure
    );
}

#[test]
fn rule1_failure_word_alone_or_auth_word_alone_is_not_enough() {
    assert_ne!(c("access denied"), T::LoginFailure);
    assert_ne!(c("login"), T::LoginFailure);
    // `failure` does not start with `failed`; with `login` it is rule 2 (quirk 1).
    assert_eq!(c("login failure"), T::LoginSuccess);
}

// ---- rule 2: login_success ----------------------------------------------------------------

#[test]
fn rule2_each_unconditional_word() {
    assert_eq!(c("user login ok"), T::LoginSuccess);
    assert_eq!(c("auth ok"), T::LoginSuccess);
    assert_eq!(c("Authenticated bob"), T::LoginSuccess);
    assert_eq!(c("authorization granted"), T::LoginSuccess);
    assert_eq!(classify("", "logins", Some(404)), T::LoginSuccess);
}

#[test]
fn rule2_password_and_signin_need_a_2xx_status() {
    for word in ["password", "signin"] {
        for ok in [200, 204, 299] {
            assert_eq!(classify("", word, Some(ok)), T::LoginSuccess, "{word} {ok}");
        }
        for other in [199, 300, 302, 401, 500] {
            assert_eq!(
                classify("", word, Some(other)),
                T::NetworkEvent,
                "{word} {other}"
            );
        }
        assert_eq!(classify("", word, None), T::NetworkEvent, "{word}");
    }
    // The status alone, without the word, is nothing.
    assert_eq!(classify("GET", "/index.html", Some(200)), T::NetworkEvent);
}

#[test]
fn rule2_wins_over_rules_3_and_4() {
    assert_eq!(c("login with role admin after port scan"), T::LoginSuccess);
    assert_eq!(
        classify("", "password policy port", Some(200)),
        T::LoginSuccess
    );
    // Without the 2xx status the same line falls to rule 3.
    assert_eq!(classify("", "password policy port", None), T::IamChange);
}

// ---- rule 3: iam_change -------------------------------------------------------------------

#[test]
fn rule3_each_iam_word() {
    for word in ["iam", "policy", "role", "permission", "grant"] {
        assert_eq!(c(&format!("updated {word}")), T::IamChange, "{word}");
    }
    assert_eq!(c("Roles changed"), T::IamChange);
    assert_eq!(c("permissions granted"), T::IamChange);
    assert_eq!(c("Policies updated"), T::NetworkEvent); // `policies` ≠ `policy…`
}

#[test]
fn rule3_camel_case_method() {
    assert_eq!(classify("SetIamPolicy", "", None), T::IamChange);
    assert_eq!(classify("AttachRolePolicy", "", Some(200)), T::IamChange);
}

#[test]
fn rule3_wins_over_rule4() {
    assert_eq!(c("role assigned on port 8080"), T::IamChange);
}

// ---- rule 4: network_scan -----------------------------------------------------------------

#[test]
fn rule4_each_scan_word() {
    for word in ["scan", "probe", "discovery", "enumeration", "port"] {
        assert_eq!(
            c(&format!("{word} from 198.51.100.9")),
            T::NetworkScan,
            "{word}"
        );
    }
    assert_eq!(c("Scanning ports 1-1024"), T::NetworkScan);
    assert_eq!(c("probed"), T::NetworkScan);
    assert_eq!(c("connection on port 22"), T::NetworkScan);
}

// ---- rule 5 and starts-with matching ------------------------------------------------------

#[test]
fn rule5_default_is_network_event() {
    assert_eq!(c("connection closed"), T::NetworkEvent);
    assert_eq!(c(""), T::NetworkEvent);
    assert_eq!(classify("GET", "/healthz", Some(503)), T::NetworkEvent);
}

#[test]
fn keywords_inside_words_do_not_match() {
    for msg in [
        "weekly report generated",
        "export finished",
        "support ticket opened",
        "william logged out",
        "transport error",
        "passport renewed",
    ] {
        assert_eq!(c(msg), T::NetworkEvent, "{msg}");
    }
    // The same words next to a real keyword still classify by that keyword.
    assert_eq!(c("passport scanned"), T::NetworkScan);
    assert_eq!(c("unauthenticated request"), T::NetworkEvent); // not `auth…`
    assert_eq!(c("relogin"), T::NetworkEvent);
    assert_eq!(c("Unauthorized request"), T::NetworkEvent); // quirk 2, no auth word
}

// ---- exclusions ---------------------------------------------------------------------------

#[test]
fn every_excluded_token_never_matches() {
    for token in EXCLUDED_TOKENS {
        assert_eq!(c(token), T::NetworkEvent, "{token}");
        // Not even as the auth word of rule 1.
        assert_eq!(c(&format!("wrong {token}")), T::NetworkEvent, "{token}");
        // Case-insensitive, since tokens are lowercased first.
        assert_eq!(c(&token.to_uppercase()), T::NetworkEvent, "{token}");
    }
}

#[test]
fn exclusions_do_not_hide_other_words_on_the_line() {
    assert_eq!(c("portal login"), T::LoginSuccess);
    assert_eq!(c("author changed role"), T::IamChange);
    assert_eq!(c("Authority port scan"), T::NetworkScan);
    assert_eq!(c("customer portal: invalid password"), T::LoginFailure);
}

#[test]
fn exclusions_are_exact_tokens() {
    // Only the listed spellings are excluded; other `port…`/`auth…` words still match.
    assert_eq!(c("portability"), T::NetworkScan);
    assert_eq!(c("authored"), T::LoginSuccess);
    // camelCase splitting can expose an excluded token.
    assert_eq!(c("PortalAuthority"), T::NetworkEvent);
}

// ---- known quirks -------------------------------------------------------------------------

#[test]
fn a_server_error_is_never_login_success() {
    // A 5xx status, or an error word, stops rule 2; rules 3–5 still apply.
    assert_eq!(classify("POST", "/login", Some(503)), T::NetworkEvent);
    assert_eq!(classify("", "logins", Some(500)), T::NetworkEvent);
    assert_eq!(
        classify("", "auth backend timeout", Some(500)),
        T::NetworkEvent
    );
    for msg in [
        "auth backend error 503 upstream timed out",
        "login service unavailable",
        "AuthException: token store down",
        "authenticated session lookup timedout",
        "login errors: 3",
    ] {
        assert_eq!(c(msg), T::NetworkEvent, "{msg}");
    }
    assert_eq!(c("auth role sync error"), T::IamChange);
    assert_eq!(c("auth probe timeout on port 443"), T::NetworkScan);
    // Rule 1 comes first: a failure word and an auth word stay a failed login.
    assert_eq!(
        classify("", "login failed: upstream error", Some(502)),
        T::LoginFailure
    );
    // `timestamp`, `terror…` are not error words.
    assert_eq!(c("login ok timestamp=1"), T::LoginSuccess);
}

#[test]
fn quirk_failure_word_without_auth_word_falls_through() {
    // The keyword rules alone; sshd lines never reach them (the sshd parser, §7.5).
    assert_eq!(
        c("Invalid user oracle from 198.51.100.9 port 22"),
        T::NetworkScan
    );
    assert_eq!(c("Invalid user oracle from 198.51.100.9"), T::NetworkEvent);
    assert_eq!(c("permission denied"), T::IamChange);
}

// ---- §5 IAM actions -----------------------------------------------------------------------

#[test]
fn each_iam_stem() {
    let cases = [
        ("AttachUserPolicy", A::PolicyAttached),
        ("policy attached", A::PolicyAttached),
        ("role escalation", A::RoleEscalated),
        ("escalated role", A::RoleEscalated),
        ("role elevated", A::RoleEscalated),
        ("ElevateRole", A::RoleEscalated),
        ("CreateRole", A::ResourceCreated),
        ("role creation", A::ResourceCreated),
        ("DeleteRole", A::ResourceDeleted),
        ("role deleted", A::ResourceDeleted),
        ("SetIamPolicy", A::PermissionChanged),
        ("role updated", A::PermissionChanged),
    ];
    for (text, action) in cases {
        assert_eq!(iam_action(text, ""), action, "{text}");
        assert_eq!(iam_action("", text), action, "{text}");
        assert_eq!(
            classify_with_action("", text, None),
            (T::IamChange, Some(action)),
            "{text}"
        );
    }
}

#[test]
fn iam_stems_follow_table_order_not_line_order() {
    assert_eq!(
        iam_action("", "create role then attach policy"),
        A::PolicyAttached
    );
    assert_eq!(
        iam_action("", "delete old role, elevate new"),
        A::RoleEscalated
    );
    assert_eq!(
        iam_action("", "deleted and recreated, created"),
        A::ResourceCreated
    );
}

#[test]
fn iam_stems_must_start_a_token() {
    assert_eq!(iam_action("", "reattach role"), A::PermissionChanged);
    assert_eq!(iam_action("", "recreate role"), A::PermissionChanged);
    assert_eq!(iam_action("", "undelete role"), A::PermissionChanged);
}

#[test]
fn action_is_only_given_for_iam_change() {
    assert_eq!(
        classify_with_action("", "failed login, user created", None),
        (T::LoginFailure, None)
    );
    assert_eq!(
        classify_with_action("", "port scan, deleted", None),
        (T::NetworkScan, None)
    );
    assert_eq!(
        classify_with_action("DeleteBucket", "", None),
        (T::NetworkEvent, None)
    );
}

// ---- §6 events ----------------------------------------------------------------------------

#[test]
fn each_section6_table_row() {
    let rows = [
        ("auth.login_failed", T::LoginFailure, None),
        ("auth.login_success", T::LoginSuccess, None),
        ("authz.role_changed", T::IamChange, Some(A::RoleEscalated)),
        (
            "admin.privilege_escalation",
            T::IamChange,
            Some(A::RoleEscalated),
        ),
        (
            "authz.permission_granted",
            T::IamChange,
            Some(A::PolicyAttached),
        ),
        (
            "authz.permission_revoked",
            T::IamChange,
            Some(A::PermissionChanged),
        ),
        (
            "admin.user_suspended",
            T::IamChange,
            Some(A::PermissionChanged),
        ),
        (
            "admin.settings_changed",
            T::IamChange,
            Some(A::PermissionChanged),
        ),
        ("admin.user_created", T::IamChange, Some(A::ResourceCreated)),
        (
            "admin.api_key_created",
            T::IamChange,
            Some(A::ResourceCreated),
        ),
        ("admin.user_deleted", T::IamChange, Some(A::ResourceDeleted)),
        (
            "admin.api_key_revoked",
            T::IamChange,
            Some(A::ResourceDeleted),
        ),
    ];
    for (name, log_type, action) in rows {
        assert!(crate::ingest::catalogue::lookup(name).standard, "{name}");
        assert_eq!(classify_event(name, None), (log_type, action), "{name}");
        // A metadata message never changes a standard event's type.
        assert_eq!(
            classify_event(name, Some("port scan failed login")),
            (log_type, action),
            "{name}"
        );
    }
}

#[test]
fn every_other_standard_event_is_network_event() {
    let mapped: Vec<&str> = EVENT_TYPES.iter().map(|r| r.0).collect();
    let mut others = 0;
    for (name, _, _) in STANDARD_EVENTS {
        if mapped.contains(&name) {
            continue;
        }
        others += 1;
        assert_eq!(
            classify_event(name, Some("failed login")),
            (T::NetworkEvent, None),
            "{name}"
        );
    }
    assert_eq!(others, STANDARD_EVENTS.len() - EVENT_TYPES.len());
    // Including ones whose name would match §4 words if classified as custom.
    for name in [
        "auth.logout",
        "auth.password_reset",
        "auth.mfa_enabled",
        "authz.access_denied",
        "data.export",
        "security.ip_blocked",
        "security.brute_force_detected",
    ] {
        assert_eq!(
            classify_event(name, None),
            (T::NetworkEvent, None),
            "{name}"
        );
    }
}

#[test]
fn custom_events_use_section4_on_the_name() {
    assert_eq!(
        classify_event("billing.policy_attached", None),
        (T::IamChange, Some(A::PolicyAttached))
    );
    assert_eq!(
        classify_event("myapp.role_deleted", None),
        (T::IamChange, Some(A::ResourceDeleted))
    );
    assert_eq!(
        classify_event("sso.login_denied", None),
        (T::LoginFailure, None)
    );
    assert_eq!(
        classify_event("vpn.user_login", None),
        (T::LoginSuccess, None)
    );
    assert_eq!(
        classify_event("net.port_scan_detected", None),
        (T::NetworkScan, None)
    );
    assert_eq!(
        classify_event("billing.invoice_paid", None),
        (T::NetworkEvent, None)
    );
    // Non-standard names in standard categories are custom too.
    assert_eq!(
        classify_event("auth.signin_wrong_password", None),
        (T::LoginFailure, None)
    );
}

#[test]
fn custom_events_add_the_metadata_message() {
    assert_eq!(
        classify_event("app.event", Some("Failed signin for bob")),
        (T::LoginFailure, None)
    );
    assert_eq!(
        classify_event("app.event", Some("granted admin")),
        (T::IamChange, Some(A::PermissionChanged))
    );
    assert_eq!(
        classify_event("app.user_created", Some("role assigned")),
        (T::IamChange, Some(A::ResourceCreated))
    );
    // The message is appended after a space, so it cannot glue onto the name's last token.
    assert_eq!(
        classify_event("app.sign", Some("in")),
        (T::NetworkEvent, None)
    );
    assert_eq!(
        classify_event("app.event", Some("")),
        (T::NetworkEvent, None)
    );
}

#[test]
fn alias_spellings_map_like_their_canonical_event() {
    assert_eq!(
        classify_event("login.failed", None),
        (T::LoginFailure, None)
    );
    assert_eq!(classify_event("auth.failed", None), (T::LoginFailure, None));
    assert_eq!(
        classify_event("user.login.success", None),
        (T::LoginSuccess, None)
    );
}

// ---- §3.1 and §7.3 levels -----------------------------------------------------------------

#[test]
fn event_severities_map_to_levels() {
    use crate::ingest::catalogue::Severity as S;
    let expected = [
        (S::Critical, LogLevel::Critical),
        (S::High, LogLevel::Error),
        (S::Medium, LogLevel::Warning),
        (S::Warning, LogLevel::Warning),
        (S::Low, LogLevel::Info),
        (S::Info, LogLevel::Info),
    ];
    for (sev, level) in expected {
        assert_eq!(event_log_level(sev), level, "{sev:?}");
    }
    assert_eq!(expected.len(), S::ALL.len());
}

#[test]
fn level_normalisation_covers_every_alias() {
    let cases = [
        ("warn", LogLevel::Warning),
        ("err", LogLevel::Error),
        ("fatal", LogLevel::Critical),
        ("crit", LogLevel::Critical),
        ("emerg", LogLevel::Critical),
        ("alert", LogLevel::Critical),
        ("panic", LogLevel::Critical),
        ("trace", LogLevel::Debug),
        ("notice", LogLevel::Info),
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("warning", LogLevel::Warning),
        ("error", LogLevel::Error),
        ("critical", LogLevel::Critical),
    ];
    for (raw, level) in cases {
        assert_eq!(LogLevel::normalize(raw), level, "{raw}");
        assert_eq!(LogLevel::normalize(&raw.to_uppercase()), level, "{raw}");
        assert_eq!(LogLevel::normalize(&format!(" {raw}\n")), level, "{raw}");
    }
    assert_eq!(LogLevel::normalize("Warn"), LogLevel::Warning);
}

#[test]
fn unknown_levels_are_info() {
    for raw in [
        "",
        "  ",
        "verbose",
        "emergency",
        "severe",
        "warnings",
        "5",
        "e",
    ] {
        assert_eq!(LogLevel::normalize(raw), LogLevel::Info, "{raw:?}");
    }
}

#[test]
fn level_from_status_default_rule() {
    assert_eq!(LogLevel::from_status(None), LogLevel::Info);
    for (status, level) in [
        (100, LogLevel::Info),
        (200, LogLevel::Info),
        (399, LogLevel::Info),
        (400, LogLevel::Warning),
        (429, LogLevel::Warning),
        (499, LogLevel::Warning),
        (500, LogLevel::Error),
        (599, LogLevel::Error),
    ] {
        assert_eq!(LogLevel::from_status(Some(status)), level, "{status}");
    }
}

// ---- spellings ----------------------------------------------------------------------------

#[test]
fn spellings_match_serde_and_round_trip() {
    for t in LogType::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        assert_eq!(LogType::parse(t.as_str()), Some(t));
    }
    for a in IamAction::ALL {
        assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        assert_eq!(IamAction::parse(a.as_str()), Some(a));
    }
    for l in LogLevel::ALL {
        assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
        assert_eq!(LogLevel::parse(l.as_str()), Some(l));
    }
    assert_eq!(LogType::IamChange.as_str(), "iam_change");
    assert_eq!(IamAction::PolicyAttached.as_str(), "policy_attached");
    assert_eq!(LogType::parse("IAM_CHANGE"), None);
    assert_eq!(LogLevel::parse("warn"), None);
}

#[test]
fn log_type_order_is_rule_order() {
    let mut sorted = LogType::ALL;
    sorted.reverse();
    sorted.sort();
    assert_eq!(sorted, LogType::ALL);
    assert!(LogLevel::Debug < LogLevel::Critical);
}
