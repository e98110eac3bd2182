-- Community (seed 001): support groups, anonymous one-to-one conversations, their messages,
-- blocks and the moderation queue. Every row carries its org; nothing is shared across orgs.

-- A support group: public ones anyone in the org joins at once, private ones by a request the
-- owner or staff approve. `member_count` is kept by trigger.
CREATE TABLE cm_groups (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    category         TEXT NOT NULL,
    privacy          TEXT NOT NULL CHECK (privacy IN ('public', 'private')),
    owner_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    next_session_at  TEXT,
    member_count     INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX cm_groups_org ON cm_groups (org_id, category, name);

-- A person's place in a group. The row outlives leaving (`left`) so the alias they posted
-- under stays theirs: "Anonymous User #<alias_n>", and `alias_id` the pseudonym others see
-- as the sender's id — never the user id.
CREATE TABLE cm_group_members (
    group_id    TEXT NOT NULL REFERENCES cm_groups (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('member', 'requested', 'left')),
    alias_id    TEXT NOT NULL,
    alias_n     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX cm_group_members_user ON cm_group_members (user_id, status);
CREATE UNIQUE INDEX cm_group_members_alias ON cm_group_members (group_id, alias_n);

CREATE TRIGGER cm_group_members_added AFTER INSERT ON cm_group_members
WHEN new.status = 'member' BEGIN
    UPDATE cm_groups SET member_count = member_count + 1 WHERE id = new.group_id;
END;
CREATE TRIGGER cm_group_members_changed AFTER UPDATE OF status ON cm_group_members
WHEN (old.status = 'member') <> (new.status = 'member') BEGIN
    UPDATE cm_groups SET member_count = member_count + iif(new.status = 'member', 1, -1) WHERE id = new.group_id;
END;
CREATE TRIGGER cm_group_members_removed AFTER DELETE ON cm_group_members
WHEN old.status = 'member' BEGIN
    UPDATE cm_groups SET member_count = member_count - 1 WHERE id = old.group_id;
END;

-- A one-to-one conversation. `paired`: /chat/start chose the partner (both anonymous).
CREATE TABLE cm_conversations (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    paired           INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_message_at  TEXT,
    created_at       TEXT NOT NULL
) STRICT;

-- Its two people, each under an alias of their own in this conversation only. A person's
-- row stays (user_id NULL) when their account is erased, so the other keeps the thread.
CREATE TABLE cm_participants (
    conversation_id  TEXT NOT NULL REFERENCES cm_conversations (id) ON DELETE CASCADE,
    user_id          TEXT REFERENCES users (id) ON DELETE SET NULL,
    alias_id         TEXT NOT NULL,
    alias_n          INTEGER NOT NULL,
    anonymous        INTEGER NOT NULL,
    read_seq         INTEGER NOT NULL DEFAULT 0,
    joined_at        TEXT NOT NULL,
    UNIQUE (conversation_id, user_id),
    UNIQUE (conversation_id, alias_n)
) STRICT;
CREATE INDEX cm_participants_user ON cm_participants (user_id, conversation_id);

-- A message in a conversation or a group. `seq` orders a feed and is its cursor. Content is
-- NULL once removed: `hidden` says why (a moderator hid it, or its sender's account was
-- erased) and readers see "message removed".
CREATE TABLE cm_messages (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    org_id           TEXT NOT NULL,
    conversation_id  TEXT REFERENCES cm_conversations (id) ON DELETE CASCADE,
    group_id         TEXT REFERENCES cm_groups (id) ON DELETE CASCADE,
    sender_id        TEXT REFERENCES users (id) ON DELETE SET NULL,
    content          TEXT,
    anonymous        INTEGER NOT NULL,
    hidden           TEXT CHECK (hidden IN ('moderator', 'erased')),
    flagged          INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    CHECK ((conversation_id IS NULL) <> (group_id IS NULL))
) STRICT;
CREATE INDEX cm_messages_conversation ON cm_messages (conversation_id, seq) WHERE conversation_id IS NOT NULL;
CREATE INDEX cm_messages_group ON cm_messages (group_id, seq) WHERE group_id IS NOT NULL;
CREATE INDEX cm_messages_sender ON cm_messages (sender_id, seq);

-- Who blocked whom: a blocked person can neither write to nor be paired with the blocker.
CREATE TABLE cm_blocks (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX cm_blocks_blocked ON cm_blocks (blocked_id, user_id);

-- The moderation queue: reports by people, and messages Haven flagged for crisis language
-- (no reporter). Resolving records the action, the notes and who decided.
CREATE TABLE cm_reports (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    message_id   TEXT NOT NULL REFERENCES cm_messages (id) ON DELETE CASCADE,
    reporter_id  TEXT REFERENCES users (id) ON DELETE SET NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('report', 'crisis')),
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    action       TEXT CHECK (action IN ('dismiss', 'hide_message', 'suspend_user')),
    notes        TEXT,
    resolved_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    resolved_at  TEXT,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX cm_reports_queue ON cm_reports (org_id, status, created_at);
CREATE INDEX cm_reports_message ON cm_reports (message_id);
