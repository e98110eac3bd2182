-- First run: the one-time link `haven serve` prints while no superadmin exists. Only the
-- token's hash is kept; the link works for an hour, once, and a newer link replaces it.
CREATE TABLE setup_tokens (
    token_hash  TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
) STRICT, WITHOUT ROWID;
