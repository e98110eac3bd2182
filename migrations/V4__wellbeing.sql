-- Personal wellbeing (seed 001): mood entries, the journal with full-text search, goals with
-- daily check-ins, and unlocked achievements. Every row belongs to one user (and their org).

CREATE TABLE mood_entries (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    mood        INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 5),
    note        TEXT,
    factors     TEXT NOT NULL DEFAULT '[]',     -- JSON array of strings
    date        TEXT NOT NULL,                  -- YYYY-MM-DD, in the user's time zone
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
-- Lists (newest first) and the stats (which read only date and mood) come from this index.
CREATE INDEX mood_entries_user_date ON mood_entries (user_id, date, mood, created_at);

-- `seq` is the FTS rowid: an INTEGER PRIMARY KEY never changes (VACUUM may renumber an
-- implicit rowid).
CREATE TABLE journal_entries (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    title        TEXT NOT NULL,
    content      TEXT NOT NULL,
    mood         TEXT NOT NULL CHECK (mood IN ('happy', 'neutral', 'sad')),
    tags         TEXT NOT NULL DEFAULT '[]',    -- JSON array of strings
    is_favorite  INTEGER NOT NULL DEFAULT 0 CHECK (is_favorite IN (0, 1)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX journal_entries_user_created ON journal_entries (user_id, created_at);

-- Full-text index over title and content. `owner` holds one token per user, so a search is the
-- intersection of that user's short doclist with the terms' (FTS5 seeks through the long ones).
-- Words are stemmed (porter): "breath" finds "breathing" without prefix queries, which would
-- merge every matching term's postings on each search. Contentless: the text lives in
-- journal_entries only.
CREATE VIRTUAL TABLE journal_fts USING fts5 (
    owner, title, content,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER journal_fts_insert AFTER INSERT ON journal_entries BEGIN
    INSERT INTO journal_fts (rowid, owner, title, content)
    VALUES (new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content);
END;
CREATE TRIGGER journal_fts_update AFTER UPDATE OF title, content ON journal_entries BEGIN
    DELETE FROM journal_fts WHERE rowid = old.seq;
    INSERT INTO journal_fts (rowid, owner, title, content)
    VALUES (new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content);
END;
CREATE TRIGGER journal_fts_delete AFTER DELETE ON journal_entries BEGIN
    DELETE FROM journal_fts WHERE rowid = old.seq;
END;

CREATE TABLE goals (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT,
    category      TEXT NOT NULL,
    target        REAL NOT NULL CHECK (target > 0),
    current       REAL NOT NULL DEFAULT 0 CHECK (current >= 0),
    unit          TEXT NOT NULL,
    completed_at  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX goals_user_created ON goals (user_id, created_at);

-- One row per goal and day on which `current` changed (the streak counts these days).
CREATE TABLE goal_checkins (
    goal_id  TEXT NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    date     TEXT NOT NULL,                  -- YYYY-MM-DD, in the user's time zone
    value    REAL NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (goal_id, date)
) STRICT, WITHOUT ROWID;

CREATE TABLE achievements_unlocked (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    unlocked_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX achievements_unlocked_at ON achievements_unlocked (user_id, unlocked_at);
