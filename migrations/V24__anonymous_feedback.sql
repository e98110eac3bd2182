-- Anonymous feedback carries nothing that links it to its author (API.md): no session, a day
-- without a time, and an id without a timestamp (UUIDv7 ids carry the instant they were made).
UPDATE feedback
SET appointment_id = NULL,
    created_at = substr(created_at, 1, 10) || 'T00:00:00.000Z',
    id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
         || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))
WHERE anonymous = 1;
