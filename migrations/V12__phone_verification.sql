-- SMS goes only to numbers their owner proved to hold: a code sent by SMS, typed back.
ALTER TABLE users ADD COLUMN phone_verified_at TEXT;

-- The code on its way (its hash only), for the number it was sent to; a few tries at most.
CREATE TABLE phone_verifications (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;
