-- edgesoc schema v7: rollups of the dashboard log items, so GET /ui/mock-data
-- (docs/dashboard.md §3, §9) aggregates a few thousand rollup rows instead of scanning up to millions of
-- `logs` rows. Every rollup is kept exact by the triggers below on each insert into and delete
-- from `logs` (the Loki push and the queue consumer only insert, the retention purge only
-- deletes), and backfilled from the rows already stored at the end of this file.
-- The queries that read these tables, and why each one has the shape it has, are in
-- crates/core/src/analytics/dashboard/sql.rs.
--
-- Times are Unix milliseconds. `hour` is the start of the UTC hour (as logs.hour), `day` the
-- start of the UTC day. `source` is the item's sourceIp as the dashboard shows it: source_ip, or
-- 'unknown' when it has none.

-- A hostile item (docs/dashboard.md §3.5), decided once per row from its stored columns: a
-- routable source IP (an IPv4 or IPv6 literal that is neither loopback nor unspecified) and at
-- least one of: type login_failure or network_scan, one of the five named events, or a raw line
-- (no event_name) with status 401, 403 or 429. Virtual: computed when read, no storage.
ALTER TABLE logs ADD COLUMN hostile INTEGER GENERATED ALWAYS AS (
  CASE WHEN source_ip IS NOT NULL
    AND ((source_ip NOT GLOB '*[^0-9.]*' AND source_ip GLOB '[0-9]*.[0-9]*.[0-9]*.[0-9]*'
          AND source_ip NOT GLOB '*.*.*.*.*' AND source_ip NOT GLOB '127.*' AND source_ip <> '0.0.0.0')
      OR (source_ip GLOB '*:*' AND source_ip NOT GLOB '*[^0-9A-Fa-f:.]*'
          AND lower(source_ip) NOT IN ('::', '::1', '0:0:0:0:0:0:0:0', '0:0:0:0:0:0:0:1', '::ffff:0.0.0.0')
          AND lower(source_ip) NOT GLOB '::ffff:127.*'))
    AND (type IN ('login_failure', 'network_scan')
      OR event_name IN ('authz.access_denied', 'security.suspicious_activity', 'security.rate_limit_exceeded',
                        'security.ip_blocked', 'security.brute_force_detected')
      OR (event_name IS NULL AND status_code IN (401, 403, 429)))
  THEN 1 ELSE 0 END) VIRTUAL;

-- Items per hour and (service, namespace, type, level), and how many of them are hostile:
-- the timeline, stats, heatmap, threat-free counts and the Sankey service -> type links.
CREATE TABLE log_hourly (
  org_id TEXT NOT NULL,
  hour INTEGER NOT NULL,
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  type TEXT NOT NULL,
  level TEXT NOT NULL,
  n INTEGER NOT NULL,
  hostile INTEGER NOT NULL,
  PRIMARY KEY (org_id, hour, service, namespace, type, level)
) WITHOUT ROWID;

-- Items per hour and (service, namespace, source): the Sankey's source -> service links of the
-- top 10 sources, and their ranking when a service/namespace filter is set.
CREATE TABLE log_source_hourly (
  org_id TEXT NOT NULL,
  hour INTEGER NOT NULL,
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  source TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (org_id, hour, service, namespace, source)
) WITHOUT ROWID;
CREATE INDEX log_source_hourly_by_source ON log_source_hourly(org_id, source, hour, service, namespace, n);

-- Items per hour and source, all services together: the unfiltered ranking of the sources. Read
-- per candidate source through the covering index, or by hour when the ranking needs a pass.
CREATE TABLE log_source_hours (
  org_id TEXT NOT NULL,
  hour INTEGER NOT NULL,
  source TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (org_id, hour, source)
) WITHOUT ROWID;
CREATE INDEX log_source_hours_by_source ON log_source_hours(org_id, source, hour, n);

-- Items per UTC day and (service, namespace, source), with an index by count: each
-- (day, service, namespace) cut yields its top sources and an upper bound for every other
-- source (the threshold algorithm of the top-10 ranking, see crates/core/src/analytics/dashboard/sql.rs).
CREATE TABLE log_source_daily (
  org_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  source TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (org_id, day, service, namespace, source)
) WITHOUT ROWID;
CREATE INDEX log_source_daily_top ON log_source_daily(org_id, day, service, namespace, n);

