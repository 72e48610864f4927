-- Users, the coding queue, model proposals and the append-only decision log.
CREATE TABLE user (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('coder', 'reviewer', 'admin')),
    created_at TEXT NOT NULL
);

CREATE TABLE item (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    study TEXT NOT NULL,
    subject TEXT NOT NULL,
    reported_term TEXT NOT NULL,
    onset_date TEXT,
    seriousness TEXT,
    investigator TEXT,
    state TEXT NOT NULL CHECK (state IN ('new', 'proposed', 'returned', 'query', 'confirmed')),
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
    confirmed_at TEXT
);
CREATE INDEX item_state ON item(state, study);

-- The engine's latest top-5 for an item (JSON array of {llt_code, pt_code, score, confidence}).
CREATE TABLE item_proposals (
    item_id INTEGER PRIMARY KEY REFERENCES item(id),
    model_version TEXT NOT NULL,
    meddra_version TEXT NOT NULL,
    entropy REAL,
    proposals TEXT NOT NULL,
    computed_at TEXT NOT NULL
);

CREATE TABLE decision_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    item_id INTEGER,
    external_id TEXT,
    reported_term TEXT,
    state_from TEXT,
    state_to TEXT,
    llt_code INTEGER,
    llt_name TEXT,
    pt_code INTEGER,
    pt_name TEXT,
    meddra_version TEXT,
    model_version TEXT,
    proposals TEXT,
    entropy REAL,
    chosen_rank INTEGER,
    source TEXT,
    comment TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX decision_log_item ON decision_log(item_id);
CREATE TRIGGER decision_log_no_update BEFORE UPDATE ON decision_log
BEGIN SELECT RAISE(ABORT, 'decision_log is append-only: rows cannot be changed'); END;
CREATE TRIGGER decision_log_no_delete BEFORE DELETE ON decision_log
BEGIN SELECT RAISE(ABORT, 'decision_log is append-only: rows cannot be deleted'); END;
