-- Each person's latest WEMWBS result, counted per department, UTC day and category: the
-- analytics' usual period ends today, and its "latest result per person" is then a sum over
-- a few hundred rows in key order instead of a walk over one row per person and a sort.
-- Kept by trigger as results arrive, are deleted or lose their place as the latest.
CREATE TABLE wp_wemwbs_latest (
    org_id         TEXT NOT NULL,
    department_id  TEXT NOT NULL,   -- '' for people in no department
    day            TEXT NOT NULL,   -- the UTC day the result was taken
    category       TEXT NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (org_id, department_id, day, category)
) STRICT, WITHOUT ROWID;

INSERT INTO wp_wemwbs_latest (org_id, department_id, day, category, n)
SELECT org_id, coalesce(department_id, ''), substr(taken_at, 1, 10), category, count(*)
FROM wp_assessments WHERE next_taken_at IS NULL GROUP BY 1, 2, 3, 4;

-- Replaced by the table above; the historic case (a period ending before today) keeps
-- wp_assessments_next.
DROP INDEX wp_assessments_latest;

CREATE TRIGGER wp_wemwbs_latest_added AFTER INSERT ON wp_assessments
WHEN new.next_taken_at IS NULL BEGIN
    INSERT INTO wp_wemwbs_latest (org_id, department_id, day, category, n)
    VALUES (new.org_id, coalesce(new.department_id, ''), substr(new.taken_at, 1, 10), new.category, 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER wp_wemwbs_latest_removed AFTER DELETE ON wp_assessments
WHEN old.next_taken_at IS NULL BEGIN
    UPDATE wp_wemwbs_latest SET n = n - 1
    WHERE org_id = old.org_id AND department_id = coalesce(old.department_id, '')
      AND day = substr(old.taken_at, 1, 10) AND category = old.category;
END;

-- A result stops (or starts) being its person's latest when a later one arrives (or goes).
CREATE TRIGGER wp_wemwbs_latest_changed
AFTER UPDATE OF org_id, department_id, taken_at, category, next_taken_at ON wp_assessments
WHEN old.next_taken_at IS NULL OR new.next_taken_at IS NULL BEGIN
    UPDATE wp_wemwbs_latest SET n = n - 1
    WHERE old.next_taken_at IS NULL AND org_id = old.org_id AND department_id = coalesce(old.department_id, '')
      AND day = substr(old.taken_at, 1, 10) AND category = old.category;
    INSERT INTO wp_wemwbs_latest (org_id, department_id, day, category, n)
    SELECT new.org_id, coalesce(new.department_id, ''), substr(new.taken_at, 1, 10), new.category, 1
    WHERE new.next_taken_at IS NULL
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- A person's second log of a day changes neither their week's days nor their year's bits:
-- the upserts leave those rows (and the department index entry) alone instead of rewriting
-- them with the same values.
DROP TRIGGER wp_logs_added;
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
    ON CONFLICT DO UPDATE SET days = days | excluded.days WHERE days <> (days | excluded.days);
    INSERT INTO wp_user_years (org_id, year, department_id, user_id, w0, w1, w2, w3, w4, w5)
    VALUES (new.org_id, substr(new.date, 1, 4), coalesce(new.department_id, ''), new.user_id,
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 0) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 1) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 2) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 3) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 4) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)),
           (((CAST(strftime('%j', new.date) AS INTEGER) - 1) / 64 = 5) << ((CAST(strftime('%j', new.date) AS INTEGER) - 1) % 64)))
    ON CONFLICT DO UPDATE SET department_id = excluded.department_id, w0 = w0 | excluded.w0, w1 = w1 | excluded.w1, w2 = w2 | excluded.w2, w3 = w3 | excluded.w3, w4 = w4 | excluded.w4, w5 = w5 | excluded.w5
    WHERE department_id <> excluded.department_id OR w0 <> (w0 | excluded.w0) OR w1 <> (w1 | excluded.w1) OR w2 <> (w2 | excluded.w2)
       OR w3 <> (w3 | excluded.w3) OR w4 <> (w4 | excluded.w4) OR w5 <> (w5 | excluded.w5);
    INSERT INTO wp_dept_week_sums (org_id, week, department_id, domain_id, total, n)
    VALUES (new.org_id, date(new.date, '-6 days', 'weekday 1'), coalesce(new.department_id, ''), new.domain_id, new.score, 1)
    ON CONFLICT DO UPDATE SET total = total + excluded.total, n = n + 1;
END;
