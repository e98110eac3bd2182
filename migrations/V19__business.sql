-- The coaching business (seed 003 §5, §6, §10, §11, §13, §14): invoices and the payments that
-- settle them, milestone rules and the gifts they earn, quizzes and BMI results, the resource
-- centre, the e-store and stored KPI reports. Money is integer minor units with its currency.

-- An invoice to a CRM client. `items` is the API's JSON (each with its computed amount);
-- totals are computed when it is written and never trusted from the caller.
CREATE TABLE invoices (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL REFERENCES crm_clients (id),
    number        TEXT NOT NULL,
    currency      TEXT NOT NULL,
    items         TEXT NOT NULL,
    tax_rate_bps  INTEGER NOT NULL DEFAULT 0 CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    subtotal      INTEGER NOT NULL CHECK (subtotal >= 0),
    tax           INTEGER NOT NULL CHECK (tax >= 0),
    total         INTEGER NOT NULL CHECK (total >= 0),
    amount_paid   INTEGER NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'overdue', 'void')),
    notes         TEXT,
    issued_at     TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    paid_at       TEXT,
    voided_at     TEXT,
    void_reason   TEXT,
    reminded_at   TEXT,
    reminders     INTEGER NOT NULL DEFAULT 0,
    created_by    TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (org_id, number)
) STRICT;
CREATE INDEX invoices_org_status ON invoices (org_id, status, due_at);
CREATE INDEX invoices_client ON invoices (client_id, created_at);
CREATE INDEX invoices_org_created ON invoices (org_id, created_at);
-- The overdue job walks pending invoices by due date across orgs.
CREATE INDEX invoices_due ON invoices (due_at) WHERE status = 'pending';

-- The next number an org hands out: read and bumped inside the writer's transaction, so
-- numbers never repeat or skip under concurrency.
CREATE TABLE invoice_counters (
    org_id  TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    next    INTEGER NOT NULL
) STRICT;

-- Every gateway event, once: the gateway's id is the key, so a replay (even two at once)
-- finds its row and changes nothing. `outcome` says what it did.
CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    org_id       TEXT,
    invoice_id   TEXT,
    order_id     TEXT,
    amount       INTEGER,
    currency     TEXT,
    outcome      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  TEXT NOT NULL
) STRICT;
CREATE INDEX payment_events_org ON payment_events (org_id, received_at);

-- Money received (or a failed attempt) for an invoice or an order.
CREATE TABLE payments (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    invoice_id  TEXT,
    order_id    TEXT,
    event_id    TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    method      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('captured', 'failed')),
    failure     TEXT,
    created_at  TEXT NOT NULL,
    CHECK ((invoice_id IS NULL) <> (order_id IS NULL))
) STRICT;
CREATE INDEX payments_invoice ON payments (invoice_id);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_org ON payments (org_id, created_at);

