-- Activity for the dashboard, kept as it happens so the dashboard never scans sessions:
--   activity_days    one row per person per UTC day they used Haven (a sign-in or any request);
--   activity_counts  people active per org per day (the "active per day" chart);
--   users.last_active_day  the newest of those days (the "active in the last N days" figures).
-- A trigger keeps the last two in step with the first, whoever writes it.
CREATE TABLE activity_days (
    org_id TEXT NOT NULL,
    day TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, day, user_id)
) WITHOUT ROWID;
CREATE INDEX activity_days_user ON activity_days (user_id);

-- Aggregates only (no person in them), so they outlive an erased account.
CREATE TABLE activity_counts (
    org_id TEXT NOT NULL,
    day TEXT NOT NULL,
    people INTEGER NOT NULL,
    PRIMARY KEY (org_id, day)
) WITHOUT ROWID;
CREATE INDEX activity_counts_day ON activity_counts (day);

ALTER TABLE users ADD COLUMN last_active_day TEXT;
CREATE INDEX users_org_active ON users (org_id, last_active_day) WHERE deleted_at IS NULL;
CREATE INDEX users_active ON users (last_active_day) WHERE deleted_at IS NULL;
-- The dashboard's pass over people reads only this index.
CREATE INDEX users_org_summary ON users (org_id, role, status, created_at) WHERE deleted_at IS NULL;
CREATE INDEX auth_sessions_created ON auth_sessions (created_at);
-- The people lists' default order (newest first), without sorting every row.
CREATE INDEX users_newest ON users (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX users_org_newest ON users (org_id, created_at, id) WHERE deleted_at IS NULL;
-- An admin's list (always one org) sorted by e-mail or name, a page at a time.
CREATE INDEX users_org_email ON users (org_id, email) WHERE deleted_at IS NULL;
CREATE INDEX users_org_last_name ON users (org_id, last_name, id) WHERE deleted_at IS NULL;

CREATE TRIGGER activity_days_counted AFTER INSERT ON activity_days BEGIN
    INSERT INTO activity_counts (org_id, day, people) VALUES (NEW.org_id, NEW.day, 1)
        ON CONFLICT (org_id, day) DO UPDATE SET people = people + 1;
    UPDATE users SET last_active_day = NEW.day
        WHERE id = NEW.user_id AND (last_active_day IS NULL OR last_active_day < NEW.day);
END;

-- What the sessions already know: the day each began and the day it was last used.
INSERT OR IGNORE INTO activity_days (org_id, day, user_id)
SELECT u.org_id, substr(s.created_at, 1, 10), s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id;
INSERT OR IGNORE INTO activity_days (org_id, day, user_id)
SELECT u.org_id, substr(s.last_used_at, 1, 10), s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id;
