-- SDTM datasets as received (issue #22): kept whole, to be written back with the codes filled.
-- Append-only: a corrected dataset is received again, never edited; the log holds each one's
-- SHA-256, so audit verify finds an edit made behind medcoder's back.
CREATE TABLE dataset (
    id INTEGER PRIMARY KEY,
    study TEXT NOT NULL,
    domain TEXT NOT NULL,
    file TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('xpt', 'json', 'ndjson', 'csv')),
    metadata TEXT NOT NULL,
    records INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_by TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE dataset_record (
    dataset_id INTEGER NOT NULL REFERENCES dataset(id),
    record_no INTEGER NOT NULL,
    external_id TEXT NOT NULL,
    dataset_values TEXT NOT NULL,
    PRIMARY KEY (dataset_id, record_no)
);
CREATE INDEX dataset_record_item ON dataset_record(external_id);
CREATE TRIGGER dataset_no_update BEFORE UPDATE ON dataset
BEGIN SELECT RAISE(ABORT, 'dataset is append-only: a received dataset cannot be changed'); END;
CREATE TRIGGER dataset_no_delete BEFORE DELETE ON dataset
BEGIN SELECT RAISE(ABORT, 'dataset is append-only: a received dataset cannot be deleted'); END;
CREATE TRIGGER dataset_record_no_update BEFORE UPDATE ON dataset_record
BEGIN SELECT RAISE(ABORT, 'dataset_record is append-only: a received record cannot be changed'); END;
CREATE TRIGGER dataset_record_no_delete BEFORE DELETE ON dataset_record
BEGIN SELECT RAISE(ABORT, 'dataset_record is append-only: a received record cannot be deleted'); END;
