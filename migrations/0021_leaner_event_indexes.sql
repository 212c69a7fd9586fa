-- Two index entries fewer for most events (D1 bills each as a row written):
--
-- events_org_name_created leaves out the routine, high-volume names (a successful login, a
-- logout, a refreshed token: about three events in four of a typical day). GET /events filtered
-- by one of them walks the organisation's events newest first through events_org_created, where
-- they are a large share, and stops at its page; every other name still seeks its own rows
-- (crates/core/src/analytics/events.rs ROUTINE_NAMES, which this list must equal).
--
-- events_login_success_actor is dropped: detection reads an actor's successful logins through
-- events_org_actor_created, among the actor's few events (crates/core/src/detect/history/sql.rs).
DROP INDEX events_login_success_actor;
DROP INDEX events_org_name_created;
CREATE INDEX events_org_name_created ON events(org_id, event_name, created_at DESC)
  WHERE event_name NOT IN ('auth.login_success', 'auth.logout', 'auth.token_refreshed');
