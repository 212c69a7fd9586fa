-- Successful logins from raw lines feed the identity rules as `auth.login_success` events do
-- (impossible travel, geo anomaly, new device, account compromise: docs/dashboard.md §7.4), both
-- as triggers (crates/core/src/logs/logins.rs) and in the history every login is judged against
-- (crates/core/src/detect/history/sql.rs). A line's address is enriched at the push as an
-- event's is (Pro and above, crates/core/src/logs/enrich.rs); its coordinates and city, ASN,
-- network flags and threat score are kept here, as an event's are, so a later login can be
-- measured against it. NULL when unknown (Free, private addresses, lines before this).
ALTER TABLE logs ADD COLUMN latitude REAL;
ALTER TABLE logs ADD COLUMN longitude REAL;
ALTER TABLE logs ADD COLUMN city TEXT;
ALTER TABLE logs ADD COLUMN asn INTEGER;
ALTER TABLE logs ADD COLUMN is_tor INTEGER;
ALTER TABLE logs ADD COLUMN is_proxy INTEGER;
ALTER TABLE logs ADD COLUMN is_datacenter INTEGER;
ALTER TABLE logs ADD COLUMN threat_score INTEGER;
-- The format parser (docs/dashboard.md §7.5) that read the line: `sshd`, `pam`, `cloudtrail`,
-- `okta`, …; NULL when the keyword rules (§4) classified it. Only a parser's reading of a login
-- is trusted as one: the keyword rules call any line mentioning `auth` a success.
ALTER TABLE logs ADD COLUMN parser TEXT;

-- A user's successful login lines, as a parser read them, in time order. Partial: one more index
-- row per such line, none for any other line.
CREATE INDEX logs_login_success_user ON logs(org_id, user, ts)
  WHERE type = 'login_success' AND parser IS NOT NULL AND user IS NOT NULL;