-- Hostile items per (source_ip, hour, service, namespace), with the time of the latest one and
-- the latest known geo among them: the top 10 attackers' services and country, and their
-- ranking when a service/namespace filter is set (per candidate IP through the primary key, or
-- by hour through the covering index when the ranking needs a full pass).
CREATE TABLE log_attack_hourly (
  org_id TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  hour INTEGER NOT NULL,
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  n INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  geo TEXT,
  geo_ts INTEGER,
  PRIMARY KEY (org_id, source_ip, hour, service, namespace)
) WITHOUT ROWID;
CREATE INDEX log_attack_hourly_by_hour ON log_attack_hourly(org_id, hour, service, namespace, source_ip, n, last_ts);

-- Hostile items per (source_ip, hour), all services together: the unfiltered ranking of the
-- attackers (per candidate IP through the primary key, or by hour through the index).
CREATE TABLE log_attack_hours (
  org_id TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  hour INTEGER NOT NULL,
  n INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (org_id, source_ip, hour)
) WITHOUT ROWID;
CREATE INDEX log_attack_hours_by_hour ON log_attack_hours(org_id, hour, source_ip, n, last_ts);

-- Hostile items per UTC day and (service, namespace, source_ip): the attackers' threshold cuts.
CREATE TABLE log_attack_daily (
  org_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (org_id, day, service, namespace, source_ip)
) WITHOUT ROWID;
CREATE INDEX log_attack_daily_top ON log_attack_daily(org_id, day, service, namespace, n);

-- Hostile items and the latest one's time per (source_ip, service, namespace):
-- stats.attackSources counts the distinct IPs whose latest hostile item is inside the window,
-- without a pass over the hours.
CREATE TABLE log_attackers (
  org_id TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  service TEXT NOT NULL,
  namespace TEXT NOT NULL,
  n INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (org_id, source_ip, service, namespace)
) WITHOUT ROWID;
CREATE INDEX log_attackers_recent ON log_attackers(org_id, last_ts);

-- The same per source_ip alone: the unfiltered count.
CREATE TABLE log_attacker_ips (
  org_id TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  n INTEGER NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (org_id, source_ip)
) WITHOUT ROWID;
CREATE INDEX log_attacker_ips_recent ON log_attacker_ips(org_id, last_ts);

CREATE TRIGGER logs_rollup_insert AFTER INSERT ON logs
BEGIN
  INSERT INTO log_hourly (org_id, hour, service, namespace, type, level, n, hostile)
  VALUES (NEW.org_id, NEW.hour, NEW.service, NEW.namespace, NEW.type, NEW.level, 1, NEW.hostile)
  ON CONFLICT (org_id, hour, service, namespace, type, level)
  DO UPDATE SET n = n + 1, hostile = hostile + excluded.hostile;
  INSERT INTO log_source_hourly (org_id, hour, service, namespace, source, n)
  VALUES (NEW.org_id, NEW.hour, NEW.service, NEW.namespace, coalesce(NEW.source_ip, 'unknown'), 1)
  ON CONFLICT (org_id, hour, service, namespace, source) DO UPDATE SET n = n + 1;
  INSERT INTO log_source_hours (org_id, hour, source, n)
  VALUES (NEW.org_id, NEW.hour, coalesce(NEW.source_ip, 'unknown'), 1)
  ON CONFLICT (org_id, hour, source) DO UPDATE SET n = n + 1;
  INSERT INTO log_source_daily (org_id, day, service, namespace, source, n)
  VALUES (NEW.org_id, NEW.hour - NEW.hour % 86400000, NEW.service, NEW.namespace,
          coalesce(NEW.source_ip, 'unknown'), 1)
  ON CONFLICT (org_id, day, service, namespace, source) DO UPDATE SET n = n + 1;
END;

