-- Conditions the operators were told about (health::watch): one row per episode, from the check
-- that found the condition to the one that found it gone, so each episode is e-mailed once.
CREATE TABLE ops_alerts (
    id          INTEGER PRIMARY KEY,
    condition   TEXT NOT NULL,
    detail      TEXT NOT NULL,
    raised_at   TEXT NOT NULL,
    cleared_at  TEXT
) STRICT;
CREATE UNIQUE INDEX ops_alerts_open ON ops_alerts (condition) WHERE cleared_at IS NULL;
