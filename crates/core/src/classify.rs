//! Log type classification (dashboard-contract §4–§6).
