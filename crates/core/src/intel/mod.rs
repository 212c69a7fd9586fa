//! Network intelligence for enrichment (docs/api.md §7): which addresses are enriched, network
//! flags from shipped lists, the threat score and the `forensics` object.
//!
//! The flow for one event, in the queue consumer:
//!
//! 1. [`classify_ip`] the `user_ip`: only [`IpClass::Public`] addresses are enriched; otherwise
//!    every enrichment field, the threat score included, is `null`.
//! 2. Location and ASN come from the request's `cf` object or the D1 IP-range table (the
//!    caller's job) as [`LocationInfo`] and [`AsnInfo`].
//! 3. [`NetworkLists::flags`] matches the address and ASN against the Tor, datacenter, VPN,
//!    proxy and relay lists, each held as sorted, merged address ranges or a sorted ASN array
//!    (a binary search per lookup, no heap object per entry). The shipped lists
//!    ([`NetworkLists::shipped`]) work offline; the hourly cron job replaces them from public
//!    sources ([`refresh`]: catalogue, caps, the memory budget, the decision what to store, and
//!    loading what is stored one list at a time).
//! 4. [`threat_score`] combines the flags, the event's severity and the recent
//!    [`ThreatHistory`] of the IP and actor.
//! 5. [`forensics`] builds `{network, location}`; [`enrich`] does steps 1, 3–5 at once and fills
//!    a [`crate::ingest::record::Enrichment`].
//!
//! Pure: no I/O, no clock, no `worker`.

mod address;
mod canonical;
mod compact;
mod defaults;
pub mod enrichment;
mod forensics;
pub mod ipdb;
mod lists;
pub mod places;
pub mod refresh;
mod score;

pub use address::{classify_ip, IpClass};
pub use forensics::{enrich, forensics, AsnInfo, LocationInfo, NetworkForensics};
pub use lists::{
    canonical_entries, Invalid, ListError, ListKind, ListParser, ListTexts, NetworkFlags,
    NetworkLists, ParsedList, MAX_REPORTED_ERRORS,
};
pub use score::{threat_score, ThreatHistory};
