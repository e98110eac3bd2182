-- Workplace wellbeing (seed 000): wellness domains, daily logs and their offline sync, the
-- tables scores and analytics read instead of the logs, WEMWBS assessments, the onboarding
-- questionnaire, reports, reminders; and, for the orgs and notify features, subscriptions and
-- each org's wording of the built-in messages.

-- A wellness domain of an org (sleep, nutrition, ...): its score range and the thresholds of its
-- bands (below `amber` is red, from `green` on green). `key` never changes once created.
CREATE TABLE wp_domains (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    min_score   INTEGER NOT NULL,
    max_score   INTEGER NOT NULL,
    amber       INTEGER NOT NULL,
    green       INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    position    INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK (min_score < max_score AND min_score <= amber AND amber <= green AND green <= max_score)
) STRICT;
CREATE UNIQUE INDEX wp_domains_org_key ON wp_domains (org_id, key);

-- Every org gets the six default domains, however it is created (set-up, sign-up, POST /orgs).
CREATE TABLE wp_default_domains (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO wp_default_domains (key, name, position) VALUES
    ('sleep', 'Sleep', 1), ('nutrition', 'Nutrition', 2), ('movement', 'Movement', 3),
    ('mindfulness', 'Mindfulness', 4), ('connection', 'Connection', 5), ('work-life', 'Work-life balance', 6);

CREATE TRIGGER wp_domains_for_new_org AFTER INSERT ON orgs BEGIN
    INSERT INTO wp_domains (id, org_id, key, name, min_score, max_score, amber, green, position, created_at, updated_at)
    -- A random (version 4) UUID per row, as the API's ids are.
    SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
           substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), new.id, key, name, 1, 10, 5, 7, position, new.created_at, new.created_at
    FROM wp_default_domains;
END;

INSERT INTO wp_domains (id, org_id, key, name, min_score, max_score, amber, green, position, created_at, updated_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
           substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))), o.id, d.key, d.name, 1, 10, 5, 7, d.position, o.created_at, o.created_at
FROM orgs o, wp_default_domains d;

-- One log per person, day and domain. `department_id` is the person's department when they
-- logged (analytics count it there). `version` orders changes for /wellness/sync.
CREATE TABLE wp_logs (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    org_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    department_id  TEXT,
    domain_id      TEXT NOT NULL REFERENCES wp_domains (id),
    date           TEXT NOT NULL,
    score          INTEGER NOT NULL,
    note           TEXT,
    version        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX wp_logs_day ON wp_logs (user_id, date, domain_id);

-- The sync clock: each change to a person's logs takes the next number.
CREATE TABLE wp_sync_clock (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    now     INTEGER NOT NULL,
    -- Tombstones and applied tokens below this version were pruned: a cursor older than it
    -- gets a full copy (`reset: true`).
    pruned  INTEGER NOT NULL
) STRICT;
INSERT INTO wp_sync_clock (one, now, pruned) VALUES (1, 0, 0);

-- A deleted log, kept so devices that sync later learn of the deletion.
CREATE TABLE wp_tombstones (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    date        TEXT NOT NULL,
    domain_key  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    deleted_at  TEXT NOT NULL
) STRICT;
CREATE INDEX wp_tombstones_user ON wp_tombstones (user_id, version);

-- Each offline change applied, by its device's token: a retry answers the first outcome.
CREATE TABLE wp_sync_tokens (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_token  TEXT NOT NULL,
    log_id        TEXT,
    status        TEXT NOT NULL,
    error         TEXT,
    version       INTEGER NOT NULL,
    applied_at    TEXT NOT NULL,
    PRIMARY KEY (user_id, client_token)
) STRICT, WITHOUT ROWID;
CREATE INDEX wp_sync_tokens_version ON wp_sync_tokens (version);

-- A person's sums per week (`w`, from Monday) and quarter (`q`) and domain: the score series.
CREATE TABLE wp_user_periods (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('w', 'q')),
    start      TEXT NOT NULL,
    domain_id  TEXT NOT NULL,
    total      INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind, start, domain_id)
) STRICT, WITHOUT ROWID;

