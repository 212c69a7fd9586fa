-- Each LiteSOC event stored once (issue 18). Until this file the queue consumer wrote every event
-- twice: into `events`, and again into `logs` as the dashboard's log item of the event (the row,
-- logs_org_ts, the UNIQUE event_id index and the partial indexes: about 4 D1 rows written per
-- event at ingest, 1 more at the purge, and some 340 bytes). The item is now kept in the event's
-- own row: the columns below hold what crates/core/src/logs/row.rs `event_row` computes and the
-- event does not already hold, and the view `items` shows raw lines (still in `logs`) and events
-- as the same log items, column for column, for every reader (the dashboard,
-- crates/core/src/analytics/dashboard/sql.rs, brute force from the queue consumer and the Loki
-- push, crates/core/src/detect/history/sql.rs and crates/core/src/logs/detect.rs, the rollups'
-- recount, crates/core/src/logs/rollups_rebuild.sql; crates/core/src/logs/items.rs says how).
-- The rollups are sums over items and stay as they are.
--
-- The item of an event, column by column (NULL in an item_ column: the event's own value):
--   id          the event row's rowid: one sequence with logs.id, as when events' items took
--               `logs` ids (the consumer and the Loki push number new rows from the larger of the
--               two maxima), so items at the same millisecond keep their order (ts DESC, id DESC)
--   ts, hour    created_at, and the start of its UTC hour
--   type        item_type (NULL only for an event stored before 0004, which never had an item:
--               it stays out of `items`)
--   action      item_action (IAM changes)
--   level       item_level, else from the severity (crates/core/src/logs/classify `event_log_level`)
--   service     item_service, else the category
--   namespace   item_namespace, else 'litesoc'
--   source_ip   item_ip, else user_ip ('' in item_ip: none although user_ip is set, e.g. blank)
--   user        item_user, else actor_id ('' likewise)
--   geo         item_geo, else country_code ('' likewise)
--   vpn         is_vpn
--   hostname, target_ip, device, status_code   item_hostname, item_target_ip, item_device,
--               item_status (from the metadata)
--   resource, message   item_resource, item_message, else the event name
--   event_id, event_name   id, event_name
--   hostile     crate::logs::rollups::HOSTILE_SQL over the item's columns, as logs.hostile (an
--               event always has a name, so its raw-line clause on status codes never applies)
ALTER TABLE events ADD COLUMN item_type TEXT;
ALTER TABLE events ADD COLUMN item_action TEXT;
ALTER TABLE events ADD COLUMN item_level TEXT;
ALTER TABLE events ADD COLUMN item_service TEXT;
ALTER TABLE events ADD COLUMN item_namespace TEXT;
ALTER TABLE events ADD COLUMN item_ip TEXT;
ALTER TABLE events ADD COLUMN item_user TEXT;
ALTER TABLE events ADD COLUMN item_hostname TEXT;
ALTER TABLE events ADD COLUMN item_target_ip TEXT;
ALTER TABLE events ADD COLUMN item_geo TEXT;
ALTER TABLE events ADD COLUMN item_device TEXT;
ALTER TABLE events ADD COLUMN item_status INTEGER;
ALTER TABLE events ADD COLUMN item_resource TEXT;
ALTER TABLE events ADD COLUMN item_message TEXT;

-- Each event takes its item's columns and its item's `logs` id as its rowid. The rowids move out
-- of the way first (negative), so no new rowid meets an old one. An event without an item keeps a
-- negative rowid and stays out of `items`, as it was.
UPDATE events SET rowid = -rowid;
UPDATE events SET rowid = l.id, item_type = l.type, item_action = l.action,
  item_level = nullif(l.level, CASE events.severity WHEN 'critical' THEN 'critical'
    WHEN 'high' THEN 'error' WHEN 'medium' THEN 'warning' WHEN 'warning' THEN 'warning'
    ELSE 'info' END),
  item_service = nullif(l.service, events.category),
  item_namespace = nullif(l.namespace, 'litesoc'),
  item_ip = CASE WHEN l.source_ip IS events.user_ip THEN NULL ELSE coalesce(l.source_ip, '') END,
  item_user = CASE WHEN l.user IS events.actor_id THEN NULL ELSE coalesce(l.user, '') END,
  item_hostname = l.hostname, item_target_ip = l.target_ip,
  item_geo = CASE WHEN l.geo IS events.country_code THEN NULL ELSE coalesce(l.geo, '') END,
  item_device = l.device, item_status = l.status_code,
  item_resource = nullif(l.resource, events.event_name),
  item_message = nullif(l.message, events.event_name)
FROM logs AS l WHERE l.event_id = events.id;
DELETE FROM logs WHERE event_id IS NOT NULL;

