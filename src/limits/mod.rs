//! Limits in the Worker: the per-organisation limiter Durable Object ([`object`]), the client
//! that calls it ([`client`]), and the group commit through which every API request reaches it
//! ([`group`]).

mod client;
pub mod group;
mod object;

pub use client::LimiterClient;
pub use object::OrgLimiter;
