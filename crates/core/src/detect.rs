//! Behavioural detection rules (dashboard-contract §10).