-- geo and geo_ts move together: the geo of the latest hostile item that has one (ties: the
-- later insert wins). No statement inside a trigger may end with the keyword END, because
-- tests/e2e/harness.mjs and scripts/lib/keys.mjs split migrations on that.
CREATE TRIGGER logs_attack_insert AFTER INSERT ON logs WHEN NEW.hostile = 1
BEGIN
  INSERT INTO log_attack_hourly (org_id, source_ip, hour, service, namespace, n, last_ts, geo, geo_ts)
  VALUES (NEW.org_id, NEW.source_ip, NEW.hour, NEW.service, NEW.namespace, 1, NEW.ts, NEW.geo,
          CASE WHEN NEW.geo IS NULL THEN NULL ELSE NEW.ts END)
  ON CONFLICT (org_id, source_ip, hour, service, namespace) DO UPDATE SET
    geo = CASE WHEN excluded.geo IS NOT NULL AND (geo_ts IS NULL OR excluded.geo_ts >= geo_ts)
          THEN excluded.geo ELSE geo END,
    geo_ts = CASE WHEN excluded.geo IS NOT NULL AND (geo_ts IS NULL OR excluded.geo_ts >= geo_ts)
             THEN excluded.geo_ts ELSE geo_ts END,
    last_ts = max(last_ts, excluded.last_ts),
    n = n + 1;
  INSERT INTO log_attack_hours (org_id, source_ip, hour, n, last_ts)
  VALUES (NEW.org_id, NEW.source_ip, NEW.hour, 1, NEW.ts)
  ON CONFLICT (org_id, source_ip, hour) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts), n = n + 1;
  INSERT INTO log_attack_daily (org_id, day, service, namespace, source_ip, n)
  VALUES (NEW.org_id, NEW.hour - NEW.hour % 86400000, NEW.service, NEW.namespace, NEW.source_ip, 1)
  ON CONFLICT (org_id, day, service, namespace, source_ip) DO UPDATE SET n = n + 1;
  INSERT INTO log_attackers (org_id, source_ip, service, namespace, n, last_ts)
  VALUES (NEW.org_id, NEW.source_ip, NEW.service, NEW.namespace, 1, NEW.ts)
  ON CONFLICT (org_id, source_ip, service, namespace)
  DO UPDATE SET last_ts = max(last_ts, excluded.last_ts), n = n + 1;
  INSERT INTO log_attacker_ips (org_id, source_ip, n, last_ts)
  VALUES (NEW.org_id, NEW.source_ip, 1, NEW.ts)
  ON CONFLICT (org_id, source_ip) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts), n = n + 1;
END;

