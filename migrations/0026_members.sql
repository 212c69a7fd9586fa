-- Cloudflare Access sign-in (docs/api.md §2.8; crates/core/src/access/cf_access.rs): the e-mail
-- Access signs maps to one organisation and a role (viewer, responder, admin).
CREATE TABLE members (
  email TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'responder', 'admin')),
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX members_org ON members(org_id, email);
