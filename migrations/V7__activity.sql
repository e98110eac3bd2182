-- One row per person per UTC day they used Haven (a sign-in or any request of a session):
-- the dashboard's "active people per day" without scanning sessions.
CREATE TABLE activity_days (
    org_id TEXT NOT NULL,
    day TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, day, user_id)
) WITHOUT ROWID;
CREATE INDEX activity_days_day ON activity_days (day);
CREATE INDEX activity_days_user ON activity_days (user_id);

-- What the sessions already know: the day each was last used and the day it began.
INSERT OR IGNORE INTO activity_days (org_id, day, user_id)
SELECT u.org_id, substr(s.last_used_at, 1, 10), s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id;
INSERT OR IGNORE INTO activity_days (org_id, day, user_id)
SELECT u.org_id, substr(s.created_at, 1, 10), s.user_id FROM auth_sessions s JOIN users u ON u.id = s.user_id;
