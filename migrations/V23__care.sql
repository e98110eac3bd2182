-- Care relationships (API.md "Care relationships and sharing"): who cares for whom, since when,
-- until when, how it began and who granted or ended it. It is what "their clients" means in
-- every feature (care::Reach). A client is a person (`client_user_id`) or a CRM record
-- (`crm_client_id`); a relationship with a record reaches the person it is linked to. An ended
-- relationship (`until` set) is kept as history and reaches nothing.
CREATE TABLE care_relationships (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    practitioner_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_user_id   TEXT REFERENCES users (id) ON DELETE CASCADE,
    crm_client_id    TEXT REFERENCES crm_clients (id) ON DELETE CASCADE,
    client_id        TEXT GENERATED ALWAYS AS (coalesce(client_user_id, crm_client_id)) VIRTUAL,
    role             TEXT NOT NULL CHECK (role IN ('primary', 'secondary')),
    origin           TEXT NOT NULL CHECK (origin IN ('assigned', 'client_booked', 'referral', 'crm')),
    -- The session or CRM record it began with (a cancelled session takes it back).
    origin_ref       TEXT,
    since            TEXT NOT NULL,
    until            TEXT,
    granted_by       TEXT REFERENCES users (id) ON DELETE SET NULL,
    ended_by         TEXT REFERENCES users (id) ON DELETE SET NULL,
    end_reason       TEXT,
    CHECK ((client_user_id IS NULL) <> (crm_client_id IS NULL))
) STRICT;
-- One live relationship per pair; every reach check reads a practitioner's live ones.
CREATE UNIQUE INDEX care_live ON care_relationships (practitioner_id, client_id) WHERE until IS NULL;
CREATE INDEX care_client ON care_relationships (client_id, since);
CREATE INDEX care_origin ON care_relationships (origin_ref) WHERE until IS NULL;

-- What a person shares with their care team, per category; nothing until they say so.
CREATE TABLE care_sharing (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    mood         INTEGER NOT NULL DEFAULT 0 CHECK (mood IN (0, 1)),
    journal      INTEGER NOT NULL DEFAULT 0 CHECK (journal IN (0, 1)),
    goals        INTEGER NOT NULL DEFAULT 0 CHECK (goals IN (0, 1)),
    assessments  INTEGER NOT NULL DEFAULT 0 CHECK (assessments IN (0, 1)),
    updated_at   TEXT NOT NULL
) STRICT;

-- Today's data made into relationships: each practitioner–client pair with a session the client
-- booked, or staff booked for them, that was not cancelled (the earliest begins it) ...
INSERT INTO care_relationships (id, org_id, practitioner_id, client_user_id, role, origin, origin_ref, since, granted_by)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
             || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       org_id, practitioner_id, client_id, 'secondary', origin, id, created_at, booked_by
FROM (
    SELECT a.id, a.org_id, a.practitioner_id, a.client_id, a.created_at, b.id AS booked_by,
           CASE WHEN a.booked_by = a.client_id THEN 'client_booked' ELSE 'assigned' END AS origin,
           row_number() OVER (PARTITION BY a.practitioner_id, a.client_id ORDER BY a.created_at, a.id) AS n
    FROM appointments a LEFT JOIN users b ON b.id = a.booked_by
    WHERE a.status <> 'cancelled'
      AND (a.booked_by = a.client_id OR b.role IN ('superadmin', 'admin', 'team'))
)
WHERE n = 1;

-- ... and each CRM record's coach and assignee.
INSERT INTO care_relationships (id, org_id, practitioner_id, crm_client_id, role, origin, origin_ref, since)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
             || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       org_id, who, id, 'secondary', 'crm', id, created_at
FROM (
    SELECT c.org_id, c.coach_id AS who, c.id, c.created_at FROM crm_clients c
    WHERE c.coach_id IS NOT NULL AND c.deleted_at IS NULL
    UNION
    SELECT c.org_id, c.assigned_to, c.id, c.created_at FROM crm_clients c
    WHERE c.assigned_to IS NOT NULL AND c.deleted_at IS NULL
);

-- The first to care for a client is their primary.
UPDATE care_relationships SET role = 'primary'
WHERE id IN (
    SELECT id FROM (
        SELECT r.id, row_number() OVER (
            PARTITION BY coalesce(k.user_id, r.client_id) ORDER BY r.since, r.id) AS n
        FROM care_relationships r LEFT JOIN crm_clients k ON k.id = r.crm_client_id
    )
    WHERE n = 1
);
