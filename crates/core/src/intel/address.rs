//! Is `user_ip` an address worth enriching? (docs/api.md §7.2, step 1.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What `user_ip` is, for enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpClass {
    /// Not an IP address at all (`"unknown"`, `""`, `"1.2.3.4:80"`, `"[::1]"`, `" 1.2.3.4"`).
    Invalid,
    /// A real address that cannot be an end user on the internet: private, loopback, link-local,
    /// CGNAT, unspecified, multicast, reserved, IPv6 ULA, or an IPv4-mapped form of one of them.
    NonPublic,
    /// A public address, in canonical form: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
    /// returned as the IPv4 address, so list matching sees one spelling.
    Public(IpAddr),
}

impl IpClass {
    /// The address when it is public; enrichment and the threat score exist only then.
    pub fn public(self) -> Option<IpAddr> {
        match self {
            IpClass::Public(ip) => Some(ip),
            IpClass::Invalid | IpClass::NonPublic => None,
        }
    }
}

/// Classifies `user_ip` exactly as sent: no trimming, no brackets, no ports, no zone ids (the
/// same strictness as the detection rules' `DetectionEvent::ip`).
///
/// Non-public ranges:
///
/// | IPv4 | |
/// |---|---|
/// | `0.0.0.0/8` | "this network", including unspecified `0.0.0.0` |
/// | `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` | private (RFC 1918) |
/// | `100.64.0.0/10` | CGNAT shared space (RFC 6598) |
/// | `127.0.0.0/8` | loopback |
/// | `169.254.0.0/16` | link-local |
/// | `224.0.0.0/4` | multicast |
/// | `240.0.0.0/4` | reserved, including broadcast `255.255.255.255` |
///
/// | IPv6 | |
/// |---|---|
/// | `::`, `::1` | unspecified, loopback |
/// | `::ffff:0:0/96` | IPv4-mapped: classified as the embedded IPv4 address |
/// | `fc00::/7` | unique local (ULA) |
/// | `fe80::/10` | link-local |
/// | `fec0::/10` | deprecated site-local |
/// | `ff00::/8` | multicast |
///
/// Everything else is public, deliberately including the documentation ranges (`192.0.2.0/24`,
/// `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`): the product's examples use them and
/// they must enrich like real addresses.
pub fn classify_ip(ip: &str) -> IpClass {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return IpClass::Invalid;
    };
    let addr = addr.to_canonical();
    let public = match addr {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    };
    if public {
        IpClass::Public(addr)
    } else {
        IpClass::NonPublic
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let this_network = a == 0;
    let cgnat = a == 100 && (64..=127).contains(&b);
    let reserved = a >= 240;
    !(this_network
        || ip.is_private()
        || cgnat
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || reserved)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // IPv4-mapped addresses were canonicalised to IPv4 before this point.
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let site_local = first & 0xffc0 == 0xfec0;
    !(ip.is_unspecified()
        || ip.is_loopback()
        || unique_local
        || link_local
        || site_local
        || ip.is_multicast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        matches!(classify_ip(s), IpClass::Public(_))
    }

    fn non_public(s: &str) -> bool {
        classify_ip(s) == IpClass::NonPublic
    }

    #[test]
    fn invalid_inputs() {
        for s in [
            "",
            "unknown",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2.3.4:80",
            "[2001:db8::1]",
            "fe80::1%eth0",
            "2001:db8::g",
            "1.2.3.0/24",
        ] {
            assert_eq!(classify_ip(s), IpClass::Invalid, "{s:?}");
        }
    }

    #[test]
    fn private_loopback_link_local_unspecified_multicast_reserved() {
        for s in [
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.0",
            "192.168.255.255",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.0.0",
            "169.254.255.255",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.0",
            "255.255.255.255",
        ] {
            assert!(non_public(s), "{s}");
        }
        // Just outside the private and link-local blocks.
        for s in [
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "1.0.0.0",
            "223.255.255.255",
        ] {
            assert!(public(s), "{s}");
        }
    }

    #[test]
    fn cgnat_edges() {
        assert!(public("100.63.255.255"));
        assert!(non_public("100.64.0.0"));
        assert!(non_public("100.100.100.100"));
        assert!(non_public("100.127.255.255"));
        assert!(public("100.128.0.0"));
    }

    #[test]
    fn documentation_ranges_are_public() {
        for s in ["192.0.2.1", "198.51.100.7", "203.0.113.50", "2001:db8::1"] {
            assert!(public(s), "{s}");
        }
    }

    #[test]
    fn ipv6_categories() {
        for s in [
            "::",
            "::1",
            "fc00::",
            "fd12:3456:789a::1",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1",
            "febf:ffff::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(non_public(s), "{s}");
        }
        for s in [
            "fbff:ffff::1",
            "2606:4700:4700::1111",
            "2a01:4f8::1",
            "fe00::1",
        ] {
            assert!(public(s), "{s}");
        }
    }

    #[test]
    fn ipv4_mapped_follows_the_embedded_address() {
        for s in [
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:100.64.0.1",
            "::ffff:169.254.1.1",
            "::ffff:192.168.1.1",
        ] {
            assert!(non_public(s), "{s}");
        }
        assert_eq!(
            classify_ip("::ffff:203.0.113.5"),
            IpClass::Public("203.0.113.5".parse().unwrap())
        );
    }

    #[test]
    fn public_carries_the_address() {
        let c = classify_ip("2001:db8::1");
        assert_eq!(c.public(), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(classify_ip("10.0.0.1").public(), None);
        assert_eq!(classify_ip("x").public(), None);
    }
}
