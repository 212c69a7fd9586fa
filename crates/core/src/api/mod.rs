//! The HTTP contract every route shares: the one error type and its body ([`error`]), routing
//! ([`route`]), list parameters ([`params`]) and sealed cursors ([`cursor`]), organisation-scoped
//! SQL ([`sql`]), the headers and bodies of answers ([`respond`]), the list and single
//! envelopes ([`envelope`]) and the lists' exports ([`export`]).

pub mod cursor;
pub mod envelope;
pub mod error;
pub mod export;
pub mod params;
pub mod respond;
pub mod route;
pub mod sql;

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "list_plans_tests.rs"]
mod list_plans_tests;
