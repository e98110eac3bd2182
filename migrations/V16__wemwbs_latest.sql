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
