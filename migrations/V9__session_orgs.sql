-- The org each session was opened in, so an org's sign-ins since a date are one index range
-- (the org admin's dashboard counted the month's sessions joined to their people: ~15 ms at
-- 10,000 sign-ins).
ALTER TABLE auth_sessions ADD COLUMN org_id TEXT;
UPDATE auth_sessions SET org_id = (SELECT org_id FROM users WHERE users.id = auth_sessions.user_id);
CREATE INDEX auth_sessions_org_created ON auth_sessions (org_id, created_at);
