-- Participation over any period in one row per person and year (issue 15's 90-day figures):
-- `wp_user_years` holds a bit per day of the year a person logged (day d of the year is bit
-- d % 64 of word w{d / 64}) and the department they last logged in, so "who logged between two
-- dates" reads one row per person instead of one per month, grouped by department in index
-- order without a sort. It replaces `wp_user_months` (which also kept the latest department).
--
-- WEMWBS "latest per person in the period" reads only each person's latest result: every result
-- knows when its person's next one was taken (`next_taken_at`, NULL for the latest), kept by
-- trigger, so the latest in [from, to] is the one taken in it whose next is after `to`.
--
-- The trend and most of the averages read weekly sums per department and domain
-- (`wp_dept_week_sums`) instead of seven daily rows each.

CREATE TABLE wp_user_years (
    org_id         TEXT NOT NULL,
    year           TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    w0             INTEGER NOT NULL,
    w1             INTEGER NOT NULL,
    w2             INTEGER NOT NULL,
    w3             INTEGER NOT NULL,
    w4             INTEGER NOT NULL,
    w5             INTEGER NOT NULL,
    PRIMARY KEY (org_id, year, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX wp_user_years_user ON wp_user_years (user_id);
CREATE INDEX wp_user_years_department ON wp_user_years (org_id, year, department_id, w0, w1, w2, w3, w4, w5);

INSERT INTO wp_user_years (org_id, year, department_id, user_id, w0, w1, w2, w3, w4, w5)
SELECT org_id, substr(date, 1, 4), '', user_id,
       sum(DISTINCT CASE WHEN (CAST(strftime('%j', date) AS INTEGER) - 1) / 64 = 0 THEN 1 << ((CAST(strftime('%j', date) AS INTEGER) - 1) % 64) ELSE 0 END),
       sum(DISTINCT CASE WHEN (CAST(strftime('%j', date) AS INTEGER) - 1) / 64 = 1 THEN 1 << ((CAST(strftime('%j', date) AS INTEGER) - 1) % 64) ELSE 0 END),
       sum(DISTINCT CASE WHEN (CAST(strftime('%j', date) AS INTEGER) - 1) / 64 = 2 THEN 1 << ((CAST(strftime('%j', date) AS INTEGER) - 1) % 64) ELSE 0 END),
       sum(DISTINCT CASE WHEN (CAST(strftime('%j', date) AS INTEGER) - 1) / 64 = 3 THEN 1 << ((CAST(strftime('%j', date) AS INTEGER) - 1) % 64) ELSE 0 END),
       sum(DISTINCT CASE WHEN (CAST(strftime('%j', date) AS INTEGER) - 1) / 64 = 4 THEN 1 << ((CAST(strftime('%j', date) AS INTEGER) - 1) % 64) ELSE 0 END),
       sum(DISTINCT CASE WHEN (CAST(strftime('%j', date) AS INTEGER) - 1) / 64 = 5 THEN 1 << ((CAST(strftime('%j', date) AS INTEGER) - 1) % 64) ELSE 0 END)
FROM wp_logs GROUP BY org_id, 2, user_id;
UPDATE wp_user_years SET department_id = coalesce((
    SELECT m.department_id FROM wp_user_months m
    WHERE m.user_id = wp_user_years.user_id AND m.org_id = wp_user_years.org_id AND substr(m.month, 1, 4) = wp_user_years.year
    ORDER BY m.month DESC LIMIT 1), '');

-- Sums per department ('' for none), week (from Monday) and domain: the trend reads these, and
-- the averages read whole weeks here and only the days at the period's edges from wp_dept_days.
CREATE TABLE wp_dept_week_sums (
    org_id         TEXT NOT NULL,
    week           TEXT NOT NULL,
    department_id  TEXT NOT NULL,
    domain_id      TEXT NOT NULL,
    total          INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (org_id, week, department_id, domain_id)
) STRICT, WITHOUT ROWID;
INSERT INTO wp_dept_week_sums (org_id, week, department_id, domain_id, total, n)
SELECT org_id, date(date, '-6 days', 'weekday 1'), department_id, domain_id, sum(total), sum(n)
FROM wp_dept_days GROUP BY 1, 2, 3, 4;

DROP TRIGGER wp_logs_added;
DROP TRIGGER wp_logs_removed;
DROP TRIGGER wp_logs_changed;
DROP TABLE wp_user_months;

CREATE TRIGGER wp_logs_added AFTER INSERT ON wp_logs BEGIN
    INSERT INTO wp_user_periods (user_id, kind, start, domain_id, total, n)
    VALUES (new.user_id, 'w', date(new.date, '-6 days', 'weekday 1'), new.domain_id, new.score, 1),
           (new.user_id, 'q', printf('%s-%02d-01', substr(new.date, 1, 4), ((CAST(substr(new.date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1), new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
    INSERT INTO wp_dept_days (org_id, department_id, date, domain_id, total, n)
    VALUES (new.org_id, coalesce(new.department_id, ''), new.date, new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
    INSERT INTO wp_user_weeks (org_id, week, user_id, department_id, days)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), new.user_id, coalesce(new.department_id, ''), 1 << CAST(strftime('%w', new.date) AS INTEGER))
    ON CONFLICT DO UPDATE SET days = days | excluded.days;
    INSERT INTO wp_user_years (org_id, year, department_id, user_id, w0, w1, w2, w3, w4, w5)
    VALUES (new.org_id, substr(new.date, 1, 4), coalesce(new.department_id, ''), new.user_id,
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 0) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 1) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 2) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 3) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 4) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 5) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)))
    ON CONFLICT DO UPDATE SET department_id = excluded.department_id, w0 = w0 | excluded.w0, w1 = w1 | excluded.w1, w2 = w2 | excluded.w2, w3 = w3 | excluded.w3, w4 = w4 | excluded.w4, w5 = w5 | excluded.w5;
    INSERT INTO wp_dept_week_sums (org_id, week, department_id, domain_id, total, n)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), coalesce(new.department_id, ''), new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
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
    UPDATE wp_user_weeks SET days = (
        SELECT coalesce(sum(DISTINCT 1 << CAST(strftime('%w', date) AS INTEGER)), 0) FROM wp_logs
        WHERE user_id = old.user_id AND date BETWEEN date(old.date, '-6 days', 'weekday 1') AND date(old.date, '-6 days', 'weekday 1', '+6 days'))
    WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND user_id = old.user_id;
    DELETE FROM wp_user_weeks WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND user_id = old.user_id AND days = 0;
    UPDATE wp_user_years SET
        w0 = w0 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 0) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w1 = w1 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 1) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w2 = w2 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 2) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w3 = w3 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 3) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w4 = w4 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 4) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w5 = w5 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 5) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64))
    WHERE org_id = old.org_id AND year = substr(old.date, 1, 4) AND user_id = old.user_id
      AND NOT EXISTS (SELECT 1 FROM wp_logs l WHERE l.user_id = old.user_id AND l.date = old.date);
    DELETE FROM wp_user_years WHERE org_id = old.org_id AND year = substr(old.date, 1, 4) AND user_id = old.user_id AND w0 = 0 AND w1 = 0 AND w2 = 0 AND w3 = 0 AND w4 = 0 AND w5 = 0;
    UPDATE wp_dept_week_sums SET total = total - old.score, n = n - 1 WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND department_id = coalesce(old.department_id, '') AND domain_id = old.domain_id;
    DELETE FROM wp_dept_week_sums WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND department_id = coalesce(old.department_id, '') AND domain_id = old.domain_id AND n <= 0;
