-- When each organisation's data was last fully purged. The cron purge starts with the least
-- recently purged organisations, so a run that exhausts its statement budget is followed by one
-- that begins where it stopped; every organisation is reached however many there are.
ALTER TABLE orgs ADD COLUMN purged_at INTEGER;
