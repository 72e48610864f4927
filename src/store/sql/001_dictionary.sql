-- MedDRA releases, side by side: every row carries the release it belongs to.
CREATE TABLE setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE release (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    language TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    llt_count INTEGER NOT NULL,
    pt_count INTEGER NOT NULL
);
CREATE TABLE soc (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, code INTEGER NOT NULL, name TEXT NOT NULL, abbrev TEXT NOT NULL, PRIMARY KEY (release_id, code));
CREATE TABLE hlgt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, code INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (release_id, code));
CREATE TABLE hlt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, code INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (release_id, code));
CREATE TABLE pt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, code INTEGER NOT NULL, name TEXT NOT NULL, pt_soc_code INTEGER, PRIMARY KEY (release_id, code));
CREATE TABLE llt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, code INTEGER NOT NULL, name TEXT NOT NULL, pt_code INTEGER NOT NULL, current INTEGER NOT NULL, PRIMARY KEY (release_id, code));
CREATE TABLE soc_hlgt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, soc_code INTEGER NOT NULL, hlgt_code INTEGER NOT NULL);
CREATE TABLE hlgt_hlt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, hlgt_code INTEGER NOT NULL, hlt_code INTEGER NOT NULL);
CREATE TABLE hlt_pt (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, hlt_code INTEGER NOT NULL, pt_code INTEGER NOT NULL);
CREATE TABLE mdhier (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, pt_code INTEGER NOT NULL, hlt_code INTEGER NOT NULL, hlgt_code INTEGER NOT NULL, soc_code INTEGER NOT NULL, primary_soc_fg INTEGER NOT NULL);
CREATE INDEX mdhier_pt ON mdhier(release_id, pt_code);
CREATE TABLE intl_ord (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, ord INTEGER NOT NULL, soc_code INTEGER NOT NULL);
CREATE TABLE smq_list (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, code INTEGER NOT NULL, name TEXT NOT NULL, level INTEGER NOT NULL, description TEXT NOT NULL, source TEXT NOT NULL, note TEXT NOT NULL, meddra_version TEXT NOT NULL, status TEXT NOT NULL, algorithm TEXT NOT NULL);
CREATE TABLE smq_content (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, smq_code INTEGER NOT NULL, term_code INTEGER NOT NULL, term_level INTEGER NOT NULL, term_scope INTEGER NOT NULL, term_category TEXT NOT NULL, term_weight TEXT NOT NULL, term_status TEXT NOT NULL, term_addition_version TEXT NOT NULL, term_last_modified_version TEXT NOT NULL);
CREATE TABLE history (release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE, term_code INTEGER NOT NULL, term_name TEXT NOT NULL, term_addition_version TEXT NOT NULL, term_type TEXT NOT NULL, llt_currency TEXT NOT NULL, action TEXT NOT NULL);
