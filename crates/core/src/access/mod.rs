//! Who is calling: keys, their hashes and the identifiers they resolve to ([`ids`]), and the
//! isolate's short-lived cache of key lookups ([`cache`]), the organisation a request acts for
//! ([`tenant`]), what a key may do ([`scope`]), the key API's rules and statements ([`keys`]), the browser
//! origins an organisation allows ([`origins`]), dashboard sessions ([`session`]) and Cloudflare Access sign-in
//! ([`cf_access`]), and the hash-chained log of every change made through the API ([`audit`]).

pub mod audit;
pub mod cache;
pub mod cf_access;
pub mod ids;
pub mod keys;
pub mod origins;
pub mod scope;
pub mod session;
pub mod tenant;