-- A person's rolling 7-day sums per domain, for the window ending `as_of` (their own today).
CREATE TABLE wp_rolling (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    domain_id  TEXT NOT NULL,
    as_of      TEXT NOT NULL,
    total      INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (user_id, domain_id)
) STRICT, WITHOUT ROWID;
-- When a person's window was last computed (also when they have no log in it).
CREATE TABLE wp_rolling_as_of (
    user_id  TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    as_of    TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Sums per department ('' for none), day and domain: the analytics' averages.
CREATE TABLE wp_dept_days (
    org_id         TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    date           TEXT NOT NULL,
    domain_id      TEXT NOT NULL,
    total          INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (org_id, department_id, date, domain_id)
) STRICT, WITHOUT ROWID;

-- Who logged on which days of a month (bit d-1 for day d): the analytics' distinct counts.
CREATE TABLE wp_user_months (
    org_id         TEXT NOT NULL,
    month          TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    days           INTEGER NOT NULL,
    PRIMARY KEY (org_id, month, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX wp_user_months_user ON wp_user_months (user_id);

-- Who logged in which week (from Monday; bit w for weekday w, Sunday 0), with the department
-- they logged in first that week; and, per department and week, how many did: the trend's
-- contributors, read without counting anyone.
CREATE TABLE wp_user_weeks (
    org_id         TEXT NOT NULL,
    week           TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    days           INTEGER NOT NULL,
    PRIMARY KEY (org_id, week, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX wp_user_weeks_user ON wp_user_weeks (user_id);

CREATE TABLE wp_dept_weeks (
    org_id         TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    week           TEXT NOT NULL,
    loggers        INTEGER NOT NULL,
    PRIMARY KEY (org_id, week, department_id)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER wp_user_weeks_added AFTER INSERT ON wp_user_weeks BEGIN
    INSERT INTO wp_dept_weeks (org_id, department_id, week, loggers) VALUES (new.org_id, new.department_id, new.week, 1)
    ON CONFLICT DO UPDATE SET loggers = loggers + 1;
END;

CREATE TRIGGER wp_user_weeks_removed AFTER DELETE ON wp_user_weeks BEGIN
    UPDATE wp_dept_weeks SET loggers = loggers - 1
    WHERE org_id = old.org_id AND week = old.week AND department_id = old.department_id;
    DELETE FROM wp_dept_weeks WHERE org_id = old.org_id AND week = old.week AND department_id = old.department_id AND loggers <= 0;
END;

-- The derived tables follow the logs in the same statement, also when a purge cascades.
CREATE TRIGGER wp_logs_added AFTER INSERT ON wp_logs BEGIN
    INSERT INTO wp_user_periods (user_id, kind, start, domain_id, total, n)
    VALUES (new.user_id, 'w', date(new.date, '-6 days', 'weekday 1'), new.domain_id, new.score, 1),
           (new.user_id, 'q', printf('%s-%02d-01', substr(new.date, 1, 4), ((CAST(substr(new.date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1), new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
    INSERT INTO wp_dept_days (org_id, department_id, date, domain_id, total, n)
    VALUES (new.org_id, coalesce(new.department_id, ''), new.date, new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
    INSERT INTO wp_user_months (org_id, month, user_id, department_id, days)
    VALUES (new.org_id, substr(new.date, 1, 7), new.user_id, coalesce(new.department_id, ''), 1 << (CAST(substr(new.date, 9, 2) AS INTEGER) - 1))
    ON CONFLICT DO UPDATE SET days = days | excluded.days, department_id = excluded.department_id;
    INSERT INTO wp_user_weeks (org_id, week, user_id, department_id, days)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), new.user_id, coalesce(new.department_id, ''), 1 << CAST(strftime('%w', new.date) AS INTEGER))
    ON CONFLICT DO UPDATE SET days = days | excluded.days;
END;

CREATE TRIGGER wp_logs_removed AFTER DELETE ON wp_logs BEGIN
    UPDATE wp_user_periods SET total = total - old.score, n = n - 1
    WHERE user_id = old.user_id AND domain_id = old.domain_id
      AND ((kind = 'w' AND start = date(old.date, '-6 days', 'weekday 1'))
        OR (kind = 'q' AND start = printf('%s-%02d-01', substr(old.date, 1, 4), ((CAST(substr(old.date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1)));
    DELETE FROM wp_user_periods WHERE user_id = old.user_id AND domain_id = old.domain_id AND n <= 0;
    UPDATE wp_dept_days SET total = total - old.score, n = n - 1
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '') AND date = old.date AND domain_id = old.domain_id;
    DELETE FROM wp_dept_days
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '') AND date = old.date AND domain_id = old.domain_id AND n <= 0;
    UPDATE wp_user_months SET days = (
        SELECT coalesce(sum(DISTINCT 1 << (CAST(substr(date, 9, 2) AS INTEGER) - 1)), 0) FROM wp_logs
        WHERE user_id = old.user_id AND date BETWEEN substr(old.date, 1, 7) || '-01' AND substr(old.date, 1, 7) || '-31')
    WHERE org_id = old.org_id AND month = substr(old.date, 1, 7) AND user_id = old.user_id;
    DELETE FROM wp_user_months WHERE org_id = old.org_id AND month = substr(old.date, 1, 7) AND user_id = old.user_id AND days = 0;
    UPDATE wp_user_weeks SET days = (
        SELECT coalesce(sum(DISTINCT 1 << CAST(strftime('%w', date) AS INTEGER)), 0) FROM wp_logs
        WHERE user_id = old.user_id AND date BETWEEN date(old.date, '-6 days', 'weekday 1') AND date(old.date, '-6 days', 'weekday 1', '+6 days'))
    WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND user_id = old.user_id;
    DELETE FROM wp_user_weeks WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND user_id = old.user_id AND days = 0;
END;

-- A changed score, day or domain: the old one out, the new one in (the same statements as above).
CREATE TRIGGER wp_logs_changed AFTER UPDATE OF score, date, domain_id ON wp_logs BEGIN
    UPDATE wp_user_periods SET total = total - old.score, n = n - 1
    WHERE user_id = old.user_id AND domain_id = old.domain_id
      AND ((kind = 'w' AND start = date(old.date, '-6 days', 'weekday 1'))
        OR (kind = 'q' AND start = printf('%s-%02d-01', substr(old.date, 1, 4), ((CAST(substr(old.date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1)));
    DELETE FROM wp_user_periods WHERE user_id = old.user_id AND domain_id = old.domain_id AND n <= 0;
    UPDATE wp_dept_days SET total = total - old.score, n = n - 1
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '') AND date = old.date AND domain_id = old.domain_id;
    DELETE FROM wp_dept_days
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '') AND date = old.date AND domain_id = old.domain_id AND n <= 0;
    UPDATE wp_user_months SET days = (
        SELECT coalesce(sum(DISTINCT 1 << (CAST(substr(date, 9, 2) AS INTEGER) - 1)), 0) FROM wp_logs
        WHERE user_id = old.user_id AND date BETWEEN substr(old.date, 1, 7) || '-01' AND substr(old.date, 1, 7) || '-31')
    WHERE org_id = old.org_id AND month = substr(old.date, 1, 7) AND user_id = old.user_id;
    DELETE FROM wp_user_months WHERE org_id = old.org_id AND month = substr(old.date, 1, 7) AND user_id = old.user_id AND days = 0;
    UPDATE wp_user_weeks SET days = (
        SELECT coalesce(sum(DISTINCT 1 << CAST(strftime('%w', date) AS INTEGER)), 0) FROM wp_logs
        WHERE user_id = old.user_id AND date BETWEEN date(old.date, '-6 days', 'weekday 1') AND date(old.date, '-6 days', 'weekday 1', '+6 days'))
    WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND user_id = old.user_id;
    DELETE FROM wp_user_weeks WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND user_id = old.user_id AND days = 0;
    INSERT INTO wp_user_periods (user_id, kind, start, domain_id, total, n)
    VALUES (new.user_id, 'w', date(new.date, '-6 days', 'weekday 1'), new.domain_id, new.score, 1),
           (new.user_id, 'q', printf('%s-%02d-01', substr(new.date, 1, 4), ((CAST(substr(new.date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1), new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
    INSERT INTO wp_dept_days (org_id, department_id, date, domain_id, total, n)
    VALUES (new.org_id, coalesce(new.department_id, ''), new.date, new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
    INSERT INTO wp_user_months (org_id, month, user_id, department_id, days)
    VALUES (new.org_id, substr(new.date, 1, 7), new.user_id, coalesce(new.department_id, ''), 1 << (CAST(substr(new.date, 9, 2) AS INTEGER) - 1))
    ON CONFLICT DO UPDATE SET days = days | excluded.days, department_id = excluded.department_id;
    INSERT INTO wp_user_weeks (org_id, week, user_id, department_id, days)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), new.user_id, coalesce(new.department_id, ''), 1 << CAST(strftime('%w', new.date) AS INTEGER))
    ON CONFLICT DO UPDATE SET days = days | excluded.days;
END;

-- Warwick-Edinburgh Mental Wellbeing Scale results (`answers`: the 14 answers, 1..5).
CREATE TABLE wp_assessments (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    department_id  TEXT,
    kind           TEXT NOT NULL CHECK (kind IN ('wemwbs')),
    answers        TEXT NOT NULL,
    total          INTEGER NOT NULL,
    category       TEXT NOT NULL CHECK (category IN ('low', 'moderate', 'high')),
    taken_at       TEXT NOT NULL
) STRICT;
CREATE INDEX wp_assessments_user ON wp_assessments (user_id, taken_at);
-- Covers the analytics' "latest per person in the period": walked in person order, no sort.
CREATE INDEX wp_assessments_org ON wp_assessments (org_id, user_id, taken_at, category, department_id);

-- An org's onboarding questions (JSON array); the built-in set until an admin saves one.
CREATE TABLE wp_questionnaires (
    org_id      TEXT PRIMARY KEY REFERENCES orgs (id),
    questions   TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT
) STRICT;

CREATE TABLE wp_onboarding_answers (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    answers       TEXT NOT NULL,
    submitted_at  TEXT NOT NULL
) STRICT;

-- Reports built by the outbox worker. A `user-weekly` report belongs to its person
-- (`user_id`); org reports to the org's admins. The file lives in `data.dir/reports/`.
CREATE TABLE wp_reports (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('user-weekly', 'org-monthly', 'org-departments')),
    format         TEXT NOT NULL CHECK (format IN ('pdf', 'csv')),
    from_date      TEXT NOT NULL,
    to_date        TEXT NOT NULL,
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    requested_by   TEXT REFERENCES users (id) ON DELETE SET NULL,
    scheduled      INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed', 'expired')),
    size_bytes     INTEGER,
    error          TEXT,
    created_at     TEXT NOT NULL,
    ready_at       TEXT,
    expires_at     TEXT
) STRICT;
CREATE INDEX wp_reports_user ON wp_reports (user_id, created_at);
CREATE INDEX wp_reports_org ON wp_reports (org_id, type, created_at);
CREATE INDEX wp_reports_expiry ON wp_reports (status, expires_at);
-- A scheduled report exists once per person and week, and once per org and month.
CREATE UNIQUE INDEX wp_reports_weekly_once ON wp_reports (user_id, from_date) WHERE scheduled = 1 AND type = 'user-weekly';
CREATE UNIQUE INDEX wp_reports_monthly_once ON wp_reports (org_id, from_date) WHERE scheduled = 1 AND type = 'org-monthly';
CREATE INDEX wp_reports_requested ON wp_reports (requested_by, status);

-- Reminders and nudges sent: one per person and slot (`2026-12-01 09`, `inactive 2026-11-20`).
CREATE TABLE wp_reminders_sent (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slot     TEXT NOT NULL,
    sent_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, slot)
) STRICT, WITHOUT ROWID;
CREATE INDEX wp_reminders_sent_at ON wp_reminders_sent (user_id, sent_at);

-- Who asked for an account's deletion: the person (theirs to undo) or an admin who removed them.
ALTER TABLE deletion_requests ADD COLUMN requested_by TEXT;

-- The analytics' head count per department ('' for none): active people, not removed, not the
-- operators or partners. Kept by trigger however a person is added, moved, suspended or erased.
CREATE TABLE wp_dept_people (
    org_id         TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    people         INTEGER NOT NULL,
    PRIMARY KEY (org_id, department_id)
) STRICT, WITHOUT ROWID;

INSERT INTO wp_dept_people (org_id, department_id, people)
SELECT org_id, coalesce(department_id, ''), count(*) FROM users
WHERE deleted_at IS NULL AND status = 'active' AND role NOT IN ('superadmin', 'partner')
GROUP BY 1, 2;

CREATE TRIGGER wp_people_added AFTER INSERT ON users
WHEN new.deleted_at IS NULL AND new.status = 'active' AND new.role NOT IN ('superadmin', 'partner') BEGIN
    INSERT INTO wp_dept_people (org_id, department_id, people) VALUES (new.org_id, coalesce(new.department_id, ''), 1)
    ON CONFLICT DO UPDATE SET people = people + 1;
END;

CREATE TRIGGER wp_people_removed AFTER DELETE ON users
WHEN old.deleted_at IS NULL AND old.status = 'active' AND old.role NOT IN ('superadmin', 'partner') BEGIN
    UPDATE wp_dept_people SET people = people - 1 WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '');
END;

CREATE TRIGGER wp_people_left AFTER UPDATE OF org_id, department_id, role, status, deleted_at ON users
WHEN old.deleted_at IS NULL AND old.status = 'active' AND old.role NOT IN ('superadmin', 'partner') BEGIN
    UPDATE wp_dept_people SET people = people - 1 WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '');
END;

CREATE TRIGGER wp_people_joined AFTER UPDATE OF org_id, department_id, role, status, deleted_at ON users
WHEN new.deleted_at IS NULL AND new.status = 'active' AND new.role NOT IN ('superadmin', 'partner') BEGIN
    INSERT INTO wp_dept_people (org_id, department_id, people) VALUES (new.org_id, coalesce(new.department_id, ''), 1)
    ON CONFLICT DO UPDATE SET people = people + 1;
END;

-- An org's plan, set by the operator. No row: self-hosted, no seat limit.
CREATE TABLE org_subscriptions (
    org_id      TEXT PRIMARY KEY REFERENCES orgs (id),
    plan        TEXT NOT NULL,
    seats       INTEGER,
    status      TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'cancelled')),
    renews_at   TEXT,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT
) STRICT;

-- An org's own wording of a built-in message (the built-in one when there is no row).
CREATE TABLE notification_templates (
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    key         TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT,
    PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;
