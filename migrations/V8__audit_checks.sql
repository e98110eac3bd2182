-- Each walk of the audit log's hash chain (the nightly `audit.verify` job, or a person asking
-- on the audit page), so the page can say when the log was last proven intact and a newly
-- broken chain alerts the operators once.
CREATE TABLE audit_checks (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    -- Entries walked and found sound (all of them when intact).
    entries INTEGER NOT NULL,
    -- The first entry that does not check out, and why; NULL when intact.
    broken_seq INTEGER,
    reason TEXT,
    -- Who asked; NULL for the nightly job.
    by_user TEXT REFERENCES users (id) ON DELETE SET NULL
);
