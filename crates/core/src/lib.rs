//! edgesoc's pure domain core: everything that decides, with no `worker` dependency, so it is
//! tested natively (and in wasm) without the Workers runtime. The Worker adapter in the root
//! crate only moves bytes between bindings and these functions.

pub mod alerts;
pub mod cache;
pub mod catalogue;
pub mod classify;
pub mod dashboard;
pub mod detect;
pub mod enrichment;
pub mod error;
pub mod faults;
pub mod group;
pub mod history;
pub mod hold;
pub mod ids;
pub mod incidents;
pub mod ingest;
pub mod intel;
pub mod ipdb;
pub mod limiter;
pub mod loki;
pub mod message;
pub mod plan;
pub mod query;
pub mod record;
pub mod respond;
pub mod retention;
pub mod route;
pub mod time;
pub mod view;

pub use error::{ApiError, ErrorCode, FieldError};
