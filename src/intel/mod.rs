//! Network intelligence in the Worker: the network lists in force, read from D1 and refreshed
//! from their public sources by the hourly cron (`crates/core/src/intel/` decides).

pub mod lists;