-- Deletes decrement, and drop the rows that reach zero. Rows are only deleted by the retention
-- purge, oldest first, so a deleted row is the latest of its group (last_ts, geo, the
-- attacker's last_ts) only when every row of the group is deleted with it: the maxima never
-- need recomputing.
CREATE TRIGGER logs_rollup_delete AFTER DELETE ON logs
BEGIN
  UPDATE log_hourly SET n = n - 1, hostile = hostile - OLD.hostile
  WHERE org_id = OLD.org_id AND hour = OLD.hour AND service = OLD.service AND namespace = OLD.namespace
    AND type = OLD.type AND level = OLD.level;
  DELETE FROM log_hourly
  WHERE org_id = OLD.org_id AND hour = OLD.hour AND service = OLD.service AND namespace = OLD.namespace
    AND type = OLD.type AND level = OLD.level AND n <= 0;
  UPDATE log_source_hourly SET n = n - 1
  WHERE org_id = OLD.org_id AND hour = OLD.hour AND service = OLD.service AND namespace = OLD.namespace
    AND source = coalesce(OLD.source_ip, 'unknown');
  DELETE FROM log_source_hourly
  WHERE org_id = OLD.org_id AND hour = OLD.hour AND service = OLD.service AND namespace = OLD.namespace
    AND source = coalesce(OLD.source_ip, 'unknown') AND n <= 0;
  UPDATE log_source_hours SET n = n - 1
  WHERE org_id = OLD.org_id AND hour = OLD.hour AND source = coalesce(OLD.source_ip, 'unknown');
  DELETE FROM log_source_hours
  WHERE org_id = OLD.org_id AND hour = OLD.hour AND source = coalesce(OLD.source_ip, 'unknown') AND n <= 0;
  UPDATE log_source_daily SET n = n - 1
  WHERE org_id = OLD.org_id AND day = OLD.hour - OLD.hour % 86400000 AND service = OLD.service
    AND namespace = OLD.namespace AND source = coalesce(OLD.source_ip, 'unknown');
  DELETE FROM log_source_daily
  WHERE org_id = OLD.org_id AND day = OLD.hour - OLD.hour % 86400000 AND service = OLD.service
    AND namespace = OLD.namespace AND source = coalesce(OLD.source_ip, 'unknown') AND n <= 0;
END;

CREATE TRIGGER logs_attack_delete AFTER DELETE ON logs WHEN OLD.hostile = 1
BEGIN
  UPDATE log_attack_hourly SET n = n - 1
  WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND service = OLD.service
    AND namespace = OLD.namespace AND hour = OLD.hour;
  DELETE FROM log_attack_hourly
  WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND service = OLD.service
    AND namespace = OLD.namespace AND hour = OLD.hour AND n <= 0;
  UPDATE log_attack_hours SET n = n - 1
  WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND hour = OLD.hour;
  DELETE FROM log_attack_hours
  WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND hour = OLD.hour AND n <= 0;
  UPDATE log_attack_daily SET n = n - 1
  WHERE org_id = OLD.org_id AND day = OLD.hour - OLD.hour % 86400000 AND service = OLD.service
    AND namespace = OLD.namespace AND source_ip = OLD.source_ip;
  DELETE FROM log_attack_daily
  WHERE org_id = OLD.org_id AND day = OLD.hour - OLD.hour % 86400000 AND service = OLD.service
    AND namespace = OLD.namespace AND source_ip = OLD.source_ip AND n <= 0;
  UPDATE log_attackers SET n = n - 1
  WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND service = OLD.service
    AND namespace = OLD.namespace;
  DELETE FROM log_attackers
  WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND service = OLD.service
    AND namespace = OLD.namespace AND n <= 0;
  UPDATE log_attacker_ips SET n = n - 1 WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip;
  DELETE FROM log_attacker_ips WHERE org_id = OLD.org_id AND source_ip = OLD.source_ip AND n <= 0;
END;

-- Existing deployments: roll up what is already stored.
INSERT INTO log_hourly (org_id, hour, service, namespace, type, level, n, hostile)
SELECT org_id, hour, service, namespace, type, level, count(*), sum(hostile) FROM logs
GROUP BY org_id, hour, service, namespace, type, level;

INSERT INTO log_source_hourly (org_id, hour, service, namespace, source, n)
SELECT org_id, hour, service, namespace, coalesce(source_ip, 'unknown'), count(*) FROM logs
GROUP BY org_id, hour, service, namespace, coalesce(source_ip, 'unknown');

INSERT INTO log_source_hours (org_id, hour, source, n)
SELECT org_id, hour, coalesce(source_ip, 'unknown'), count(*) FROM logs
GROUP BY org_id, hour, coalesce(source_ip, 'unknown');

INSERT INTO log_source_daily (org_id, day, service, namespace, source, n)
SELECT org_id, hour - hour % 86400000, service, namespace, coalesce(source_ip, 'unknown'), count(*) FROM logs
GROUP BY org_id, hour - hour % 86400000, service, namespace, coalesce(source_ip, 'unknown');

INSERT INTO log_attack_hourly (org_id, source_ip, hour, service, namespace, n, last_ts, geo, geo_ts)
SELECT org_id, source_ip, hour, service, namespace, count(*), max(ts),
       max(CASE WHEN rn = 1 THEN geo END), max(CASE WHEN rn = 1 THEN geo_ts END)
FROM (SELECT org_id, source_ip, service, namespace, hour, ts, geo,
             CASE WHEN geo IS NULL THEN NULL ELSE ts END AS geo_ts,
             row_number() OVER (PARTITION BY org_id, source_ip, hour, service, namespace
                                ORDER BY geo IS NULL, ts DESC, id DESC) AS rn
      FROM logs WHERE hostile = 1)
GROUP BY org_id, source_ip, hour, service, namespace;

INSERT INTO log_attack_hours (org_id, source_ip, hour, n, last_ts)
SELECT org_id, source_ip, hour, count(*), max(ts) FROM logs WHERE hostile = 1
GROUP BY org_id, source_ip, hour;

INSERT INTO log_attack_daily (org_id, day, service, namespace, source_ip, n)
SELECT org_id, hour - hour % 86400000, service, namespace, source_ip, count(*) FROM logs WHERE hostile = 1
GROUP BY org_id, hour - hour % 86400000, service, namespace, source_ip;

INSERT INTO log_attackers (org_id, source_ip, service, namespace, n, last_ts)
SELECT org_id, source_ip, service, namespace, count(*), max(ts) FROM logs WHERE hostile = 1
GROUP BY org_id, source_ip, service, namespace;

INSERT INTO log_attacker_ips (org_id, source_ip, n, last_ts)
SELECT org_id, source_ip, count(*), max(ts) FROM logs WHERE hostile = 1
GROUP BY org_id, source_ip;
