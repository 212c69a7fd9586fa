//! Ingestion in the Worker: the `POST /collect` handler ([`collect`]), the group commit that
//! shares one limiter call and one queue send among concurrent requests ([`commit`]), and the
//! queue consumer that enriches, stores and detects ([`consume`]), recording what it cannot
//! decode as an incident ([`incidents`]).

pub mod collect;

pub mod consume;
pub mod incidents;
