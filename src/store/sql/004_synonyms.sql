-- The synonym list (verbatim term assignments): a normalised reported term confirmed (four-eye
-- done) or imported for an LLT, per dictionary version, with its provenance. A held synonym (returned,
-- retired, recoded away, or flagged by a MedDRA upgrade) never autocodes until it is resolved.
CREATE TABLE synonym (
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
    -- Bumped on every change, so the engine's memory reads only what changed since it last looked.
    seq INTEGER NOT NULL,
    PRIMARY KEY (term, meddra_version)
);
CREATE INDEX synonym_version_seq ON synonym(meddra_version, seq);
CREATE INDEX synonym_seq ON synonym(seq);

-- Items carry their normalised term, so identical terms are found, grouped and coded together.
ALTER TABLE item ADD COLUMN term_key TEXT;
UPDATE item SET term_key = normalize(reported_term);
CREATE INDEX item_term_key ON item(term_key, state);
