-- The queue list reads each item's top proposal from its own columns (no JSON parsing per row)
-- and filters by state or study through indexes that keep id order (an index on (state, study)
-- made SQLite sort every row of a broad state filter). Stored sources use the CLI's words.
ALTER TABLE item_proposals ADD COLUMN top_llt INTEGER;
ALTER TABLE item_proposals ADD COLUMN top_confidence REAL;
UPDATE item_proposals SET top_llt = json_extract(proposals, '$[0].llt_code'), top_confidence = json_extract(proposals, '$[0].confidence');
DROP INDEX item_state;
CREATE INDEX item_state ON item(state);
CREATE INDEX item_study ON item(study);
-- Covering: the queue list's join reads this compact index, never the rows with their JSON.
CREATE INDEX item_proposals_top ON item_proposals(item_id, meddra_version, top_llt, top_confidence, entropy);
UPDATE item SET source = 'search' WHERE source = 'searched';
UPDATE item SET source = 'browse' WHERE source = 'browsed';
