-- The dashboard's rollups are caught up from the stored items instead of being written with
-- each insert (crates/core/src/logs/rollups.rs): they count every item whose id is at most a
-- mark, and a catch-up adds the items stored since, one grouped upsert per rollup table, so a
-- rollup row is written once per catch-up rather than once per insert batch.
--
-- The row with org_id '' is the mark of every organisation: `upto` the last item counted, `at`
-- when it moved. A row for an organisation says its rollups were recomputed from all its items
-- up to `upto` (a seeded database, crates/core/src/logs/rollups_rebuild.sql): a catch-up skips
-- those items and drops the row once the mark passes it.
CREATE TABLE rollup_marks (
  org_id TEXT PRIMARY KEY,
  upto INTEGER NOT NULL,
  at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every item stored so far is in the rollups already (the code kept them with each insert).
INSERT INTO rollup_marks (org_id, upto, at)
SELECT '', max(coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0)), 0;
