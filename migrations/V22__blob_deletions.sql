-- Stored bytes being deleted (files::blobs). Bytes are stored before the row that names them is
-- written (an S3 upload must not hold the writer), so files.cleanup claims an unnamed blob here,
-- in the writer, before deleting it. An upload that began before a claim, or during one, sees
-- the claim's round change and stores its bytes again.
CREATE TABLE blob_deletions (
    sha256      TEXT PRIMARY KEY,
    round       INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished    INTEGER NOT NULL DEFAULT 0
) STRICT;