-- Milestone rules an admin defines: reaching `threshold` of `type` earns `gift`.
CREATE TABLE milestone_rules (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (type IN ('sessions_completed', 'goal_achieved', 'feedback_given', 'orders_paid')),
    threshold   INTEGER NOT NULL CHECK (threshold BETWEEN 1 AND 100000),
    gift        TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_by  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX milestone_rules_org ON milestone_rules (org_id, type);

-- A rule a person reached, once.
CREATE TABLE milestones (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    rule_id      TEXT NOT NULL REFERENCES milestone_rules (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    progress     INTEGER NOT NULL,
    achieved_at  TEXT NOT NULL,
    UNIQUE (rule_id, user_id)
) STRICT;
CREATE INDEX milestones_user ON milestones (user_id, achieved_at);

-- The gift a milestone earned: pending until dispatched once, by one channel.
CREATE TABLE gifts (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    milestone_id   TEXT NOT NULL UNIQUE REFERENCES milestones (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    description    TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    channel        TEXT CHECK (channel IN ('email', 'sms', 'webhook')),
    dispatched_by  TEXT,
    dispatched_at  TEXT,
    delivered_at   TEXT,
    delivery       TEXT,
    created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX gifts_org_status ON gifts (org_id, status, created_at);

-- What happened that may reach a milestone: the cause queues one evaluation of that person
-- in the same transaction (the worker runs it once; evaluating is idempotent anyway).
CREATE TRIGGER milestones_on_session AFTER UPDATE OF status ON appointments
WHEN new.status = 'completed' AND old.status <> 'completed'
  AND EXISTS (SELECT 1 FROM milestone_rules WHERE org_id = new.org_id AND active = 1)
BEGIN
    INSERT OR IGNORE INTO outbox (id, kind, payload, run_at, idempotency_key, created_at, updated_at)
    VALUES (lower(hex(randomblob(16))), 'milestones.evaluate',
            json_object('orgId', new.org_id, 'userId', new.client_id),
            strftime('%Y-%m-%dT%H:%M:%fZ'),
            'milestones.evaluate:session:' || new.id || ':' || new.updated_at,
            strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ'));
END;
CREATE TRIGGER milestones_on_goal AFTER UPDATE OF completed_at ON goals
WHEN new.completed_at IS NOT NULL AND old.completed_at IS NULL
  AND EXISTS (SELECT 1 FROM milestone_rules WHERE org_id = new.org_id AND active = 1)
BEGIN
    INSERT OR IGNORE INTO outbox (id, kind, payload, run_at, idempotency_key, created_at, updated_at)
    VALUES (lower(hex(randomblob(16))), 'milestones.evaluate',
            json_object('orgId', new.org_id, 'userId', new.user_id),
            strftime('%Y-%m-%dT%H:%M:%fZ'),
            'milestones.evaluate:goal:' || new.id || ':' || new.completed_at,
            strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ'));
END;
CREATE TRIGGER milestones_on_new_goal AFTER INSERT ON goals
WHEN new.completed_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM milestone_rules WHERE org_id = new.org_id AND active = 1)
BEGIN
    INSERT OR IGNORE INTO outbox (id, kind, payload, run_at, idempotency_key, created_at, updated_at)
    VALUES (lower(hex(randomblob(16))), 'milestones.evaluate',
            json_object('orgId', new.org_id, 'userId', new.user_id),
            strftime('%Y-%m-%dT%H:%M:%fZ'),
            'milestones.evaluate:goal:' || new.id || ':' || new.completed_at,
            strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ'));
END;
CREATE TRIGGER milestones_on_feedback AFTER INSERT ON feedback
WHEN EXISTS (SELECT 1 FROM milestone_rules WHERE org_id = new.org_id AND active = 1)
BEGIN
    INSERT OR IGNORE INTO outbox (id, kind, payload, run_at, idempotency_key, created_at, updated_at)
    VALUES (lower(hex(randomblob(16))), 'milestones.evaluate',
            json_object('orgId', new.org_id, 'userId', new.author_id),
            strftime('%Y-%m-%dT%H:%M:%fZ'),
            'milestones.evaluate:feedback:' || new.id,
            strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ'));
END;

-- Quizzes an org added or edited; a built-in quiz (activity, parenting) an org edited is a
-- row with the built-in's slug, which then wins over the built-in.
CREATE TABLE quizzes (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    slug         TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    questions    TEXT NOT NULL,
    bands        TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    updated_by   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (org_id, slug)
) STRICT;

CREATE TABLE quiz_results (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    quiz_slug        TEXT NOT NULL,
    answers          TEXT NOT NULL,
    score            INTEGER NOT NULL,
    band             TEXT NOT NULL,
    recommendations  TEXT NOT NULL,
    created_at       TEXT NOT NULL
) STRICT;
CREATE INDEX quiz_results_user ON quiz_results (user_id, created_at);
CREATE INDEX quiz_results_org ON quiz_results (org_id, created_at);

CREATE TABLE bmi_results (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    height_cm        REAL NOT NULL,
    weight_kg        REAL NOT NULL,
    bmi_tenths       INTEGER NOT NULL,
    category         TEXT NOT NULL,
    created_at       TEXT NOT NULL
) STRICT;
CREATE INDEX bmi_results_user ON bmi_results (user_id, created_at);

-- The resource centre: articles, videos and tools. `body` is sanitized HTML; `body_text` its
-- words, which the search index reads.
CREATE TABLE contents (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    type        TEXT NOT NULL CHECK (type IN ('article', 'video', 'tool')),
    title       TEXT NOT NULL,
    summary     TEXT,
    body        TEXT NOT NULL,
    body_text   TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    visibility  TEXT NOT NULL CHECK (visibility IN ('members', 'staff', 'draft')),
    media_url   TEXT,
    author_id   TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX contents_org ON contents (org_id, created_at);
-- Tags, one row each, for `?tag=`.
CREATE TABLE content_tags (
    content_id  TEXT NOT NULL REFERENCES contents (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (org_id, tag, content_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX content_tags_content ON content_tags (content_id);
-- Stemmed words of titles, summaries and bodies; contentless (the text lives in `contents`).
CREATE VIRTUAL TABLE contents_fts USING fts5 (
    title, summary, body,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER contents_fts_insert AFTER INSERT ON contents BEGIN
    INSERT INTO contents_fts (rowid, title, summary, body)
    VALUES (new.seq, new.title, coalesce(new.summary, ''), new.body_text);
END;
CREATE TRIGGER contents_fts_update AFTER UPDATE OF title, summary, body_text ON contents BEGIN
    DELETE FROM contents_fts WHERE rowid = old.seq;
    INSERT INTO contents_fts (rowid, title, summary, body)
    VALUES (new.seq, new.title, coalesce(new.summary, ''), new.body_text);
END;
CREATE TRIGGER contents_fts_delete AFTER DELETE ON contents BEGIN
    DELETE FROM contents_fts WHERE rowid = old.seq;
END;

CREATE TABLE testimonials (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    author_name  TEXT NOT NULL,
    text         TEXT NOT NULL,
    rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    category     TEXT NOT NULL,
    media_url    TEXT,
    published    INTEGER NOT NULL DEFAULT 1 CHECK (published IN (0, 1)),
    created_by   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX testimonials_org ON testimonials (org_id, category, created_at);

-- The e-store. `stock` never goes below zero: checkout takes it in the writer's transaction.
CREATE TABLE products (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    type          TEXT NOT NULL CHECK (type IN ('digital', 'merch')),
    title         TEXT NOT NULL,
    description   TEXT,
    sku           TEXT NOT NULL,
    price         INTEGER NOT NULL CHECK (price >= 0),
    currency      TEXT NOT NULL,
    discount_bps  INTEGER NOT NULL DEFAULT 0 CHECK (discount_bps BETWEEN 0 AND 10000),
    stock         INTEGER NOT NULL CHECK (stock >= 0),
    active        INTEGER NOT NULL CHECK (active IN (0, 1)),
    file_id       TEXT,
    tags          TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (org_id, sku)
) STRICT;
CREATE INDEX products_org ON products (org_id, active, created_at);

CREATE TABLE cart_items (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity    INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    added_at    TEXT NOT NULL,
    UNIQUE (user_id, product_id)
) STRICT;

-- An order: placed (stock held, awaiting payment) → paid → shipped (merch) or fulfilled
-- (digital, when paid); cancelled gives its stock back. Items keep the price paid.
CREATE TABLE orders (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        TEXT NOT NULL CHECK (status IN ('placed', 'paid', 'shipped', 'fulfilled', 'cancelled')),
    currency      TEXT NOT NULL,
    subtotal      INTEGER NOT NULL,
    discount      INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    checkout_url  TEXT,
    gateway_ref   TEXT,
    tracking      TEXT,
    placed_at     TEXT NOT NULL,
    paid_at       TEXT,
    shipped_at    TEXT,
    fulfilled_at  TEXT,
    cancelled_at  TEXT,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX orders_user ON orders (user_id, placed_at);
CREATE INDEX orders_org ON orders (org_id, status, placed_at);

CREATE TABLE order_items (
    order_id    TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id  TEXT NOT NULL REFERENCES products (id),
    title       TEXT NOT NULL,
    type        TEXT NOT NULL,
    sku         TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price  INTEGER NOT NULL,
    discount    INTEGER NOT NULL,
    amount      INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
) STRICT, WITHOUT ROWID;

-- A stored KPI report (`POST /reports/generate`, the monthly job).
CREATE TABLE kpi_reports (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    period        TEXT NOT NULL,
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    coach_id      TEXT,
    data          TEXT NOT NULL,
    generated_by  TEXT,
    generated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX kpi_reports_org ON kpi_reports (org_id, generated_at);
-- The KPI report reads sessions by practitioner and time (appointments_practitioner), paid
-- revenue by org and time.
CREATE INDEX payments_org_captured ON payments (org_id, created_at) WHERE status = 'captured';
