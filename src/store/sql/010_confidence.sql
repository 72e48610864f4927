-- The top proposal's PT confidence, for the queue list (issue #23). Proposals stored before it
-- have none; the desk then judges them by the LLT confidence as before.
ALTER TABLE item_proposals ADD COLUMN top_pt_confidence REAL;
UPDATE item_proposals SET top_pt_confidence = json_extract(proposals, '$[0].pt_confidence');