END;

CREATE TRIGGER wp_logs_changed AFTER UPDATE OF score, date, domain_id ON wp_logs BEGIN
    UPDATE wp_dept_week_sums SET total = total - old.score, n = n - 1 WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND department_id = coalesce(old.department_id, '') AND domain_id = old.domain_id;
    DELETE FROM wp_dept_week_sums WHERE org_id = old.org_id AND week = date(old.date, '-6 days', 'weekday 1') AND department_id = coalesce(old.department_id, '') AND domain_id = old.domain_id AND n <= 0;
    UPDATE wp_user_years SET
        w0 = w0 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 0) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w1 = w1 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 1) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w2 = w2 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 2) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w3 = w3 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 3) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w4 = w4 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 4) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64)),
        w5 = w5 & ~(((CAST(strftime('%j', old.date) AS INTEGER) - 1) / 64 = 5) << ((CAST(strftime('%j', old.date) AS INTEGER) - 1) % 64))
    WHERE org_id = old.org_id AND year = substr(old.date, 1, 4) AND user_id = old.user_id
      AND NOT EXISTS (SELECT 1 FROM wp_logs l WHERE l.user_id = old.user_id AND l.date = old.date);
    DELETE FROM wp_user_years WHERE org_id = old.org_id AND year = substr(old.date, 1, 4) AND user_id = old.user_id AND w0 = 0 AND w1 = 0 AND w2 = 0 AND w3 = 0 AND w4 = 0 AND w5 = 0;
    UPDATE wp_user_periods SET total = total - old.score, n = n - 1
    WHERE user_id = old.user_id AND domain_id = old.domain_id
      AND ((kind = 'w' AND start = date(old.date, '-6 days', 'weekday 1'))
        OR (kind = 'q' AND start = printf('%s-%02d-01', substr(old.date, 1, 4), ((CAST(substr(old.date, 6, 2) AS INTEGER) - 1) / 3) * 3 + 1)));
    DELETE FROM wp_user_periods WHERE user_id = old.user_id AND domain_id = old.domain_id AND n <= 0;
    UPDATE wp_dept_days SET total = total - old.score, n = n - 1
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '') AND date = old.date AND domain_id = old.domain_id;
    DELETE FROM wp_dept_days
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '') AND date = old.date AND domain_id = old.domain_id AND n <= 0;
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
    INSERT INTO wp_user_weeks (org_id, week, user_id, department_id, days)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), new.user_id, coalesce(new.department_id, ''), 1 << CAST(strftime('%w', new.date) AS INTEGER))
    ON CONFLICT DO UPDATE SET days = days | excluded.days;
    INSERT INTO wp_user_years (org_id, year, department_id, user_id, w0, w1, w2, w3, w4, w5)
    VALUES (new.org_id, substr(new.date, 1, 4), coalesce(new.department_id, ''), new.user_id,
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 0) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 1) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 2) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 3) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 4) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 5) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)))
    ON CONFLICT DO UPDATE SET department_id = excluded.department_id, w0 = w0 | excluded.w0, w1 = w1 | excluded.w1, w2 = w2 | excluded.w2, w3 = w3 | excluded.w3, w4 = w4 | excluded.w4, w5 = w5 | excluded.w5;
    INSERT INTO wp_dept_week_sums (org_id, week, department_id, domain_id, total, n)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), coalesce(new.department_id, ''), new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
