//! Where edgesoc may send an alert: an `https` URL on the public internet. Plain `http` is
//! allowed only to a loopback address, and only when the deployment says so (local tests and
//! `scripts/dev`); private, link-local, metadata and other internal addresses are refused, in
//! any spelling the URL standard normalises (decimal, hex or octal IPv4, IPv4-mapped IPv6).
//! A host name is checked by name only: the Workers runtime does not resolve names for us, and
//! its outbound `fetch` cannot reach private networks (SECURITY.md).

use crate::intel::classify_ip;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Longest accepted URL.
pub const MAX_URL_CHARS: usize = 2048;

/// Host names (and suffixes) that name internal services, never a public receiver.
const INTERNAL_NAMES: [&str; 3] = ["localhost", "metadata.google.internal", "metadata"];
const INTERNAL_SUFFIXES: [&str; 8] = [
    ".localhost",
    ".local",
    ".internal",
    ".intranet",
    ".lan",
    ".home.arpa",
    ".corp",
    ".localdomain",
];

/// Why a URL is refused (the message of a 400 on the URL field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// The URL, parsed and normalised, if edgesoc may send to it. `allow_http_loopback` is the
/// deployment's `DELIVERY_ALLOW_HTTP_LOOPBACK` var.
pub fn check_url(raw: &str, allow_http_loopback: bool) -> Result<Url, Refused> {
    let refuse = |why: &str| Err(Refused(why.to_string()));
    if raw.chars().count() > MAX_URL_CHARS {
        return refuse("must be at most 2048 characters");
    }
    let url = Url::parse(raw.trim()).map_err(|e| Refused(format!("is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not carry credentials");
    }
    let loopback = match url.host() {
        None => return refuse("must name a host"),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                true
            } else if INTERNAL_NAMES.contains(&name.as_str())
                || INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s))
                || !name.contains('.')
            {
                return refuse("must be a public host name, not an internal one");
            } else {
                false
            }
        }
        Some(Host::Ipv4(ip)) => match check_ip(IpAddr::V4(ip)) {
            Address::Public => false,
            Address::Loopback => true,
            Address::Internal => {
                return refuse("must not be a private, link-local or reserved address")
            }
        },
        Some(Host::Ipv6(ip)) => match check_ip(IpAddr::V6(ip)) {
            Address::Public => false,
            Address::Loopback => true,
            Address::Internal => {
                return refuse("must not be a private, link-local or reserved address")
            }
        },
    };
    match (url.scheme(), loopback) {
        ("https", false) => Ok(url),
        ("http", true) if allow_http_loopback => Ok(url),
        (_, true) => refuse("must not be a loopback address"),
        ("http", false) => refuse("must use https"),
        _ => refuse("must be an https URL"),
    }
}

enum Address {
    Public,
    Loopback,
    Internal,
}

fn check_ip(ip: IpAddr) -> Address {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return Address::Loopback;
    }
    let embedded_v4 = match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6),
        IpAddr::V4(_) => None,
    };
    let internal = classify_ip(&ip.to_string()).public().is_none()
        || matches!(ip, IpAddr::V4(v4) if unrouted_v4(v4))
        || embedded_v4.is_some_and(|v4| {
            v4.is_loopback() || classify_ip(&v4.to_string()).public().is_none() || unrouted_v4(v4)
        });
    if internal {
        Address::Internal
    } else {
        Address::Public
    }
}

/// Benchmarking (198.18.0.0/15) and IETF protocol assignments (192.0.0.0/24): public for
/// enrichment, never a webhook receiver.
fn unrouted_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0 && c == 0)
}

/// The IPv4 address inside a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(v4(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(v4(s[1], s[2]))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_urls_are_accepted_and_normalised() {
        for ok in [
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "https://example.com:8443/hooks?x=1",
            "https://203.0.113.10/webhook",
            "https://[2606:4700::1111]/x",
            "HTTPS://Example.COM/a",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            check_url("HTTPS://Example.COM/a", false).unwrap().as_str(),
            "https://example.com/a"
        );
    }

    #[test]
    fn internal_addresses_are_refused_in_every_spelling() {
        for bad in [
            "https://10.0.0.1/",
            "https://192.168.1.1/",
            "https://172.16.0.5/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2002:a00:1::]/",
            "https://2852039166/",          // 169.254.169.254 in decimal
            "https://0xa9fea9fe/",          // and in hex
            "https://0251.0376.0251.0376/", // and in octal
            "https://198.18.0.1/",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://metadata/",
            "https://printer.local/",
            "https://db.internal/",
            "https://intranet/",
            "https://router.home.arpa/",
        ] {
            let err = check_url(bad, true).unwrap_err();
            assert!(!err.0.is_empty(), "{bad}");
        }
    }

    #[test]
    fn plain_http_and_other_schemes_are_refused_unless_loopback_is_allowed() {
        assert_eq!(
            check_url("http://example.com/", true).unwrap_err().0,
            "must use https"
        );
        for bad in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "gopher://x.y/",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
        for loop_url in [
            "http://127.0.0.1:9999/hook",
            "http://localhost:9999/",
            "http://[::1]:9999/",
            "http://2130706433:9999/",
        ] {
            assert!(
                check_url(loop_url, true).is_ok(),
                "{loop_url} with the development variable"
            );
            assert_eq!(
                check_url(loop_url, false).unwrap_err().0,
                "must not be a loopback address",
                "{loop_url} in production"
            );
        }
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2100)), false).is_err());
        assert!(check_url("not a url", false).is_err());
    }
}
