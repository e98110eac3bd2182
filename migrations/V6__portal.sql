-- Portal cookie sessions (tower-sessions records). The record holds the signed-in account's
-- auth session id, so revoking that session (sign-out everywhere, suspension, deletion) ends
-- the portal session too.
CREATE TABLE portal_sessions (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,     -- JSON object
    expires_at  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
