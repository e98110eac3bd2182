-- Core schema of the appliance: tenants, accounts, the outbox, recurring-job runs and
-- idempotency records. Instants are UTC text in one fixed-width RFC 3339 form
-- (YYYY-MM-DDTHH:MM:SS.sssZ) so they sort and compare as strings.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
-- At most one default org: the one that `join-default` sign-ups and the CLI use.
CREATE UNIQUE INDEX orgs_one_default ON orgs (is_default) WHERE is_default = 1;

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs (id),
    email              TEXT NOT NULL,
    password_hash      TEXT,
    role               TEXT NOT NULL CHECK (role IN ('superadmin', 'admin', 'team', 'practitioner', 'member', 'partner')),
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deactivated')),
    first_name         TEXT NOT NULL DEFAULT '',
    last_name          TEXT NOT NULL DEFAULT '',
    phone              TEXT,
    date_of_birth      TEXT,
    timezone           TEXT NOT NULL DEFAULT 'UTC',
    locale             TEXT NOT NULL DEFAULT 'en',
    email_verified_at  TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    deleted_at         TEXT
) STRICT;
-- E-mails are stored normalized (trimmed, lower case); one account per address.
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_org_role ON users (org_id, role);

-- Durable background work. A row is claimed by setting status = 'running' with a lease;
-- a lease that runs out (the process died) makes the row claimable again.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    run_at           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER,          -- NULL: jobs.max_attempts from config
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'dead', 'cancelled')),
    idempotency_key  TEXT NOT NULL UNIQUE,
    lease_until      TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    done_at          TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (status, run_at);

-- One row per recurring job: what the admin page and `GET /admin/jobs` show.
CREATE TABLE job_runs (
    name          TEXT PRIMARY KEY,
    last_scheduled_for  TEXT,      -- the newest cron slot enqueued (catch-up after downtime)
    last_run_at   TEXT,
    last_outcome  TEXT,
    updated_at    TEXT NOT NULL
) STRICT;

-- Responses remembered for `Idempotency-Key` retries, per caller scope, for 24 hours.
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,          -- NULL while the first request is still running
    content_type  TEXT,
    body          BLOB,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
