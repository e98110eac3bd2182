-- GitHub sign-in: the GitHub user id an account is linked to (like google_sub).
ALTER TABLE users ADD COLUMN github_id TEXT;
CREATE UNIQUE INDEX users_github_id ON users (github_id) WHERE github_id IS NOT NULL;
