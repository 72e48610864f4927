-- Synonym lists per study (issue #24): a synonym belongs to the global list (study '') or to one
-- study's list. A study's entry for a key decides for that study's items (a candidate awaiting
-- approval excepted); the global list decides the keys a study's list lacks. The team setting
-- synonym_scope says which list a confirmation teaches: global (the default) or the item's study.
-- SQLite cannot change a primary key in place: the table is rebuilt, every row kept as global.
CREATE TABLE synonym_scoped (
    study TEXT NOT NULL DEFAULT '',
    term TEXT NOT NULL,
    meddra_version TEXT NOT NULL,
    llt_code INTEGER NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('confirmed', 'imported', 'carried')),
    confirmations INTEGER NOT NULL DEFAULT 0,
    item_id INTEGER,
    external_id TEXT,
    reported_term TEXT,
    proposer TEXT,
    reviewer TEXT,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    hold TEXT,
    seq INTEGER NOT NULL,
    imported_by TEXT,
    approval TEXT NOT NULL DEFAULT 'approved' CHECK (approval IN ('approved', 'pending', 'declined')),
    decided_by TEXT,
    PRIMARY KEY (study, term, meddra_version)
);
INSERT INTO synonym_scoped(study, term, meddra_version, llt_code, origin, confirmations, item_id, external_id, reported_term, proposer, reviewer,
        updated_at, updated_by, hold, seq, imported_by, approval, decided_by)
    SELECT '', term, meddra_version, llt_code, origin, confirmations, item_id, external_id, reported_term, proposer, reviewer,
        updated_at, updated_by, hold, seq, imported_by, approval, decided_by FROM synonym;
DROP TABLE synonym;
ALTER TABLE synonym_scoped RENAME TO synonym;
CREATE INDEX synonym_version_seq ON synonym(meddra_version, seq);
CREATE INDEX synonym_seq ON synonym(seq);
CREATE INDEX synonym_term ON synonym(term, meddra_version);
