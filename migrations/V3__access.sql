-- Identity, second part: partner scope copied from the invitation, Google sign-in links,
-- invitee names (the admin invited with a new org), and audit lookups by entity.

-- What an invited partner may see, e.g. {"clientIds": [...]} (used by the CRM feature).
ALTER TABLE users ADD COLUMN access_scope TEXT NOT NULL DEFAULT '{}';
-- The Google account (`sub`) linked to this user, once they signed in with Google.
ALTER TABLE users ADD COLUMN google_sub TEXT;
CREATE UNIQUE INDEX users_google_sub ON users (google_sub) WHERE google_sub IS NOT NULL;
CREATE INDEX users_org_created ON users (org_id, created_at);

ALTER TABLE invitations ADD COLUMN first_name TEXT;
ALTER TABLE invitations ADD COLUMN last_name TEXT;
CREATE INDEX invitations_email ON invitations (email, status);

CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
