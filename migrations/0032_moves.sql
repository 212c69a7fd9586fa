-- Moving an organisation between D1 databases (scripts/move-org, docs/CAPACITY.md, *Moving an
-- organisation*). While `orgs.moving_to` names a shard, the organisation's data is being copied
-- there: the Worker changes none of it (changes are answered 503 with Retry-After, its queued
-- events and deliveries wait in their queues) and reads keep coming from `orgs.shard`.
ALTER TABLE orgs ADD COLUMN moving_to TEXT;

-- The copy's progress on the database it copies to, written in the same batch as each chunk,
-- so a move that stops resumes after the last chunk stored and never copies one twice. `after`
-- is the last source key copied (JSON), `copied` the rows so far.
CREATE TABLE move_progress (
  org_id TEXT NOT NULL,
  tbl TEXT NOT NULL,
  after TEXT,
  copied INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, tbl)
) WITHOUT ROWID;
