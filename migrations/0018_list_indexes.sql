-- Indexes for GET /alerts filtered by actor or by status (issue 18, "queries stay fast"). Before
-- these, such a page walked the organisation's alerts newest first through alerts_org_created
-- until it had filled, and its total counted by walking every alert of the window, so asking for
-- one actor's alerts or the open ones cost as much as the whole flood around them. Each is now a
-- range of one key, newest first (crates/core/src/alerts/mod.rs `AlertQuery::table`, which names
-- them, as the planner without ANALYZE statistics still prefers alerts_org_created's order).
--
-- Both hold only unsuppressed alerts, the ones the lists show unless `status=suppressed` is asked
-- for (that one has alerts_org_suppressed, migrations/0015_suppressions.sql), so a total counts
-- from the index alone. Cost: two index entries per alert written (alerts are few next to
-- events: one per rule, key and hour) and two when a PATCH changes a status; nothing on events.
CREATE INDEX alerts_org_actor ON alerts(org_id, actor_id, created_at DESC, id DESC)
  WHERE suppressed_by IS NULL;
CREATE INDEX alerts_org_status ON alerts(org_id, status, created_at DESC, id DESC)
  WHERE suppressed_by IS NULL;
