-- Issue #19. The admin whose synonym import is behind a synonym, until a confirmation by somebody
-- else backs it: carried over to new MedDRA releases with it, so its codes are never
-- auto-confirmed there either, and the importer never confirms them.
ALTER TABLE synonym ADD COLUMN imported_by TEXT;
UPDATE synonym SET imported_by = updated_by WHERE origin = 'imported';
-- A digest of each imported release's content, recorded in the log at import: audit verify checks
-- the dictionary tables against it.
ALTER TABLE release ADD COLUMN digest TEXT;
