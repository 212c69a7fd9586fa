-- Hourly event counts per (organisation, event name, severity), kept exact by triggers on every
-- insert and delete of `events` (the queue consumer's INSERT OR IGNORE fires only for rows it
-- really inserts; the retention purge decrements). GET /events computes `total` from whole
-- hours here plus exact counts of the two partial hours at the edges, instead of counting up
-- to millions of rows per request.

CREATE TABLE event_counts (
  org_id TEXT NOT NULL,
  hour INTEGER NOT NULL,        -- created_at / 3,600,000
  event_name TEXT NOT NULL,
  severity TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (org_id, hour, event_name, severity)
) WITHOUT ROWID;

CREATE TRIGGER events_count_insert AFTER INSERT ON events
BEGIN
  INSERT INTO event_counts (org_id, hour, event_name, severity, n)
  VALUES (NEW.org_id, NEW.created_at / 3600000, NEW.event_name, NEW.severity, 1)
  ON CONFLICT (org_id, hour, event_name, severity) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER events_count_delete AFTER DELETE ON events
BEGIN
  UPDATE event_counts SET n = n - 1
  WHERE org_id = OLD.org_id AND hour = OLD.created_at / 3600000
    AND event_name = OLD.event_name AND severity = OLD.severity;
END;

-- Existing deployments: count what is already stored.
INSERT INTO event_counts (org_id, hour, event_name, severity, n)
SELECT org_id, created_at / 3600000, event_name, severity, count(*) FROM events
GROUP BY org_id, created_at / 3600000, event_name, severity;
