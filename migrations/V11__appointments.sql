-- Appointments (seeds 001 and 003): practitioners' profiles and hours, sessions booked against
-- them, ratings, calendar feeds, free passes, prep checklists, feedback and progress logs.

-- A practitioner's public profile. Lists are JSON arrays of strings; the hourly rate is minor
-- units of its currency.
CREATE TABLE practitioner_profiles (
    user_id           TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id            TEXT NOT NULL,
    bio               TEXT NOT NULL DEFAULT '',
    specialties       TEXT NOT NULL DEFAULT '[]',
    certifications    TEXT NOT NULL DEFAULT '[]',
    experience_years  INTEGER,
    rate_amount       INTEGER,
    rate_currency     TEXT,
    updated_at        TEXT NOT NULL
) STRICT;

-- When a practitioner can be booked, in their own IANA zone. `weekly` and `overrides` are the
-- API's JSON as sent (validated); one row per practitioner, read whole for every slot query.
CREATE TABLE availability (
    user_id             TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id              TEXT NOT NULL,
    timezone            TEXT NOT NULL,
    weekly              TEXT NOT NULL,
    overrides           TEXT NOT NULL DEFAULT '[]',
    buffer_minutes      INTEGER NOT NULL,
    min_notice_minutes  INTEGER NOT NULL,
    max_advance_days    INTEGER NOT NULL,
    slot_minutes        INTEGER NOT NULL,
    daily_limit         INTEGER,
    updated_at          TEXT NOT NULL
) STRICT;

-- A booked session. `sequence` counts changes (the ICS SEQUENCE); a rating is given once.
CREATE TABLE appointments (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    practitioner_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    booked_by        TEXT NOT NULL,
    starts_at        TEXT NOT NULL,
    ends_at          TEXT NOT NULL,
    type             TEXT NOT NULL CHECK (type IN ('video', 'phone', 'chat', 'in_person')),
    status           TEXT NOT NULL CHECK (status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show')),
    notes            TEXT,
    location         TEXT,
    free             INTEGER NOT NULL DEFAULT 0 CHECK (free IN (0, 1)),
    cancel_reason    TEXT,
    cancelled_by     TEXT,
    cancelled_at     TEXT,
    completed_at     TEXT,
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_feedback  TEXT,
    rated_at         TEXT,
    sequence         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CHECK (ends_at > starts_at)
) STRICT;
-- The overlap checks and calendars read a person's sessions by time.
CREATE INDEX appointments_practitioner ON appointments (practitioner_id, starts_at);
CREATE INDEX appointments_client ON appointments (client_id, starts_at);
CREATE INDEX appointments_org ON appointments (org_id, starts_at);

-- A personal ICS subscription: only the token's hash is kept; rotating replaces it.
CREATE TABLE calendar_feeds (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
) STRICT;

-- Free passes (003 §4): a code with an expiry and a number of uses.
CREATE TABLE passes (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    code        TEXT NOT NULL UNIQUE,
    uses        INTEGER NOT NULL CHECK (uses >= 1),
    used        INTEGER NOT NULL DEFAULT 0,
    expires_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CHECK (used <= uses)
) STRICT;
CREATE INDEX passes_org ON passes (org_id, created_at);

-- Who redeemed a pass, and the free session it paid for once booked.
CREATE TABLE pass_redemptions (
    pass_id         TEXT NOT NULL REFERENCES passes (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointment_id  TEXT,
    redeemed_at     TEXT NOT NULL,
    PRIMARY KEY (pass_id, user_id)
) STRICT;
CREATE INDEX pass_redemptions_user ON pass_redemptions (user_id, appointment_id);

-- The client's prep checklist before a first session: items done.
CREATE TABLE prep_checklist (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    item     TEXT NOT NULL,
    done_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, item)
) STRICT, WITHOUT ROWID;

-- Feedback on a session or the programme. Anonymous feedback keeps its author for the
-- author's own export and erasure, and never shows it.
CREATE TABLE feedback (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    author_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointment_id   TEXT REFERENCES appointments (id) ON DELETE SET NULL,
    practitioner_id  TEXT,
    rating           INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comments         TEXT,
    category         TEXT NOT NULL,
    anonymous        INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
    created_at       TEXT NOT NULL
) STRICT;
CREATE INDEX feedback_org ON feedback (org_id, created_at);
CREATE INDEX feedback_practitioner ON feedback (practitioner_id, created_at);

-- Practitioners' notes on a client's progress after sessions (never shown to the client).
CREATE TABLE progress_logs (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    client_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointment_id  TEXT REFERENCES appointments (id) ON DELETE SET NULL,
    text            TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX progress_logs_client ON progress_logs (client_id, created_at);

-- A practitioner's training funnel: steps (from the org setting) they have done.
CREATE TABLE training_steps (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step     TEXT NOT NULL,
    done_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, step)
) STRICT, WITHOUT ROWID;

-- A practitioner's connected Google Calendar: tokens sealed with the data key, PKCE state
-- while the consent is under way.
CREATE TABLE calendar_connections (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    provider       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'connected', 'failed')),
    sealed_tokens  TEXT,
    state          TEXT UNIQUE,
    verifier       TEXT,
    calendar_id    TEXT NOT NULL DEFAULT 'primary',
    connected_at   TEXT,
    synced_at      TEXT,
    last_error     TEXT,
    updated_at     TEXT NOT NULL
) STRICT;

-- Busy blocks read from a connected calendar (replaced on each sync); they block slots.
CREATE TABLE calendar_busy (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL
) STRICT;
CREATE INDEX calendar_busy_user ON calendar_busy (user_id, starts_at);

-- The event a session became in a connected calendar, to move or cancel it later.
CREATE TABLE calendar_events (
    appointment_id  TEXT NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    PRIMARY KEY (appointment_id, user_id)
) STRICT, WITHOUT ROWID;
