//! Ingestion in the Worker: the `POST /collect` handler ([`collect`]) and the queue consumer
//! ([`consume`]), both thin over the core's `edgesoc_core::ingest`.

pub mod collect;
pub mod consume;
