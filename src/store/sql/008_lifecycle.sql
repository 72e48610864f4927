-- Issue #21: the work around a code. Queries are answered and closed (state `answered`), a
-- compound verbatim is split into parts (`split`, its parts linked by part_of/part_no; a part of a
-- split the reviewer returned is `void`), and work is assigned (the assignment table).
-- SQLite cannot widen a CHECK in place: the table is rebuilt (foreign keys are off while the
-- migrations run, checked after).
CREATE TABLE item_new (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    study TEXT NOT NULL,
    subject TEXT NOT NULL,
    reported_term TEXT NOT NULL,
    onset_date TEXT,
    seriousness TEXT,
    investigator TEXT,
    state TEXT NOT NULL CHECK (state IN ('new', 'proposed', 'returned', 'query', 'answered', 'split', 'void', 'confirmed')),
    llt_code INTEGER,
    pt_code INTEGER,
    meddra_version TEXT,
    source TEXT,
    proposer TEXT,
    reviewer TEXT,
    comment TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    imported_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    proposed_at TEXT,
    confirmed_at TEXT,
    term_key TEXT,
    part_of TEXT,
    part_no INTEGER,
    CHECK ((part_of IS NULL) = (part_no IS NULL))
);
INSERT INTO item_new (id, external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, llt_code, pt_code,
        meddra_version, source, proposer, reviewer, comment, revision, imported_at, updated_at, updated_by, proposed_at, confirmed_at, term_key)
    SELECT id, external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, llt_code, pt_code,
        meddra_version, source, proposer, reviewer, comment, revision, imported_at, updated_at, updated_by, proposed_at, confirmed_at, term_key
    FROM item;
DROP TABLE item;
ALTER TABLE item_new RENAME TO item;
CREATE INDEX item_state ON item(state);
CREATE INDEX item_study ON item(study);
CREATE INDEX item_term_key ON item(term_key, state);
CREATE INDEX item_part_of ON item(part_of);

-- Who codes or reviews what: an item, a study or a (normalised) term, for one duty. The most
-- specific assignment wins (item, then term, then study). A worklist, not a rule: the workflow's
-- rules still decide who may act.
CREATE TABLE assignment (
    kind TEXT NOT NULL CHECK (kind IN ('item', 'term', 'study')),
    key TEXT NOT NULL,
    duty TEXT NOT NULL CHECK (duty IN ('code', 'review')),
    user TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (kind, key, duty)
);

-- A study's due date for its coding (YYYY-MM-DD): the queue puts overdue work first and shows it.
CREATE TABLE study_due (
    study TEXT PRIMARY KEY,
    due_date TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL
);
