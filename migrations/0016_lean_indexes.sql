-- Fewer and partial indexes on `events` and `logs` (issue 18): every index entry a row inserts
-- (and the purge later deletes) is a D1 row written. Before this file every event wrote 6 index
-- entries and every log item 5, most of them for reads that only ever look at a few kinds of
-- rows. The detection and enrichment indexes now hold only the kinds their reads select, one
-- partial index per kind (SQLite uses a partial index only when the query's WHERE has the
-- index's WHERE terms literally, so each read names its kind as a literal and its index with
-- INDEXED BY, which fails loudly if the two ever drift apart); no index repeats another's
-- prefix. Each read stays a range scan of its own key, with and without ANALYZE statistics
-- (crates/core/src/schema_tests.rs checks every reader's plan).
--
-- After this file, per row inserted:
--   events: sqlite_autoindex_events_1 (id), events_org_created, events_org_name_created,
--           events_org_actor_created (when it has an actor), and one or two of the partial
--           indexes below for a failed login, a successful login or a rate-limit event;
--   logs:   sqlite_autoindex_logs_1 (event_id, left as it is), logs_org_ts, and one or two of
--           the partial indexes below for a failed login or an IAM change.
-- Kept as they are: the primary keys, events_org_created (newest-first listing, GET /events
-- without a name or actor filter, its totals' edge hours, the retention purge),
-- events_org_name_created (GET /events?event_type=… and its totals' edge hours, the
-- dashboard's blocked addresses), logs_org_ts (the dashboard's window and its future-stamped
-- items, the retention purge).

-- events_org_ip_name (org_id, user_ip, event_name, created_at) and
-- events_org_actor_name (org_id, actor_id, event_name, created_at) held every event; their
-- reads select three names. They become one partial index per (key, name) read.
DROP INDEX events_org_ip_name;
DROP INDEX events_org_actor_name;

-- The actor's events, every name: detection's countries, devices and "any earlier event"
-- (crates/core/src/detect/history/sql.rs) and GET /events?actor_id=… with its total
-- (crates/core/src/analytics/events.rs). Rebuilt without the events that have no actor, which
-- no read by actor can select (`actor_id = ?` implies `actor_id IS NOT NULL`).
DROP INDEX events_org_actor_created;
CREATE INDEX events_org_actor_created ON events(org_id, actor_id, created_at)
  WHERE actor_id IS NOT NULL;

-- Failed logins per address and per actor in the last 24 hours: the threat score's history
-- (crates/core/src/intel/enrichment.rs, threat_history_statements).
CREATE INDEX events_login_failed_ip ON events(org_id, user_ip, created_at)
  WHERE event_name = 'auth.login_failed' AND user_ip IS NOT NULL;
CREATE INDEX events_login_failed_actor ON events(org_id, actor_id, created_at)
  WHERE event_name = 'auth.login_failed' AND actor_id IS NOT NULL;

-- Rate-limit events per address and per actor: the rate-limit abuse rule's history
-- (crates/core/src/detect/history/sql.rs, Part::IpRateLimits and Part::ActorRateLimits).
CREATE INDEX events_rate_limit_ip ON events(org_id, user_ip, created_at)
  WHERE event_name = 'security.rate_limit_exceeded' AND user_ip IS NOT NULL;
CREATE INDEX events_rate_limit_actor ON events(org_id, actor_id, created_at)
  WHERE event_name = 'security.rate_limit_exceeded' AND actor_id IS NOT NULL;

-- The actor's successful logins: impossible travel and the compromise rule
-- (crates/core/src/detect/history/sql.rs, Part::ActorLogins).
CREATE INDEX events_login_success_actor ON events(org_id, actor_id, created_at)
  WHERE event_name = 'auth.login_success' AND actor_id IS NOT NULL;

-- logs_org_type_ts (org_id, type, ts), logs_org_type_ip_ts (org_id, type, source_ip, ts) and
-- logs_org_type_user_ts (org_id, type, user, ts) held every item; their reads select two types.
DROP INDEX logs_org_type_ts;
DROP INDEX logs_org_type_ip_ts;
DROP INDEX logs_org_type_user_ts;

-- IAM changes newest first: the dashboard's iamChanges
-- (crates/core/src/analytics/dashboard/sql.rs). The row id ends every index entry, so the
-- index gives `ORDER BY ts DESC, id DESC` as it is.
CREATE INDEX logs_iam_ts ON logs(org_id, ts) WHERE type = 'iam_change';

-- Failed logins (raw lines and events) per address and per user: brute force from the queue
-- consumer (crates/core/src/detect/history/sql.rs, Part::IpFailedLogins and
-- Part::ActorFailedLogins) and from the Loki push (crates/core/src/logs/detect.rs).
CREATE INDEX logs_login_failure_ip ON logs(org_id, source_ip, ts)
  WHERE type = 'login_failure' AND source_ip IS NOT NULL;
CREATE INDEX logs_login_failure_user ON logs(org_id, user, ts)
  WHERE type = 'login_failure' AND user IS NOT NULL;
