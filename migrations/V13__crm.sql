-- The CRM (seeds 002, 003 §7, 004): clients and customers, projects and milestones, notes and
-- their versions, the activity feed, the CRM timeline and internal logs, responses awaiting
-- approval, AI summaries and their usage, and one full-text index over all of it.
--
-- Tables whose rows are searched carry `seq INTEGER PRIMARY KEY` (VACUUM never renumbers it)
-- beside their UUID; the activity feed's `seq` is its cursor.

-- Permissions given to one person beyond their role (`responses.approve` to a supervisor).
ALTER TABLE users ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';

-- A person or company the business serves. `tags` is a JSON array (read copy); filtering by tag
-- goes through crm_client_tags. `coach_id` is the practitioner assigned by /team/assign-coach,
-- `assigned_to` anyone on staff (a customer-service officer). `user_id` links a member account.
CREATE TABLE crm_clients (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    org_id           TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('person', 'company')),
    first_name       TEXT,
    last_name        TEXT,
    company_name     TEXT,
    email            TEXT,
    phone            TEXT,
    status           TEXT NOT NULL CHECK (status IN ('lead', 'active', 'paused', 'completed')),
    tags             TEXT NOT NULL DEFAULT '[]',
    assigned_to      TEXT REFERENCES users (id) ON DELETE SET NULL,
    coach_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    user_id          TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_by       TEXT,
    last_contact_at  TEXT,
    archived_at      TEXT,
    deleted_at       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    name             TEXT GENERATED ALWAYS AS (
        CASE WHEN kind = 'company' AND coalesce(company_name, '') <> '' THEN company_name
             ELSE trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) END) VIRTUAL
) STRICT;
CREATE INDEX crm_clients_org ON crm_clients (org_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX crm_clients_org_status ON crm_clients (org_id, status, created_at) WHERE deleted_at IS NULL;
CREATE INDEX crm_clients_assigned ON crm_clients (assigned_to, created_at) WHERE deleted_at IS NULL;
CREATE INDEX crm_clients_coach ON crm_clients (coach_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX crm_clients_user ON crm_clients (user_id);
CREATE INDEX crm_clients_name ON crm_clients (org_id, name COLLATE NOCASE) WHERE deleted_at IS NULL;
CREATE INDEX crm_clients_deleted ON crm_clients (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE crm_client_tags (
    org_id     TEXT NOT NULL,
    tag        TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES crm_clients (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, tag, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX crm_client_tags_client ON crm_client_tags (client_id);

CREATE TABLE crm_projects (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    org_id           TEXT NOT NULL,
    client_id        TEXT NOT NULL REFERENCES crm_clients (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT,
    status           TEXT NOT NULL CHECK (status IN ('planned', 'active', 'on_hold', 'completed', 'cancelled')),
    start_date       TEXT,
    due_date         TEXT,
    budget_amount    INTEGER,
    budget_currency  TEXT,
    owner_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    assigned_to      TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX crm_projects_client ON crm_projects (client_id, created_at);
CREATE INDEX crm_projects_due ON crm_projects (due_date) WHERE due_date IS NOT NULL AND status IN ('planned', 'active', 'on_hold');

CREATE TABLE crm_milestones (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    project_id  TEXT NOT NULL REFERENCES crm_projects (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    due_date    TEXT,
    done        INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    done_at     TEXT,
    position    INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX crm_milestones_project ON crm_milestones (project_id, position);
CREATE INDEX crm_milestones_due ON crm_milestones (due_date) WHERE due_date IS NOT NULL AND done = 0;

-- A note on a client (project_id NULL) or on one of its projects. `content` is sanitized
-- HTML, `plain` its text (what the search index and the summarizer read).
CREATE TABLE crm_notes (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    org_id      TEXT NOT NULL,
    client_id   TEXT NOT NULL REFERENCES crm_clients (id) ON DELETE CASCADE,
    project_id  TEXT REFERENCES crm_projects (id) ON DELETE CASCADE,
    author_id   TEXT REFERENCES users (id) ON DELETE SET NULL,
    content     TEXT NOT NULL,
    plain       TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX crm_notes_client ON crm_notes (client_id, created_at);
CREATE INDEX crm_notes_project ON crm_notes (project_id, created_at) WHERE project_id IS NOT NULL;

-- Every version of a note, the current one included.
CREATE TABLE crm_note_versions (
    note_id     TEXT NOT NULL REFERENCES crm_notes (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    content     TEXT NOT NULL,
    author_id   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (note_id, version)
) STRICT, WITHOUT ROWID;

-- Every change, written in the transaction that made it. Rows name ids, not foreign keys: the
-- feed outlives what it tells about (a deleted note is still "note deleted").
CREATE TABLE crm_activity (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    org_id      TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    project_id  TEXT,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    summary     TEXT NOT NULL,
    changes     TEXT,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX crm_activity_org ON crm_activity (org_id, seq);
CREATE INDEX crm_activity_client ON crm_activity (client_id, seq);
CREATE INDEX crm_activity_project ON crm_activity (project_id, seq) WHERE project_id IS NOT NULL;
CREATE INDEX crm_activity_actor ON crm_activity (actor_id, created_at);

-- The CRM timeline (003 §7). Internal logs are entries of type 'internal' (team only).
-- `source_id` makes an inbound message (the chatbot's) land once.
CREATE TABLE crm_entries (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL,
    client_id    TEXT NOT NULL REFERENCES crm_clients (id) ON DELETE CASCADE,
    type         TEXT NOT NULL CHECK (type IN ('email', 'note', 'chatbot', 'meeting', 'session_note', 'internal')),
    body         TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    attachments  TEXT NOT NULL DEFAULT '[]',
    author_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
    source       TEXT,
    source_id    TEXT,
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX crm_entries_client ON crm_entries (client_id, seq);
CREATE INDEX crm_entries_org ON crm_entries (org_id, type, seq);
CREATE UNIQUE INDEX crm_entries_source ON crm_entries (org_id, source, source_id) WHERE source_id IS NOT NULL;

-- A reply to a customer (004): draft → pending_approval → approved (sent) or rejected.
CREATE TABLE crm_responses (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    client_id      TEXT NOT NULL REFERENCES crm_clients (id) ON DELETE CASCADE,
    author_id      TEXT REFERENCES users (id) ON DELETE SET NULL,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('draft', 'pending_approval', 'approved', 'rejected')),
    submitted_at   TEXT,
    decided_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    decided_at     TEXT,
    decision_notes TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX crm_responses_org ON crm_responses (org_id, status, updated_at);
CREATE INDEX crm_responses_client ON crm_responses (client_id, updated_at);
CREATE INDEX crm_responses_author ON crm_responses (author_id, status);

-- A summary is reused while its source (`source_hash`) is unchanged.
CREATE TABLE crm_summaries (
    subject      TEXT NOT NULL CHECK (subject IN ('client', 'project')),
    subject_id   TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    source_hash  TEXT NOT NULL,
    summary      TEXT NOT NULL,
    provider     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (subject, subject_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE ai_usage (
    org_id  TEXT NOT NULL,
    period  TEXT NOT NULL,          -- YYYY-MM (UTC)
    used    INTEGER NOT NULL,
    PRIMARY KEY (org_id, period)
) STRICT, WITHOUT ROWID;

-- Deadline reminders and weekly summaries sent, so each goes once.
CREATE TABLE crm_reminders_sent (
    key      TEXT PRIMARY KEY,
    sent_at  TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- One full-text index over clients, projects, notes and file names. `crm_docs` maps an index
-- row to what it is and the client whose reach decides who may see it; the index keeps its own
-- copy of the text (for snippets). Its `scope` column holds tokens that say who reaches the
-- row — `o<org>`, `k<kind>`, `c<client>`, `s<assignee>`, `h<coach>` (ids without dashes) — so
-- a search narrows to the caller's reach inside the index instead of ranking rows it then
-- throws away. Triggers keep them in step with assignments; a deleted client leaves the index.
CREATE TABLE crm_docs (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('client', 'project', 'note', 'file')),
    ref_id     TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    project_id TEXT
) STRICT;
CREATE INDEX crm_docs_client ON crm_docs (client_id);

CREATE VIEW crm_client_scope (client_id, tokens) AS
SELECT id, 'o' || replace(org_id, '-', '') || ' c' || replace(id, '-', '')
    || coalesce(' s' || replace(assigned_to, '-', ''), '') || coalesce(' h' || replace(coach_id, '-', ''), '')
FROM crm_clients;

CREATE VIRTUAL TABLE crm_fts USING fts5 (
    scope, title, body,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

CREATE TRIGGER crm_clients_index AFTER INSERT ON crm_clients BEGIN
    INSERT INTO crm_docs (kind, ref_id, org_id, client_id) VALUES ('client', new.id, new.org_id, new.id);
    INSERT INTO crm_fts (rowid, scope, title, body) VALUES (last_insert_rowid(),
        (SELECT tokens FROM crm_client_scope WHERE client_id = new.id) || ' kclient',
        new.name, concat_ws(' ', new.company_name, new.email, new.phone, replace(replace(replace(new.tags, '[', ''), ']', ''), '"', '')));
END;
CREATE TRIGGER crm_clients_reindex AFTER UPDATE OF kind, first_name, last_name, company_name, email, phone, tags ON crm_clients BEGIN
    UPDATE crm_fts SET title = new.name,
        body = concat_ws(' ', new.company_name, new.email, new.phone, replace(replace(replace(new.tags, '[', ''), ']', ''), '"', ''))
    WHERE rowid = (SELECT seq FROM crm_docs WHERE ref_id = new.id);
END;
CREATE TRIGGER crm_clients_rescope AFTER UPDATE OF assigned_to, coach_id ON crm_clients BEGIN
    UPDATE crm_fts SET scope = (SELECT tokens FROM crm_client_scope WHERE client_id = new.id)
        || ' k' || (SELECT kind FROM crm_docs WHERE seq = crm_fts.rowid)
    WHERE rowid IN (SELECT seq FROM crm_docs WHERE client_id = new.id);
END;
CREATE TRIGGER crm_clients_deleted AFTER UPDATE OF deleted_at ON crm_clients WHEN new.deleted_at IS NOT NULL BEGIN
    DELETE FROM crm_docs WHERE client_id = new.id;
END;

CREATE TRIGGER crm_projects_index AFTER INSERT ON crm_projects BEGIN
    INSERT INTO crm_docs (kind, ref_id, org_id, client_id, project_id) VALUES ('project', new.id, new.org_id, new.client_id, new.id);
    INSERT INTO crm_fts (rowid, scope, title, body) VALUES (last_insert_rowid(),
        (SELECT tokens FROM crm_client_scope WHERE client_id = new.client_id) || ' kproject',
        new.name, coalesce(new.description, ''));
END;
CREATE TRIGGER crm_projects_reindex AFTER UPDATE OF name, description ON crm_projects BEGIN
    UPDATE crm_fts SET title = new.name, body = coalesce(new.description, '')
    WHERE rowid = (SELECT seq FROM crm_docs WHERE ref_id = new.id);
END;

CREATE TRIGGER crm_notes_index AFTER INSERT ON crm_notes BEGIN
    INSERT INTO crm_docs (kind, ref_id, org_id, client_id, project_id) VALUES ('note', new.id, new.org_id, new.client_id, new.project_id);
    INSERT INTO crm_fts (rowid, scope, title, body) VALUES (last_insert_rowid(),
        (SELECT tokens FROM crm_client_scope WHERE client_id = new.client_id) || ' knote', '', new.plain);
END;
CREATE TRIGGER crm_notes_reindex AFTER UPDATE OF plain ON crm_notes BEGIN
    UPDATE crm_fts SET body = new.plain WHERE rowid = (SELECT seq FROM crm_docs WHERE ref_id = new.id);
END;

-- File names, for files attached to a client or project of the same org.
CREATE TRIGGER crm_files_index AFTER INSERT ON files
WHEN new.status = 'ready' AND (new.client_id IS NOT NULL OR new.project_id IS NOT NULL) BEGIN
    INSERT INTO crm_docs (kind, ref_id, org_id, client_id, project_id)
    SELECT 'file', new.id, new.org_id, c.id, p.id
    FROM crm_clients c LEFT JOIN crm_projects p ON p.id = new.project_id AND p.client_id = c.id
    WHERE c.org_id = new.org_id AND c.deleted_at IS NULL
      AND c.id = coalesce(new.client_id, (SELECT client_id FROM crm_projects WHERE id = new.project_id));
    INSERT INTO crm_fts (rowid, scope, title, body)
    SELECT d.seq, s.tokens || ' kfile', new.filename, '' FROM crm_docs d JOIN crm_client_scope s ON s.client_id = d.client_id
    WHERE d.ref_id = new.id;
END;
CREATE TRIGGER crm_files_ready AFTER UPDATE OF status ON files
WHEN new.status = 'ready' AND old.status <> 'ready' AND (new.client_id IS NOT NULL OR new.project_id IS NOT NULL) BEGIN
    INSERT OR IGNORE INTO crm_docs (kind, ref_id, org_id, client_id, project_id)
    SELECT 'file', new.id, new.org_id, c.id, p.id
    FROM crm_clients c LEFT JOIN crm_projects p ON p.id = new.project_id AND p.client_id = c.id
    WHERE c.org_id = new.org_id AND c.deleted_at IS NULL
      AND c.id = coalesce(new.client_id, (SELECT client_id FROM crm_projects WHERE id = new.project_id));
    INSERT OR IGNORE INTO crm_fts (rowid, scope, title, body)
    SELECT d.seq, s.tokens || ' kfile', new.filename, '' FROM crm_docs d JOIN crm_client_scope s ON s.client_id = d.client_id
    WHERE d.ref_id = new.id;
END;

-- Whatever leaves, leaves the index (a deleted client's rows go with it by cascade).
CREATE TRIGGER crm_docs_gone AFTER DELETE ON crm_docs BEGIN
    DELETE FROM crm_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER crm_clients_unindex AFTER DELETE ON crm_clients BEGIN
    DELETE FROM crm_docs WHERE client_id = old.id;
END;
CREATE TRIGGER crm_projects_unindex AFTER DELETE ON crm_projects BEGIN
    DELETE FROM crm_docs WHERE ref_id = old.id;
END;
CREATE TRIGGER crm_notes_unindex AFTER DELETE ON crm_notes BEGIN
    DELETE FROM crm_docs WHERE ref_id = old.id;
END;
CREATE TRIGGER crm_files_unindex AFTER DELETE ON files BEGIN
    DELETE FROM crm_docs WHERE ref_id = old.id;
END;

-- The index's vocabulary, per column: where the typo-tolerant pass finds close words.
CREATE VIRTUAL TABLE crm_fts_terms USING fts5vocab (crm_fts, 'col');
