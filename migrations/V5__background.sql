-- Background work's features: in-app notifications, push devices and scheduled sends; files;
-- GDPR exports, deletion requests and consents; verified backups.

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',    -- JSON object for the app (ids to open)
    read_at     TEXT,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX notifications_user ON notifications (user_id, created_at);
CREATE INDEX notifications_unread ON notifications (user_id, created_at) WHERE read_at IS NULL;

-- Push tokens. A token belongs to one device, so it moves to whoever registered it last.
CREATE TABLE devices (
    token       TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform    TEXT NOT NULL CHECK (platform IN ('ios', 'android', 'web')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX devices_user ON devices (user_id);

-- A notification sent later to a list of people (the outbox item does the sending).
CREATE TABLE notification_schedules (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    created_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    type        TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    send_at     TEXT NOT NULL,
    recipients  INTEGER NOT NULL,
    sent_at     TEXT,
    created_at  TEXT NOT NULL
) STRICT;

-- Uploaded files. The bytes live once per content in `<data>/files/` (named by SHA-256); a
-- blob no row names any more is removed by `files.cleanup`.
CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    owner_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL DEFAULT 'upload' CHECK (purpose IN ('upload', 'avatar')),
    status        TEXT NOT NULL CHECK (status IN ('signed', 'uploaded', 'ready')),
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT,                        -- NULL until the bytes arrived
    client_id     TEXT,
    project_id    TEXT,
    expires_at    TEXT,                        -- a signed upload not completed by then is dropped
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX files_owner ON files (owner_id, created_at);
CREATE INDEX files_org ON files (org_id, created_at);
CREATE INDEX files_sha ON files (sha256);

-- GDPR exports: a ZIP built in the background, downloadable for a while.
CREATE TABLE exports (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'ready', 'failed', 'expired')),
    size_bytes  INTEGER,
    error       TEXT,
    created_at  TEXT NOT NULL,
    ready_at    TEXT,
    expires_at  TEXT
) STRICT;
CREATE INDEX exports_user ON exports (user_id, created_at);

-- An account its owner asked to erase: it cannot sign in; `accounts.purge` erases it when due.
CREATE TABLE deletion_requests (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    requested_at   TEXT NOT NULL,
    scheduled_for  TEXT NOT NULL
) STRICT;
CREATE INDEX deletion_requests_due ON deletion_requests (scheduled_for);

-- Consent decisions, one row per decision (the newest per kind is the current one).
CREATE TABLE consents (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    granted     INTEGER NOT NULL CHECK (granted IN (0, 1)),
    ip          TEXT,
    user_agent  TEXT,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX consents_user ON consents (user_id, kind, created_at);

-- Backups taken by `backup.daily` or on demand, with the result of checking the copy.
CREATE TABLE backups (
    name        TEXT PRIMARY KEY,
    size_bytes  INTEGER NOT NULL,
    verified    INTEGER NOT NULL CHECK (verified IN (0, 1)),
    error       TEXT,
    created_at  TEXT NOT NULL
) STRICT;
