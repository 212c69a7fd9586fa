-- Indexes for detection's history reads (crates/core/src/detect/history/). Before these, counting one
-- IP's or one user's failed logins walked every login failure of the organisation in the window,
-- so a quiet key cost as much as the whole flood around it; and "has this actor any earlier
-- event" walked the actor's events per event name. Each read is now a range scan of one key.
CREATE INDEX logs_org_type_ip_ts ON logs(org_id, type, source_ip, ts);
CREATE INDEX logs_org_type_user_ts ON logs(org_id, type, user, ts);
CREATE INDEX events_org_actor_created ON events(org_id, actor_id, created_at);
