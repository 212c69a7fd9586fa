//! Ingestion in the Worker: the `POST /collect` handler and the webhooks that feed it
//! ([`collect`]), the agents' heartbeats ([`agents`]) and the queue consumer ([`consume`]), all
//! thin over the core's `edgesoc_core::ingest`.

pub mod agents;
pub mod collect;
pub mod consume;

/// The producer binding of accepted events (and the consumer's own queue, `wrangler.toml`).
pub const QUEUE: &str = "DETECT_QUEUE";
