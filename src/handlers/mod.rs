//! One module per resource: parse → call the core → respond.

pub mod alerts;
pub mod collect;
pub mod dashboard;
pub mod events;
pub mod health;
pub mod loki;
