-- Every rollup of one organisation (?1) recomputed from its stored items (the view `items`, raw
-- lines and events, migrations/0019_events_stored_once.sql), and `event_counts` from its events:
-- what the rollups caught up from the items (crates/core/src/logs/rollups.rs) and the counts kept
-- at ingestion (crates/core/src/ingest/record.rs) must equal, bucket for bucket, until the purge
-- removes whole buckets (`log_source_hours`: the items of the hours before `rollup_fold.hour`,
-- migrations/0030_rollups_folded.sql). Used by the tests that compare the two, and by
-- benchmarks and tests that seed rows directly; the last statement marks the organisation's
-- items counted, so no catch-up counts them again (migrations/0020_rollups_caught_up.sql).
-- Statements end with ";" and a new line.
DELETE FROM log_hourly WHERE org_id = ?1;
INSERT INTO log_hourly (org_id, hour, service, namespace, type, n, critical, warnings, hostile)
SELECT org_id, hour, service, namespace, type, count(*), sum(level IN ('critical', 'error')),
       sum(level = 'warning'), sum(hostile) FROM items WHERE org_id = ?1
GROUP BY org_id, hour, service, namespace, type;
DELETE FROM log_source_hourly WHERE org_id = ?1;
INSERT INTO log_source_hourly (org_id, hour, service, namespace, source, n)
SELECT org_id, hour, service, namespace, coalesce(source_ip, 'unknown'), count(*) FROM items WHERE org_id = ?1
GROUP BY org_id, hour, service, namespace, coalesce(source_ip, 'unknown');
DELETE FROM log_source_hours WHERE org_id = ?1;
INSERT INTO log_source_hours (org_id, hour, source, n)
SELECT org_id, hour, coalesce(source_ip, 'unknown'), count(*) FROM items
WHERE org_id = ?1 AND hour < (SELECT hour FROM rollup_fold) GROUP BY org_id, hour, coalesce(source_ip, 'unknown');
DELETE FROM log_source_daily WHERE org_id = ?1;
INSERT INTO log_source_daily (org_id, day, service, namespace, source, n)
SELECT org_id, hour - hour % 86400000, service, namespace, coalesce(source_ip, 'unknown'), count(*) FROM items
WHERE org_id = ?1 GROUP BY org_id, hour - hour % 86400000, service, namespace, coalesce(source_ip, 'unknown');
DELETE FROM log_attack_hourly WHERE org_id = ?1;
INSERT INTO log_attack_hourly (org_id, source_ip, hour, service, namespace, n, last_ts, geo, geo_ts)
SELECT org_id, source_ip, hour, service, namespace, count(*), max(ts),
       max(CASE WHEN rn = 1 THEN geo END), max(CASE WHEN rn = 1 THEN geo_ts END)
FROM (SELECT org_id, source_ip, service, namespace, hour, ts, geo,
             CASE WHEN geo IS NULL THEN NULL ELSE ts END AS geo_ts,
             row_number() OVER (PARTITION BY org_id, source_ip, hour, service, namespace
                                ORDER BY geo IS NULL, ts DESC, id DESC) AS rn
      FROM items WHERE org_id = ?1 AND hostile = 1)
GROUP BY org_id, source_ip, hour, service, namespace;
DELETE FROM log_attack_hours WHERE org_id = ?1;
INSERT INTO log_attack_hours (org_id, source_ip, hour, n, last_ts)
SELECT org_id, source_ip, hour, count(*), max(ts) FROM items WHERE org_id = ?1 AND hostile = 1
GROUP BY org_id, source_ip, hour;
DELETE FROM log_attack_daily WHERE org_id = ?1;
INSERT INTO log_attack_daily (org_id, day, service, namespace, source_ip, n)
SELECT org_id, hour - hour % 86400000, service, namespace, source_ip, count(*) FROM items
WHERE org_id = ?1 AND hostile = 1 GROUP BY org_id, hour - hour % 86400000, service, namespace, source_ip;
DELETE FROM log_attackers WHERE org_id = ?1;
INSERT INTO log_attackers (org_id, source_ip, service, namespace, last_ts)
SELECT org_id, source_ip, service, namespace, max(ts) FROM items WHERE org_id = ?1 AND hostile = 1
GROUP BY org_id, source_ip, service, namespace;
DELETE FROM log_attacker_ips WHERE org_id = ?1;
INSERT INTO log_attacker_ips (org_id, source_ip, last_ts)
SELECT org_id, source_ip, max(ts) FROM items WHERE org_id = ?1 AND hostile = 1
GROUP BY org_id, source_ip;
DELETE FROM event_counts WHERE org_id = ?1;
INSERT INTO event_counts (org_id, hour, event_name, severity, n)
SELECT org_id, created_at / 3600000, event_name, severity, count(*) FROM events WHERE org_id = ?1
GROUP BY org_id, created_at / 3600000, event_name, severity;
INSERT INTO rollup_marks (org_id, upto, at)
SELECT ?1, max(coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0)), 0
WHERE true ON CONFLICT (org_id) DO UPDATE SET upto = excluded.upto;
-- When no other organisation's rows wait, every stored row is counted: the mark of all moves
-- past them (else each catch-up would step over this organisation's rows a round at a time).
UPDATE rollup_marks SET upto = (SELECT upto FROM rollup_marks WHERE org_id = ?1)
WHERE org_id = '' AND NOT EXISTS (SELECT 1 FROM logs WHERE id > rollup_marks.upto AND org_id <> ?1)
  AND NOT EXISTS (SELECT 1 FROM events WHERE rowid > rollup_marks.upto AND org_id <> ?1);
