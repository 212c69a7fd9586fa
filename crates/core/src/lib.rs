//! edgesoc's pure domain core: everything that decides, with no `worker` dependency, so it is
//! tested natively (and in wasm) without the Workers runtime. It is grouped by capability, with
//! the same names as the Worker adapter's modules (`src/`), which only move bytes between
//! bindings and these functions. docs/ARCHITECTURE.md follows an event, a log line, an alert and
//! a purge through both.

pub mod access;
pub mod alerts;
pub mod analytics;
pub mod api;
pub mod detect;
pub mod faults;
pub mod ingest;
pub mod intel;
pub mod limits;
pub mod logs;
pub mod retention;
pub mod runtime;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod schema_tests;
pub mod shards;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod stored_once_tests;
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod testing;
pub mod text;
pub mod time;

pub use api::error::{ApiError, ErrorCode, FieldError};
