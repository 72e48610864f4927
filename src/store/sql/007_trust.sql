-- Issue #19. The admin whose synonym import is behind a synonym, until a confirmation by somebody
-- else backs it: carried over to new MedDRA releases with it, so its codes are never
-- auto-confirmed there either, and the importer never confirms them.
ALTER TABLE synonym ADD COLUMN imported_by TEXT;
UPDATE synonym SET imported_by = (SELECT l.user FROM decision_log l WHERE l.action = 'synonym-import' AND l.llt_code = synonym.llt_code
        AND normalize(l.reported_term) = synonym.term ORDER BY l.seq DESC LIMIT 1)
    WHERE origin IN ('imported', 'carried') AND NOT EXISTS (SELECT 1 FROM item i WHERE i.term_key = synonym.term AND i.llt_code = synonym.llt_code AND i.state = 'confirmed');
-- A digest of each imported release's content, recorded in the log at import: audit verify checks
-- the dictionary tables against it.
ALTER TABLE release ADD COLUMN digest TEXT;
