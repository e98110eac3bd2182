-- Identity and access: profiles, sessions and refresh tokens, one-time tokens (e-mail
-- verification, password reset, MFA login), MFA, departments, invitations, org settings and
-- the hash-chained audit log.

ALTER TABLE users ADD COLUMN department_id TEXT;
ALTER TABLE users ADD COLUMN location TEXT;
ALTER TABLE users ADD COLUMN occupation TEXT;
ALTER TABLE users ADD COLUMN bio TEXT;
ALTER TABLE users ADD COLUMN interests TEXT NOT NULL DEFAULT '[]';          -- JSON array of strings
ALTER TABLE users ADD COLUMN is_anonymous INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN avatar_url TEXT;
ALTER TABLE users ADD COLUMN privacy_settings TEXT NOT NULL DEFAULT '{}';   -- JSON object
ALTER TABLE users ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';        -- JSON object
-- Lockout: failures counted within the window that starts at the first one.
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN first_failed_at TEXT;
ALTER TABLE users ADD COLUMN locked_until TEXT;
-- TOTP: the secret is encrypted with the data-encryption key; enabled once confirmed.
ALTER TABLE users ADD COLUMN mfa_secret BLOB;
ALTER TABLE users ADD COLUMN mfa_enabled_at TEXT;
ALTER TABLE users ADD COLUMN mfa_last_step INTEGER;                           -- refuses a replayed code
CREATE INDEX users_org_department ON users (org_id, department_id);

-- A signed-in device. Access tokens carry its id, so revoking it stops them at once.
CREATE TABLE auth_sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    user_agent    TEXT,
    ip            TEXT,
    revoked_at    TEXT,
    revoked_why   TEXT
) STRICT;
CREATE INDEX auth_sessions_user ON auth_sessions (user_id, revoked_at);

-- Refresh tokens: opaque, stored as SHA-256, one live token per session (its family). Using a
-- spent one is theft: the whole session is revoked.
CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    spent_at     TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Single-use tokens sent by e-mail or handed out mid-login, stored as SHA-256.
CREATE TABLE one_time_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'mfa_login')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);

CREATE TABLE mfa_recovery_codes (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TEXT
) STRICT;
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes (user_id);

CREATE TABLE departments (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX departments_org_name ON departments (org_id, name COLLATE NOCASE);

CREATE TABLE invitations (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs (id),
    email          TEXT NOT NULL,
    role           TEXT NOT NULL,
    department_id  TEXT REFERENCES departments (id),
    scope          TEXT NOT NULL DEFAULT '{}',     -- JSON, e.g. {"clientIds": [...]} for partners
    token_hash     TEXT NOT NULL UNIQUE,
    invited_by     TEXT REFERENCES users (id),
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    accepted_at    TEXT,
    accepted_user  TEXT REFERENCES users (id)
) STRICT;
CREATE INDEX invitations_org ON invitations (org_id, status);

-- Per-org admin settings from the typed registry (values are JSON).
CREATE TABLE org_settings (
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT,
    PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;

-- Append-only, hash-chained: each row's hash covers its content and the previous row's hash.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    at         TEXT NOT NULL,
    org_id     TEXT,
    actor_id   TEXT,
    user_id    TEXT,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT,
    before     TEXT,
    after      TEXT,
    ip         TEXT,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_org_at ON audit_log (org_id, at);
CREATE INDEX audit_log_actor ON audit_log (actor_id);
CREATE INDEX audit_log_user ON audit_log (user_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
