-- When detection stored an alert (Unix ms), beside `created_at`, the time of the activity that
-- raised it (its first trigger's). The two differ for a late trigger, a log line pushed hours
-- after it was written: the dashboard shows an alert whose activity or whose raising falls in
-- its window (crates/core/src/analytics/dashboard/sql.rs), so a backfill's alerts reach the
-- recent views; `metadata.raised_at` keeps the same instant for the API (docs/api.md §8.1).
ALTER TABLE alerts ADD COLUMN raised_at INTEGER;
UPDATE alerts SET raised_at = created_at;
CREATE INDEX alerts_org_raised ON alerts(org_id, raised_at);