END;

ALTER TABLE wp_assessments ADD COLUMN next_taken_at TEXT;
UPDATE wp_assessments SET next_taken_at = (
    SELECT min(b.taken_at) FROM wp_assessments b
    WHERE b.user_id = wp_assessments.user_id
      AND (b.taken_at > wp_assessments.taken_at OR (b.taken_at = wp_assessments.taken_at AND b.id > wp_assessments.id)));
DROP INDEX wp_assessments_org;
-- Each person's latest result (the usual period ends today), then those followed after `to`.
CREATE INDEX wp_assessments_latest ON wp_assessments (org_id, taken_at, category, department_id, next_taken_at) WHERE next_taken_at IS NULL;
CREATE INDEX wp_assessments_next ON wp_assessments (org_id, next_taken_at, taken_at, category, department_id) WHERE next_taken_at IS NOT NULL;

-- Results are ordered by (taken_at, id); the one before a new result now leads to it.
CREATE TRIGGER wp_assessments_added AFTER INSERT ON wp_assessments BEGIN
    UPDATE wp_assessments SET next_taken_at = (
        SELECT min(b.taken_at) FROM wp_assessments b
        WHERE b.user_id = new.user_id AND (b.taken_at > new.taken_at OR (b.taken_at = new.taken_at AND b.id > new.id)))
    WHERE id = new.id;
    UPDATE wp_assessments SET next_taken_at = new.taken_at
    WHERE id = (SELECT b.id FROM wp_assessments b
                WHERE b.user_id = new.user_id AND (b.taken_at < new.taken_at OR (b.taken_at = new.taken_at AND b.id < new.id))
                ORDER BY b.taken_at DESC, b.id DESC LIMIT 1);
END;

CREATE TRIGGER wp_assessments_removed AFTER DELETE ON wp_assessments BEGIN
    UPDATE wp_assessments SET next_taken_at = old.next_taken_at
    WHERE id = (SELECT b.id FROM wp_assessments b
                WHERE b.user_id = old.user_id AND (b.taken_at < old.taken_at OR (b.taken_at = old.taken_at AND b.id < old.id))
                ORDER BY b.taken_at DESC, b.id DESC LIMIT 1);
END;
