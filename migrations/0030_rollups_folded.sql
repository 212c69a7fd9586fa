-- log_source_hours (the narrow rollup the default dashboard ranks sources by, one row per hour
-- and address, whose index holds the count) summed from log_source_hourly once an hour has
-- closed, instead of at every catch-up: each catch-up that touched an address wrote two rows
-- for it; now an address is written once per hour it has items in
-- (crates/core/src/logs/rollups.rs `fold`; issue 18, BENCHMARKS.md "Cost per event").
--
-- `hour` is the first hour log_source_hours does not count: it counts exactly the items of the
-- hours before it, log_source_hourly every item, and the dashboard reads the hours from it on
-- from log_source_hourly (crates/core/src/analytics/dashboard/sql.rs). An installation whose
-- log_source_hours already counts everything caught up starts it past any stored item's hour
-- (items are stamped at most 10 minutes ahead), so no hour is counted twice; an empty one at 0.
CREATE TABLE rollup_fold (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  hour INTEGER NOT NULL
);
INSERT INTO rollup_fold (id, hour)
SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM log_source_hours)
  THEN (CAST(strftime('%s', 'now') AS INTEGER) / 3600 + 2) * 3600000 ELSE 0 END;
