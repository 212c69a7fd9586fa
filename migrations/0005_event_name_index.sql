-- GET /events?event_type=… (and its total) without scanning the whole retention window.
CREATE INDEX events_org_name_created ON events(org_id, event_name, created_at DESC);
