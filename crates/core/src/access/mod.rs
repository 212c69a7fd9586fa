//! Who is calling: keys, their hashes and the identifiers they resolve to ([`ids`]), and the
//! isolate's short-lived cache of key lookups ([`cache`]), and the organisation a request acts for
//! ([`tenant`]).

pub mod cache;
pub mod ids;
pub mod tenant;
