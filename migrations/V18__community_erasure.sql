-- When a person's account is erased, the words they wrote in the community go with it: each
-- of their messages stays in its conversation or group (so the other side still reads the
-- thread) as "Message removed", with no content and no sender.
CREATE TRIGGER cm_messages_erased BEFORE DELETE ON users BEGIN
    UPDATE cm_messages SET content = NULL, hidden = 'erased' WHERE sender_id = old.id;
END;
