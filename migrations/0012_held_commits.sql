-- Commit records of split /collect requests (crates/core/src/ingest/hold.rs): a request whose messages
-- need more than one queue send writes its hold token here after its last send, and only then
-- answers 202; the consumer stores a held message only once its token is here. Rows older than
-- a day are purged by the daily cron.
CREATE TABLE held_commits (
  hold TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  committed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX held_commits_committed ON held_commits(committed_at);
