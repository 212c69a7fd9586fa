//! `GET /ui/mock-data`: the SOC dashboard's data (docs/dashboard.md §1–§3, §9).
//!
//! The adapter is a straight pipe through this module:
//! 1. [`DashboardQuery::parse`]: the query string, clamped and validated (§1), or 400;
//! 2. [`Window::new`]: the hours actually served, bounded by the plan's retention;
//! 3. [`statements`]: a fixed list of [`STATEMENT_COUNT`] org- and window-scoped reads, run as
//!    **one** D1 batch (one round trip). Aggregates come from the rollups of
//!    migrations/0007_log_rollups.sql (kept by crates/core/src/logs/rollups.rs); only the logs, anomalies and IAM changes read raw rows,
//!    each with its `LIMIT`;
//! 4. [`assemble`]: the batch's rows into the §3 response.
//!
//! # The window
//!
//! The served window is `[start, end]` with `end` = now (to the second) and
//! `start = floor_hour(end) − hours`, i.e. **`timeRange.start` is aligned to the hour**. The
//! timeline's `hours + 1` buckets (§3.8) are then the whole hours from `start` plus the current,
//! partial hour, and every hourly rollup row is either wholly inside the window or wholly
//! outside, so no edge hour needs counting from raw rows. The only raw correction is for items
//! stamped after `end` in the current hour (Loki accepts entries up to 10 min in the future):
//! they are subtracted, so each aggregate counts exactly the items in `[start, end]`, the same
//! items the logs list reads.
//!
//! Because the first bucket is whole, the window is up to an hour longer than `hours`; to stay
//! inside retention (§1, "The window"), `hours` is clamped to the whole
//! hours between the retention cutoff and `floor_hour(end)`: 167 on Free (7 days) unless the
//! request lands exactly on the hour.
//!
//! Pure: no I/O, no clock (the adapter passes `now`).

mod assemble;
mod params;
mod sql;

pub use assemble::{assemble, AssembleError};
pub use params::{AnomalyStatus, DashboardQuery, Range, Window, MAX_RANGE_HOURS};
pub use sql::{statements, IAM, LOGS, SOURCES, STATEMENT_COUNT, TOP_CUT};

#[cfg(test)]
mod tests;
