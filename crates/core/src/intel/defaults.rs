//! The shipped network lists: small, well-known, compiled in, so enrichment works offline. The
//! cron job may replace any of them with a fresh download (see [`super::ListTexts`]).
//!
//! Each entry names its holder. A match is evidence about the *network*, not about the user: a
//! hosting ASN also carries corporate egress and bots, and an ASN "commonly used by commercial VPN
//! providers" also hosts other customers.

/// Hosting / cloud / datacenter ASNs (flag `is_datacenter`). Holders as registered; cross-checked
/// against the X4BNet `lists_vpn` datacenter ASN input
/// (<https://github.com/X4BNet/lists_vpn/blob/main/input/datacenter/ASN.txt>, MIT).
pub(super) const DATACENTER_ASNS: &[(u32, &str)] = &[
    (16509, "Amazon (AMAZON-02, AWS)"),
    (14618, "Amazon (AMAZON-AES, AWS us-east-1)"),
    (15169, "Google"),
    (396982, "Google Cloud"),
    (8075, "Microsoft (Azure)"),
    (14061, "DigitalOcean"),
    (16276, "OVH"),
    (24940, "Hetzner Online"),
    (63949, "Akamai Connected Cloud (Linode)"),
    (20473, "Vultr (The Constant Company, formerly Choopa)"),
    (31898, "Oracle Cloud"),
    (45102, "Alibaba Cloud"),
    (37963, "Alibaba Cloud (China)"),
    (132203, "Tencent Cloud"),
    (45090, "Tencent Cloud (China)"),
    (136907, "Huawei Cloud"),
    (12876, "Scaleway (Online SAS)"),
    (51167, "Contabo"),
    (60781, "Leaseweb Netherlands"),
    (16265, "Leaseweb Network"),
    (28753, "Leaseweb Deutschland"),
    (30633, "Leaseweb USA"),
    (36351, "IBM Cloud (SoftLayer)"),
    (19994, "Rackspace"),
    (8560, "IONOS"),
    (197540, "netcup"),
    (47583, "Hostinger"),
    (36352, "ColoCrossing"),
    (8100, "QuadraNet"),
    (54290, "Hostwinds"),
];

/// Hosting/datacenter CIDRs (flag `is_datacenter`), for when the ASN is unknown. A handful of
/// large, long-stable allocations; the providers publish their full ranges (AWS
/// `ip-ranges.json`, Google `cloud.json`, DigitalOcean `geo/google.csv`).
pub(super) const DATACENTER_CIDRS: &[(&str, &str)] = &[
    ("34.64.0.0/10", "Google Cloud"),
    ("35.184.0.0/13", "Google Cloud"),
    ("104.131.0.0/16", "DigitalOcean"),
    ("2604:a880::/32", "DigitalOcean"),
    ("2a03:b0c0::/32", "DigitalOcean"),
    ("5.9.0.0/16", "Hetzner Online"),
    ("2a01:4f8::/32", "Hetzner Online"),
    ("91.121.0.0/16", "OVH"),
    ("2001:41d0::/32", "OVH"),
];

/// ASNs commonly used by commercial VPN providers (flag `is_vpn`). They are hosting networks
/// that VPN services rent servers in, or the VPN companies' own networks; they also host other
/// customers, so the flag means "likely VPN egress", not proof. From the X4BNet `lists_vpn` VPN
/// ASN input (<https://github.com/X4BNet/lists_vpn/blob/main/input/vpn/ASN.txt>, MIT).
pub(super) const VPN_ASNS: &[(u32, &str)] = &[
    (9009, "M247 (hosts many VPN providers' servers)"),
    (
        60068,
        "Datacamp Limited / CDN77 (hosts many VPN providers' servers)",
    ),
    (212238, "Datacamp Limited (VPN hosting)"),
    (207137, "Packethub S.A. (NordVPN)"),
    (136787, "Tefincom S.A. (NordVPN)"),
    (209854, "Surfshark"),
    (50525, "Privado VPN"),
];

/// VPN CIDRs (flag `is_vpn`): none shipped. Provider lists change often; the cron job loads
/// them (e.g. X4BNet `output/vpn/ipv4.txt`).
pub(super) const VPN_CIDRS: &[(&str, &str)] = &[];

/// Open/public proxy CIDRs (flag `is_proxy`): none shipped, because open proxies live for hours
/// and a compiled-in snapshot would only be wrong. Offline, `is_proxy` is therefore always
/// false; the cron job loads a list such as FireHOL's `firehol_proxies.netset`.
pub(super) const PROXY_CIDRS: &[(&str, &str)] = &[];

/// Tor exits (flag `is_tor`): an offline approximation by the address blocks of long-running,
/// publicly identified exit operators. Not every address in them is an exit at every moment,
/// and most exits are elsewhere: the cron job replaces this with the Tor Project's bulk exit list
/// (<https://check.torproject.org/torbulkexitlist>), which is the authoritative source.
pub(super) const TOR_EXITS: &[(&str, &str)] = &[
    (
        "185.220.100.0/22",
        "Zwiebelfreunde e.V. / Artikel 10 (torservers.net family)",
    ),
    ("23.129.64.0/24", "Emerald Onion, Seattle"),
    ("171.25.193.0/24", "DFRI, Sweden"),
    ("199.249.230.0/24", "Quintex Alliance Consulting"),
    ("109.70.100.0/24", "Foundation for Applied Privacy, Vienna"),
];

/// Relay networks (flag `is_relay`, which only downgrades impossible travel): satellite ISPs,
/// whose users exit far from where they are. Apple iCloud Private Relay is not ASN-specific (its
/// egress runs through Akamai, Cloudflare and Fastly, which also carry ordinary traffic), so it
/// is matched by CIDR once the cron job loads Apple's list
/// (<https://mask-api.icloud.com/egress-ip-ranges.csv>).
pub(super) const RELAY_ASNS: &[(u32, &str)] = &[
    (14593, "Starlink (SpaceX Services)"),
    (7155, "Viasat"),
    (6621, "HughesNet (Hughes Network Systems)"),
];

/// Relay CIDRs: none shipped (Apple's egress list has tens of thousands of rows and changes).
pub(super) const RELAY_CIDRS: &[(&str, &str)] = &[];
