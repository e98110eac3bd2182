-- A block made in an anonymous conversation binds that conversation's pseudonyms, not the
-- people under their own names (API.md): it stops delivery there and pairing the two again, and
-- nothing else — so trying ids elsewhere reveals nobody. A block made where both are named
-- (`conversation_id` NULL) binds the people.
CREATE TABLE cm_blocks_scoped (
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id  TEXT REFERENCES cm_conversations (id) ON DELETE CASCADE,
    created_at       TEXT NOT NULL
) STRICT;

-- Blocks made so far in an anonymous conversation (paired, or either side anonymous) become
-- that conversation's; the rest stay the people's.
INSERT INTO cm_blocks_scoped (user_id, blocked_id, conversation_id, created_at)
SELECT b.user_id, b.blocked_id,
       (SELECT c.id FROM cm_conversations c
        JOIN cm_participants p ON p.conversation_id = c.id AND p.user_id = b.user_id
        JOIN cm_participants q ON q.conversation_id = c.id AND q.user_id = b.blocked_id
        WHERE c.paired = 1 OR p.anonymous = 1 OR q.anonymous = 1
        ORDER BY c.created_at DESC LIMIT 1),
       b.created_at
FROM cm_blocks b;

DROP TABLE cm_blocks;
ALTER TABLE cm_blocks_scoped RENAME TO cm_blocks;
CREATE UNIQUE INDEX cm_blocks_once ON cm_blocks (user_id, blocked_id, coalesce(conversation_id, ''));
CREATE INDEX cm_blocks_blocked ON cm_blocks (blocked_id, user_id);
CREATE INDEX cm_blocks_conversation ON cm_blocks (conversation_id) WHERE conversation_id IS NOT NULL;