-- IAM changes newest first (the dashboard's iamChanges), as logs_iam_ts for raw lines.
CREATE INDEX events_iam ON events(org_id, created_at) WHERE item_type = 'iam_change';

-- Failed logins per address and per user, on the item's own address and user: brute force from
-- the queue consumer and from the Loki push (as logs_login_failure_ip/_user for raw lines), and
-- the threat score's failed `auth.login_failed` events per user_ip and per actor_id
-- (crates/core/src/intel/enrichment.rs), which were events_login_failed_ip/_actor: an
-- `auth.login_failed` event is a `login_failure` item whose address is its user_ip trimmed, so
-- those reads find their rows here by both (the two indexes they replace are dropped).
CREATE INDEX events_login_failure_ip ON events(org_id, coalesce(item_ip, user_ip), created_at)
  WHERE item_type = 'login_failure' AND coalesce(item_ip, user_ip) IS NOT NULL;
CREATE INDEX events_login_failure_user ON events(org_id, coalesce(item_user, actor_id), created_at)
  WHERE item_type = 'login_failure' AND coalesce(item_user, actor_id) IS NOT NULL;
DROP INDEX events_login_failed_ip;
DROP INDEX events_login_failed_actor;

-- Every log item: raw lines, then events. Each column of the events' arm has the affinity of the
-- raw lines' column (the CASTs), so SQLite flattens the view into the query that reads it: a
-- read's bounds reach each arm's index, and `ORDER BY ts DESC, id DESC LIMIT n` merges two
-- index scans instead of sorting the window.
CREATE VIEW items AS
SELECT id, org_id, ts, hour, type, action, level, service, namespace, source_ip, user, hostname,
  target_ip, geo, device, vpn, status_code, resource, message, event_id, event_name, hostile
FROM logs
UNION ALL
SELECT rowid AS id, org_id, created_at AS ts,
  CAST(created_at - created_at % 3600000 AS INTEGER) AS hour,
  item_type AS type, item_action AS action,
  CAST(coalesce(item_level, CASE severity WHEN 'critical' THEN 'critical' WHEN 'high' THEN 'error'
    WHEN 'medium' THEN 'warning' WHEN 'warning' THEN 'warning' ELSE 'info' END) AS TEXT) AS level,
  CAST(coalesce(item_service, category) AS TEXT) AS service,
  CAST(coalesce(item_namespace, 'litesoc') AS TEXT) AS namespace,
  CAST(nullif(coalesce(item_ip, user_ip), '') AS TEXT) AS source_ip,
  CAST(nullif(coalesce(item_user, actor_id), '') AS TEXT) AS user,
  item_hostname AS hostname, item_target_ip AS target_ip,
  CAST(nullif(coalesce(item_geo, country_code), '') AS TEXT) AS geo,
  item_device AS device, is_vpn AS vpn, item_status AS status_code,
  CAST(coalesce(item_resource, event_name) AS TEXT) AS resource,
  CAST(coalesce(item_message, event_name) AS TEXT) AS message,
  id AS event_id, event_name,
  CAST(CASE WHEN nullif(coalesce(item_ip, user_ip), '') IS NOT NULL
    AND ((nullif(coalesce(item_ip, user_ip), '') NOT GLOB '*[^0-9.]*'
          AND nullif(coalesce(item_ip, user_ip), '') GLOB '[0-9]*.[0-9]*.[0-9]*.[0-9]*'
          AND nullif(coalesce(item_ip, user_ip), '') NOT GLOB '*.*.*.*.*'
          AND nullif(coalesce(item_ip, user_ip), '') NOT GLOB '127.*'
          AND nullif(coalesce(item_ip, user_ip), '') <> '0.0.0.0')
      OR (nullif(coalesce(item_ip, user_ip), '') GLOB '*:*'
          AND nullif(coalesce(item_ip, user_ip), '') NOT GLOB '*[^0-9A-Fa-f:.]*'
          AND lower(nullif(coalesce(item_ip, user_ip), '')) NOT IN ('::', '::1', '0:0:0:0:0:0:0:0',
            '0:0:0:0:0:0:0:1', '::ffff:0.0.0.0')
          AND lower(nullif(coalesce(item_ip, user_ip), '')) NOT GLOB '::ffff:127.*'))
    AND (item_type IN ('login_failure', 'network_scan')
      OR event_name IN ('authz.access_denied', 'security.suspicious_activity',
                        'security.rate_limit_exceeded', 'security.ip_blocked',
                        'security.brute_force_detected'))
  THEN 1 ELSE 0 END AS INTEGER) AS hostile
FROM events WHERE item_type IS NOT NULL;
