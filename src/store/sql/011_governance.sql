-- Synonym governance (issue #24). Synonyms are keyed by the synonym key: the normalised term
-- without the qualifiers MedDRA does not code (src/qualifiers.rs; the list is the setting
-- synonym_qualifiers). Items keep their exact term_key (groups, the exact-name rule) and carry
-- the synonym key beside it, written with the term by store/ (not a trigger: a trigger calling
-- medcoder's SQL function would make the file unwritable for any other SQLite client).
ALTER TABLE item ADD COLUMN syn_key TEXT;
UPDATE item SET syn_key = synonym_key(term_key, (SELECT value FROM setting WHERE key = 'synonym_qualifiers'));
CREATE INDEX item_syn_key ON item(syn_key, state);
-- Existing synonyms move to their keys; where two terms now share a key, the newest change stays.
DELETE FROM synonym WHERE EXISTS (SELECT 1 FROM synonym o WHERE o.meddra_version = synonym.meddra_version AND o.seq > synonym.seq
    AND synonym_key(coalesce(normalize(o.reported_term), o.term), (SELECT value FROM setting WHERE key = 'synonym_qualifiers'))
      = synonym_key(coalesce(normalize(synonym.reported_term), synonym.term), (SELECT value FROM setting WHERE key = 'synonym_qualifiers')));
UPDATE synonym SET term = synonym_key(coalesce(normalize(reported_term), term), (SELECT value FROM setting WHERE key = 'synonym_qualifiers'));

-- A confirmation under the team setting synonym_approval = review makes a candidate (pending,
-- held) that a reviewer or admin other than its proposer and reviewer approves or declines.
ALTER TABLE synonym ADD COLUMN approval TEXT NOT NULL DEFAULT 'approved' CHECK (approval IN ('approved', 'pending', 'declined'));
ALTER TABLE synonym ADD COLUMN decided_by TEXT;
