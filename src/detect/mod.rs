//! Detection in the Worker: it runs inside the queue consumer (`crate::ingest::consume`) and the
//! Loki push (`crate::logs`); here only its per-organisation settings ([`settings`]).

pub mod settings;
