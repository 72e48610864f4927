-- Team mode: the schema `medcoder` on a PostgreSQL database, created by `medcoder team init` as the
-- database's owner role (NOLOGIN). Users are login roles, members of the database's member role,
-- which may read every table and execute the functions below, and may write no table: every change
-- goes through a SECURITY DEFINER function that checks who is acting (session_user, the
-- authenticated role of the connection, which SET ROLE does not change), their medcoder role, the
-- item's state and revision, the four-eye rule and the currency of the LLT, and appends one
-- hash-chained row to the decision log in the same transaction.

CREATE TABLE app_user (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    -- service: the proposal service's account, which stores proposals and codes nothing.
    role text NOT NULL CHECK (role IN ('coder', 'reviewer', 'admin', 'service')),
    created_at text NOT NULL,
    created_by text NOT NULL
);

CREATE TABLE setting (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- What the rules need of each MedDRA release: LLT codes, their PT and currency, per version.
CREATE TABLE llt (
    version text NOT NULL,
    code integer NOT NULL,
    name text NOT NULL,
    pt_code integer NOT NULL,
    pt_name text NOT NULL,
    current boolean NOT NULL,
    -- normalize_term(name): the exact-name rule looks terms up by it.
    name_key text NOT NULL,
    PRIMARY KEY (version, code)
);
CREATE INDEX llt_name_key ON llt(version, name_key);

-- A release's MedDRA ASCII files as imported, from which every client rebuilds the whole
-- dictionary (hierarchy, search, the engine's labels) exactly as from the folder.
CREATE TABLE release_file (
    version text NOT NULL,
    name text NOT NULL CHECK (name ~ '^[A-Za-z0-9_]+[.][A-Za-z]+$'),
    content bytea NOT NULL,
    PRIMARY KEY (version, name)
);

CREATE TABLE item (
    id bigserial PRIMARY KEY,
    external_id text NOT NULL UNIQUE,
    study text NOT NULL,
    subject text NOT NULL,
    reported_term text NOT NULL,
    onset_date text,
    seriousness text,
    investigator text,
    state text NOT NULL CONSTRAINT item_state_check
        CHECK (state IN ('new', 'proposed', 'returned', 'query', 'answered', 'split', 'void', 'confirmed')),
    llt_code integer,
    pt_code integer,
    meddra_version text,
    source text,
    proposer text,
    reviewer text,
    comment text,
    revision bigint NOT NULL DEFAULT 0,
    imported_at text NOT NULL,
    updated_at text NOT NULL,
    updated_by text NOT NULL,
    proposed_at text,
    confirmed_at text,
    -- normalize_term(reported_term): identical terms are grouped, learned and autocoded by it.
    term_key text NOT NULL,
    -- Schema 3 (issue #21): the item this one is a part of (its external id) and the part's number.
    part_of text,
    part_no integer,
    CONSTRAINT item_part_check CHECK ((part_of IS NULL) = (part_no IS NULL)),
    -- Schema 6 (issue #24): synonym_key(term_key), kept by the trigger item_syn_key: the synonym
    -- list is keyed without the qualifiers MedDRA does not code.
    syn_key text
);
CREATE INDEX item_state ON item(state, study);
CREATE INDEX item_term_key ON item(term_key, state);
CREATE INDEX item_syn_key ON item(syn_key, state);

-- The synonym list (verbatim term assignments), as on SQLite (src/store/sql/004_synonyms.sql): a
-- normalised term confirmed (four-eye done) for an LLT, per MedDRA version, with its provenance.
-- A held synonym never autocodes until a new confirmation.
CREATE TABLE synonym (
    term text NOT NULL,
    meddra_version text NOT NULL,
    llt_code integer NOT NULL,
    origin text NOT NULL CHECK (origin IN ('confirmed', 'imported', 'carried')),
    confirmations integer NOT NULL DEFAULT 0,
    item_id bigint,
    external_id text,
    reported_term text,
    proposer text,
    reviewer text,
    updated_at text NOT NULL,
    updated_by text NOT NULL,
    hold text,
    -- Bumped on every change: the engine's memory reads only what changed since it last looked.
    seq bigint NOT NULL,
    -- The admin whose import is behind it, until a confirmation by somebody else backs it: its codes
    -- are never auto-confirmed, and its importer never confirms them. Carried over with it.
    imported_by text,
    -- Schema 6: approved, or a candidate (pending, held meanwhile) under synonym_approval = review,
    -- or declined (held); and who decided.
    approval text NOT NULL DEFAULT 'approved' CHECK (approval IN ('approved', 'pending', 'declined')),
    decided_by text,
    -- Schema 7: the list it is on, a study's or the global one (''); see governing_synonym.
    study text NOT NULL DEFAULT '',
    PRIMARY KEY (study, term, meddra_version)
);
CREATE SEQUENCE synonym_seq;
CREATE INDEX synonym_version_seq ON synonym(meddra_version, seq);
CREATE INDEX synonym_term ON synonym(term, meddra_version);

-- The engine's latest top-5 for an item (JSON array of {llt_code, pt_code, score, confidence}),
-- written by the proposal service.
-- Schema 3 (issue #21). Who codes or reviews what: an item, a (normalised) term or a study, for
-- one duty; the most specific wins (store/worklist.rs). A worklist, not a rule.
CREATE TABLE assignment (
    kind text NOT NULL CHECK (kind IN ('item', 'term', 'study')),
    key text NOT NULL,
    duty text NOT NULL CHECK (duty IN ('code', 'review')),
    username text NOT NULL REFERENCES app_user(name),
    assigned_by text NOT NULL,
    assigned_at text NOT NULL,
    PRIMARY KEY (kind, key, duty)
);

-- A study's due date for its coding (YYYY-MM-DD).
CREATE TABLE study_due (
    study text PRIMARY KEY,
    due_date text NOT NULL CHECK (due_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    set_by text NOT NULL,
    set_at text NOT NULL
);

-- Schema 4 (issue #22). SDTM datasets as received, kept whole to be written back with the codes
-- filled: the Dataset-JSON metadata and each record's values (JSON). Written only by keep_dataset,
-- never changed (members have SELECT only); the log holds each one's SHA-256.
CREATE TABLE dataset (
    id bigserial PRIMARY KEY,
    study text NOT NULL,
    domain text NOT NULL,
    file text NOT NULL,
    format text NOT NULL CHECK (format IN ('xpt', 'json', 'ndjson', 'csv')),
    metadata text NOT NULL,
    records integer NOT NULL,
    sha256 text NOT NULL,
    received_by text NOT NULL,
    received_at text NOT NULL
);
CREATE TABLE dataset_record (
    dataset_id bigint NOT NULL REFERENCES dataset(id),
    record_no integer NOT NULL,
    external_id text NOT NULL,
    dataset_values text NOT NULL,
    PRIMARY KEY (dataset_id, record_no)
);
CREATE INDEX dataset_record_item ON dataset_record(external_id);

CREATE TABLE item_proposals (
    item_id bigint PRIMARY KEY REFERENCES item(id),
    model_version text NOT NULL,
    meddra_version text NOT NULL,
    entropy double precision,
    proposals text NOT NULL,
    computed_at text NOT NULL
);

CREATE TABLE decision_log (
    seq bigint PRIMARY KEY,
    at text NOT NULL,
    username text NOT NULL,
    action text NOT NULL,
    item_id bigint,
    external_id text,
    reported_term text,
    state_from text,
    state_to text,
    llt_code integer,
    pt_code integer,
    meddra_version text,
    source text,
    comment text,
    -- The engine's proposals when the decision was taken (backtests): as stored, entropy as text.
    model_version text,
    proposals text,
    entropy text,
    chosen_rank integer,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX decision_log_item ON decision_log(item_id);

-- The decision log of a SQLite store moved here by `medcoder db copy`, row for row with its own
-- hashes (src/store/log.rs computes them); the chain above continues from its last hash.
CREATE TABLE imported_log (
    seq bigint PRIMARY KEY,
    at text NOT NULL,
    username text NOT NULL,
    action text NOT NULL,
    item_id bigint,
    external_id text,
    reported_term text,
    state_from text,
    state_to text,
    llt_code bigint,
    llt_name text,
    pt_code bigint,
    pt_name text,
    meddra_version text,
    model_version text,
    proposals text,
    entropy double precision,
    chosen_rank bigint,
    source text,
    comment text,
    prev_hash text NOT NULL,
    hash text NOT NULL
);

-- The anchor file of the SQLite store a `db copy` brought (line, seq, hash, time): audit verify
-- checks the copied log against them, so a forged copy is told from an honest one.
CREATE TABLE copied_anchor (
    line bigint PRIMARY KEY,
    seq bigint NOT NULL,
    hash text NOT NULL,
    at text NOT NULL
);

-- One row: the newest (seq, hash). Appends lock it, so concurrent writers chain one after another.
CREATE TABLE log_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO log_head VALUES (true, 0, repeat('0', 64));

CREATE FUNCTION refuse_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows cannot be changed or deleted', TG_TABLE_NAME;
END $$;
CREATE TRIGGER decision_log_append_only BEFORE UPDATE OR DELETE ON decision_log
    FOR EACH ROW EXECUTE FUNCTION refuse_log_change();
CREATE TRIGGER decision_log_no_truncate BEFORE TRUNCATE ON decision_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_log_change();
CREATE TRIGGER imported_log_append_only BEFORE UPDATE OR DELETE ON imported_log
    FOR EACH ROW EXECUTE FUNCTION refuse_log_change();
CREATE TRIGGER imported_log_no_truncate BEFORE TRUNCATE ON imported_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_log_change();

INSERT INTO setting VALUES ('schema_version', '7');

-- Generated from Rust's char::is_alphanumeric against this C library's [[:alnum:]] (U+0080 to
-- U+2FFFF): the code points only Rust counts.
CREATE FUNCTION word_chars() RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT E'\u00b2-\u00b3\u00b9\u00bc-\u00be\u0363-\u036f\u088f\u0897\u09f4-\u09f9\u0b72-\u0b77\u0bf0-\u0bf2'
        || E'\u0c04\u0c5c\u0c78-\u0c7e\u0cdc\u0cf3\u0d58-\u0d5e\u0d70-\u0d78\u0f2a-\u0f33\u0f82-\u0f83'
        || E'\u1369-\u137c\u17f0-\u17f9\u19da\u1c89-\u1c8a\u1dd3-\u1de6\u2070\u2074-\u2079\u2080-\u2089'
        || E'\u2150-\u215f\u2189\u2460-\u249b\u24ea-\u24ff\u2776-\u2793\u2cfd\u3192-\u3195\u3220-\u3229'
        || E'\u3248-\u324f\u3251-\u325f\u3280-\u3289\u32b1-\u32bf\ua7cb-\ua7cf\ua7d2\ua7d4\ua7da-\ua7dc\ua7f1'
        || E'\ua830-\ua835\U00010107-\U00010133\U00010175-\U00010178\U0001018a-\U0001018b'
        || E'\U000102e1-\U000102fb\U00010320-\U00010323\U000105c0-\U000105f3\U00010858-\U0001085f'
        || E'\U00010879-\U0001087f\U000108a7-\U000108af\U000108fb-\U000108ff\U00010916-\U0001091b'
        || E'\U00010940-\U00010959\U000109bc-\U000109bd\U000109c0-\U000109cf\U000109d2-\U000109ff'
        || E'\U00010a40-\U00010a48\U00010a7d-\U00010a7e\U00010a9d-\U00010a9f\U00010aeb-\U00010aef'
        || E'\U00010b58-\U00010b5f\U00010b78-\U00010b7f\U00010ba9-\U00010baf\U00010cfa-\U00010cff'
        || E'\U00010d40-\U00010d65\U00010d69\U00010d6f-\U00010d85\U00010e60-\U00010e7e\U00010ec2-\U00010ec7'
        || E'\U00010efa-\U00010efc\U00010f1d-\U00010f26\U00010f51-\U00010f54\U00010fc5-\U00010fcb'
        || E'\U00011052-\U00011065\U00011080-\U00011081\U000111e1-\U000111f4\U0001123f-\U00011241'
        || E'\U00011380-\U00011389\U0001138b\U0001138e\U00011390-\U000113b5\U000113b7-\U000113c0\U000113c2'
        || E'\U000113c5\U000113c7-\U000113ca\U000113cc-\U000113cd\U000113d1\U000113d3\U000116d0-\U000116e3'
        || E'\U0001173a-\U0001173b\U000118ea-\U000118f2\U00011b60-\U00011b67\U00011bc0-\U00011be0'
        || E'\U00011bf0-\U00011bf9\U00011c5a-\U00011c6c\U00011db0-\U00011ddb\U00011de0-\U00011de9'
        || E'\U00011f00-\U00011f10\U00011f12-\U00011f3a\U00011f3e-\U00011f40\U00011f50-\U00011f59'
        || E'\U00011fc0-\U00011fd4\U0001342f\U00013441-\U00013446\U00013460-\U000143fa\U00016100-\U0001612e'
        || E'\U00016130-\U00016139\U00016b5b-\U00016b61\U00016d40-\U00016d6c\U00016d70-\U00016d79'
        || E'\U00016e80-\U00016e96\U00016ea0-\U00016eb8\U00016ebb-\U00016ed3\U00016ff2-\U00016ff6'
        || E'\U000187f8-\U000187ff\U00018cff\U00018d09-\U00018d1e\U00018d80-\U00018df2\U0001b132\U0001b155'
        || E'\U0001ccf0-\U0001ccf9\U0001d2c0-\U0001d2d3\U0001d2e0-\U0001d2f3\U0001d360-\U0001d378'
        || E'\U0001df25-\U0001df2a\U0001e030-\U0001e06d\U0001e08f\U0001e4d0-\U0001e4eb\U0001e4f0-\U0001e4f9'
        || E'\U0001e5d0-\U0001e5ed\U0001e5f0-\U0001e5fa\U0001e6c0-\U0001e6de\U0001e6e0-\U0001e6f5'
        || E'\U0001e6fe-\U0001e6ff\U0001e8c7-\U0001e8cf\U0001ec71-\U0001ecab\U0001ecad-\U0001ecaf'
        || E'\U0001ecb1-\U0001ecb4\U0001ed01-\U0001ed2d\U0001ed2f-\U0001ed3d\U0001f100-\U0001f10c'
        || E'\U0002b739-\U0002b73f\U0002cea2-\U0002cead\U0002ebf0-\U0002ee5d'
$$;

-- src/text.rs normalize: letters and digits in lower case, one space between words. The
-- characters Rust counts as alphanumeric but the C library does not (superscript and fraction
-- digits such as the 4 of "grade ⁴", other scripts' numerals) are listed: a term must never lose
-- them, or "grade ⁴" and "grade ¹" would be one term. tests/store_contract.rs compares both.
CREATE FUNCTION normalize_term(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT btrim(regexp_replace(lower(t), '[^[:alnum:]' || medcoder.word_chars() || ']+', ' ', 'g'))
$$;

-- src/qualifiers.rs key: each qualifier phrase (longest first, then in list order) removed wherever
-- it stands, as often as it occurs; <n> stands for a number (digits, or i to v). A term of
-- qualifiers alone keeps its normalised form. tests/store_contract.rs compares both.
CREATE FUNCTION synonym_key_with(t text, q text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v text := ' ' || t || ' ';
    ph text;
    pat text;
BEGIN
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    FOR ph IN SELECT x FROM unnest(q) WITH ORDINALITY AS u(x, n) ORDER BY cardinality(string_to_array(x, ' ')) DESC, n LOOP
        pat := ' ' || replace(ph, '<n>', '([0-9]+|i|ii|iii|iv|v)') || ' ';
        WHILE v ~ pat LOOP
            v := regexp_replace(v, pat, ' ');
        END LOOP;
    END LOOP;
    v := btrim(v);
    RETURN CASE WHEN v = '' THEN t ELSE v END;
END $$;

-- The synonym key under the team's qualifier list (setting synonym_qualifiers; `team init` writes
-- the default list).
CREATE FUNCTION synonym_key(t text) RETURNS text
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT synonym_key_with(t, coalesce((SELECT array_agg(x ORDER BY n) FROM setting,
        json_array_elements_text(value::json) WITH ORDINALITY AS q(x, n) WHERE key = 'synonym_qualifiers'), '{}'))
$$;

CREATE FUNCTION item_syn_key() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp AS $$
BEGIN
    NEW.syn_key := synonym_key(NEW.term_key);
    RETURN NEW;
END $$;
CREATE TRIGGER item_syn_key BEFORE INSERT OR UPDATE OF term_key ON item FOR EACH ROW EXECUTE FUNCTION item_syn_key();

CREATE FUNCTION now_text() RETURNS text LANGUAGE sql AS $$
    SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The hashed text of a log row: every field as <characters>:<text>, or ~ for NULL, joined by |.
-- src/store/postgres/mod.rs (log_body) computes the same text for `audit verify`.
CREATE FUNCTION log_body(seq bigint, at text, username text, action text, item_id bigint, external_id text,
        reported_term text, state_from text, state_to text, llt_code integer, pt_code integer,
        meddra_version text, source text, comment text, model_version text, proposals text, entropy text,
        chosen_rank integer, prev_hash text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(CASE WHEN f IS NULL THEN '~' ELSE length(f) || ':' || f END, '|' ORDER BY n)
    FROM unnest(ARRAY[seq::text, at, username, action, item_id::text, external_id, reported_term, state_from,
        state_to, llt_code::text, pt_code::text, meddra_version, source, comment, model_version, proposals, entropy,
        chosen_rank::text, prev_hash]) WITH ORDINALITY AS t(f, n)
$$;

-- Appends one log row for the acting login role; only the functions below call it.
CREATE FUNCTION append_log(p_action text, p_item_id bigint, p_external_id text, p_term text, p_from text, p_to text,
        p_llt integer, p_pt integer, p_version text, p_source text, p_comment text,
        p_model text DEFAULT NULL, p_proposals text DEFAULT NULL, p_entropy text DEFAULT NULL, p_rank integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    h log_head;
    v_at text := now_text();
    v_hash text;
BEGIN
    SELECT * INTO h FROM log_head FOR UPDATE;
    v_hash := encode(sha256(convert_to(log_body(h.seq + 1, v_at, session_user::text, p_action, p_item_id, p_external_id,
        p_term, p_from, p_to, p_llt, p_pt, p_version, p_source, p_comment, p_model, p_proposals, p_entropy, p_rank, h.hash),
        'UTF8')), 'hex');
    INSERT INTO decision_log VALUES (h.seq + 1, v_at, session_user::text, p_action, p_item_id, p_external_id, p_term,
        p_from, p_to, p_llt, p_pt, p_version, p_source, p_comment, p_model, p_proposals, p_entropy, p_rank, h.hash, v_hash);
    UPDATE log_head SET seq = h.seq + 1, hash = v_hash;
    RETURN h.seq + 1;
END $$;

-- The medcoder user of this connection's login role.
CREATE FUNCTION me() RETURNS app_user
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = medcoder, pg_temp AS $$
DECLARE
    u app_user;
BEGIN
    SELECT * INTO u FROM app_user WHERE name = session_user::text;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the database role % is not a medcoder user of this team database (ask an admin: medcoder team user add)', session_user
            USING ERRCODE = '42501';
    END IF;
    RETURN u;
END $$;

CREATE FUNCTION require_admin() RETURNS app_user
LANGUAGE plpgsql STABLE SET search_path = medcoder, pg_temp AS $$
DECLARE
    u app_user := me();
BEGIN
    IF u.role <> 'admin' THEN
        RAISE EXCEPTION '% is a %; only admins do that', u.name, u.role USING ERRCODE = '42501';
    END IF;
    RETURN u;
END $$;

CREATE FUNCTION refuse_service(u app_user) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF u.role = 'service' THEN
        RAISE EXCEPTION '% is the proposal service: it stores proposals and codes nothing', u.name USING ERRCODE = '42501';
    END IF;
END $$;

-- Whether a term (its key) or an LLT is on the do-not-autocode list (team setting
-- model_first_exclude): a person codes it, whatever rule or model would.
CREATE FUNCTION is_excluded(p_term_key text, p_llt integer) RETURNS boolean
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM json_array_elements_text(coalesce((SELECT value FROM setting WHERE key = 'model_first_exclude'), '[]')::json) x
        WHERE x = 'term:' || p_term_key OR x = 'llt:' || p_llt::text)
$$;

-- A code set by a rule on an untouched item (new, or its query answered), by the autocoder: to
-- review, or confirmed when the team's autocode-confirm setting is on and the rule allows it
-- (p_may_confirm: never for an imported synonym's code or a term a person wrote); logged as on SQLite.
CREATE FUNCTION autocode_item(p_item bigint, l llt, p_source text, p_why text, p_may_confirm boolean) RETURNS void
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    v_now text := now_text();
    v_confirm boolean := p_may_confirm AND (SELECT value FROM setting WHERE key = 'autocode_confirm') IS NOT DISTINCT FROM 'on';
    v_from text := (SELECT state FROM item WHERE id = p_item);
    after item;
BEGIN
    -- A term or LLT on the do-not-autocode list is coded by a person.
    IF is_excluded((SELECT term_key FROM item WHERE id = p_item), l.code) THEN
        RETURN;
    END IF;
    UPDATE item SET state = CASE WHEN v_confirm THEN 'confirmed' ELSE 'proposed' END, llt_code = l.code, pt_code = l.pt_code,
            meddra_version = l.version, source = p_source, proposer = 'autocoder',
            reviewer = CASE WHEN v_confirm THEN 'autocoder' END, proposed_at = v_now,
            confirmed_at = CASE WHEN v_confirm THEN v_now END, revision = revision + 1,
            updated_at = v_now, updated_by = session_user::text
        WHERE id = p_item AND state IN ('new', 'answered') RETURNING * INTO after;
    IF FOUND THEN
        PERFORM append_log('autocode', after.id, after.external_id, after.reported_term, v_from, after.state, l.code, l.pt_code,
            l.version, p_source, p_why || CASE WHEN v_confirm THEN '; auto-confirmed by team setting' ELSE '; awaits review' END);
    END IF;
END $$;

-- The list a confirmation of an item of `p_study` teaches (team setting synonym_scope): the
-- item's study's own list under 'study', else the global list (''). As store/synonyms.rs scope_for.
CREATE FUNCTION synonym_scope_of(p_study text) RETURNS text
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT CASE WHEN (SELECT value FROM setting WHERE key = 'synonym_scope') IS NOT DISTINCT FROM 'study' THEN coalesce(p_study, '') ELSE '' END
$$;

-- The synonym that decides a key for the items of `p_study` (store/synonyms.rs governing): the
-- study's own entry, active or held, unless it is a candidate awaiting approval; else the global
-- list's. All fields NULL when neither has the key.
CREATE FUNCTION governing_synonym(p_study text, p_key text, p_version text) RETURNS synonym
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT s FROM synonym s WHERE s.term = p_key AND s.meddra_version = p_version
        AND ((s.study = coalesce(p_study, '') AND s.study <> '' AND s.approval <> 'pending') OR s.study = '')
    ORDER BY s.study = '' LIMIT 1
$$;

-- Every untouched item of a synonym key (or only `p_only`) coded from the synonym that decides the
-- key for its study, when that one is active and its LLT current in the active version.
CREATE FUNCTION autocode_term(p_term text, p_only bigint, p_writer text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    s synonym;
    l llt;
    v_version text := (SELECT value FROM setting WHERE key = 'meddra_version');
    v_id bigint;
    v_study text;
BEGIN
    -- One item named (code_by_rules) may also be one whose query was answered.
    FOR v_id, v_study IN SELECT id, study FROM item WHERE syn_key = p_term AND (state = 'new' OR (p_only IS NOT NULL AND state = 'answered'))
            AND (p_only IS NULL OR id = p_only) ORDER BY id LOOP
        s := governing_synonym(v_study, p_term, v_version);
        CONTINUE WHEN s.term IS NULL OR s.hold IS NOT NULL;
        SELECT * INTO l FROM llt WHERE version = v_version AND code = s.llt_code AND current;
        CONTINUE WHEN NOT FOUND;
        PERFORM autocode_item(v_id, l, 'synonym',
            CASE WHEN s.imported_by IS NOT NULL THEN format('synonym: imported by %s', s.imported_by)
                 WHEN s.origin = 'carried' THEN format('synonym carried over on %s', left(s.updated_at, 10))
                 ELSE format('synonym: confirmed %s time%s, last by %s on %s', s.confirmations,
                    CASE WHEN s.confirmations = 1 THEN '' ELSE 's' END, coalesce(s.reviewer, '?'), left(s.updated_at, 10)) END
                || coalesce('; term written by ' || p_writer, ''),
            s.imported_by IS NULL AND p_writer IS NULL);
    END LOOP;
END $$;

-- The term's synonym from its newest confirmed item (newest confirmation wins), with how many
-- confirmed items of the term carry that LLT. A confirmation lifts a hold (p_reactivate); a recode
-- never does, and holds a confirmed synonym that no confirmed item backs any more.
-- Under synonym_approval = review a new code (a new key, another LLT, or one retired or returned
-- before) becomes a pending candidate; the same approved code is only strengthened, and a
-- candidate declined for this LLT stays declined.
-- p_study: the list revised (a study's, counted over that study's items; '' the global one, over all).
CREATE FUNCTION revise_synonym(p_study text, p_term text, p_version text, p_by text, p_reactivate boolean, p_why_if_none text) RETURNS void
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    it item;
    n integer;
    s synonym;
    v_found boolean;
    v_review boolean := coalesce((SELECT value FROM setting WHERE key = 'synonym_approval'), 'immediate') = 'review';
    v_hold text;
    v_approval text;
    v_decided text;
    v_decl_by text;
    v_decl_why text;
BEGIN
    SELECT * INTO it FROM item WHERE syn_key = p_term AND state = 'confirmed' AND meddra_version = p_version
        AND (p_study = '' OR study = p_study) ORDER BY confirmed_at DESC, id DESC LIMIT 1;
    IF NOT FOUND THEN
        UPDATE synonym SET hold = p_why_if_none, updated_at = now_text(), updated_by = p_by, seq = nextval('synonym_seq')
            WHERE study = p_study AND term = p_term AND meddra_version = p_version AND origin = 'confirmed' AND hold IS NULL;
        RETURN;
    END IF;
    SELECT count(*) INTO n FROM item WHERE syn_key = p_term AND state = 'confirmed' AND meddra_version = p_version
        AND llt_code = it.llt_code AND (p_study = '' OR study = p_study);
    SELECT * INTO s FROM synonym WHERE study = p_study AND term = p_term AND meddra_version = p_version;
    v_found := FOUND;
    -- The state of store/synonyms.rs approval_state: without review a confirmation activates and
    -- a recode keeps; under review a code declined for this key before (the log says so) stays
    -- declined, the same approved code is strengthened, anything else is a pending candidate.
    -- A code a reviewer declined for this key stays declined, whatever the mode is now.
    SELECT username, coalesce(comment, '') INTO v_decl_by, v_decl_why FROM decision_log
        WHERE action = 'synonym decline' AND reported_term = p_term AND llt_code = it.llt_code AND meddra_version = p_version
            AND coalesce(source, '') = CASE WHEN p_study = '' THEN 'synonym' ELSE 'study:' || p_study END
        ORDER BY seq DESC LIMIT 1;
    IF FOUND THEN
        v_hold := format('declined by %s: %s', v_decl_by, v_decl_why); v_approval := 'declined'; v_decided := v_decl_by;
    ELSIF NOT v_review THEN
        IF v_found AND NOT p_reactivate THEN
            v_hold := s.hold; v_approval := s.approval; v_decided := s.decided_by;
        ELSE
            v_hold := NULL; v_approval := 'approved'; v_decided := CASE WHEN v_found THEN s.decided_by END;
        END IF;
    ELSIF v_found AND s.llt_code = it.llt_code AND s.approval = 'approved' AND (s.hold IS NULL OR NOT p_reactivate) THEN
        v_hold := CASE WHEN p_reactivate THEN NULL ELSE s.hold END; v_approval := 'approved'; v_decided := s.decided_by;
    ELSE
        v_hold := 'candidate: awaits approval'; v_approval := 'pending'; v_decided := NULL;
    END IF;
    -- A confirmation is a second person's (act refuses the importer), so it backs the synonym.
    INSERT INTO synonym VALUES (p_term, p_version, it.llt_code, 'confirmed', n, it.id, it.external_id, it.reported_term,
            it.proposer, it.reviewer, now_text(), p_by, v_hold, nextval('synonym_seq'), NULL, v_approval, v_decided, p_study)
        ON CONFLICT (study, term, meddra_version) DO UPDATE SET llt_code = excluded.llt_code, origin = 'confirmed',
            confirmations = excluded.confirmations, item_id = excluded.item_id, external_id = excluded.external_id,
            reported_term = excluded.reported_term, proposer = excluded.proposer, reviewer = excluded.reviewer,
            updated_at = excluded.updated_at, updated_by = excluded.updated_by, hold = excluded.hold, seq = excluded.seq,
            imported_by = CASE WHEN p_reactivate THEN NULL ELSE synonym.imported_by END,
            approval = excluded.approval, decided_by = excluded.decided_by;
END $$;

-- The importer of the synonym that set an item's current code, read from the log row that set it
-- (this database's own log, else the log a `db copy` brought): a later confirmation of the term to
-- another LLT changes the synonym, never who chose this item's code.
CREATE FUNCTION code_importer(p_item bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT CASE WHEN x.action = 'autocode' THEN coalesce(substring(x.comment from '^synonym:? imported by ([a-z0-9_]+)'),
            substring(x.comment from '; term written by ([a-z0-9_]+)'), substring(x.comment from '^model-first: .*; model run by ([a-z0-9_]+)')) END FROM (
        (SELECT 0 AS src, seq, action, comment FROM decision_log WHERE item_id = p_item AND action IN ('autocode', 'propose', 'recode')
            ORDER BY seq DESC LIMIT 1)
        UNION ALL
        (SELECT 1, seq, action, comment FROM imported_log WHERE item_id = p_item AND action IN ('autocode', 'propose', 'recode')
            ORDER BY seq DESC LIMIT 1)
    ) x ORDER BY x.src LIMIT 1
$$;

-- Text from outside: no control characters (they could drive a colleague's terminal).
CREATE FUNCTION check_text(what text, v text, required boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v IS NULL OR btrim(v) = '' THEN
        IF required THEN
            RAISE EXCEPTION '% is empty', what USING ERRCODE = '22023';
        END IF;
        RETURN NULL;
    END IF;
    -- The characters src/text.rs refuses on SQLite (FORBIDDEN_PG_CLASS): controls but tab (Cc),
    -- format characters (Cf: bidirectional marks, zero-width characters, tags), line and
    -- paragraph separators.
    IF v ~ '[\u0001-\u0008\u000a-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]' THEN
        RAISE EXCEPTION '% contains a control or format character', what USING ERRCODE = '22023';
    END IF;
    IF length(v) > 2000 THEN
        RAISE EXCEPTION '% is over 2,000 characters', what USING ERRCODE = '22023';
    END IF;
    RETURN btrim(v);
END $$;

-- Queues one reported term: 'imported'; for an id already queued with another reported term, the
-- site's corrected verbatim supersedes it: 'superseded:' and the old term; else why it was skipped
-- (as on SQLite).
CREATE FUNCTION import_item(p_external_id text, p_study text, p_subject text, p_term text, p_onset text,
        p_seriousness text, p_investigator text, p_origin text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := me();
    v_now text := now_text();
    v_id bigint;
    v_term text := check_text('reported_term', p_term, true);
    it item;
BEGIN
    PERFORM refuse_service(u);
    IF position('#' in p_external_id) > 0 THEN
        RAISE EXCEPTION 'the id % contains ''#'', which marks the parts of a split verbatim', p_external_id USING ERRCODE = '22023';
    END IF;
    INSERT INTO item(external_id, study, subject, reported_term, onset_date, seriousness, investigator, state,
            imported_at, updated_at, updated_by, term_key)
        VALUES (check_text('id', p_external_id, true), check_text('study', p_study, true),
            check_text('subject', p_subject, true), v_term, check_text('onset_date', p_onset, false),
            check_text('seriousness', p_seriousness, false), check_text('investigator', p_investigator, false),
            'new', v_now, v_now, u.name, normalize_term(v_term))
        ON CONFLICT (external_id) DO NOTHING
        RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT * INTO it FROM item WHERE external_id = btrim(p_external_id) FOR UPDATE;
        IF it.reported_term = v_term THEN
            RETURN format('id %s is already queued', it.external_id);
        ELSIF it.study <> btrim(p_study) OR it.subject <> btrim(p_subject) THEN
            RETURN format('id %s is queued for study %s, subject %s; this line says study %s, subject %s: not a correction of that record',
                it.external_id, it.study, it.subject, btrim(p_study), btrim(p_subject));
        ELSIF it.state = 'split' OR has_live_parts(it.external_id) THEN
            RETURN format('id %s was split into parts: a corrected verbatim goes to its parts (queue show %s)', it.external_id, it.external_id);
        ELSIF it.state = 'void' THEN
            RETURN format('id %s is a part of a returned split: it is coded no more', it.external_id);
        END IF;
        PERFORM supersede_item(it, v_term, format('corrected verbatim from %s', check_text('origin', p_origin, false)));
        RETURN 'superseded:' || CASE WHEN it.llt_code IS NULL THEN '' WHEN it.state = 'confirmed' THEN 'confirmed ' ELSE 'coded ' END
            || coalesce(it.llt_code::text, '') || ':' || it.reported_term;
    END IF;
    PERFORM append_log('import', v_id, btrim(p_external_id), v_term, NULL, 'new', NULL, NULL, NULL, NULL,
        check_text('origin', p_origin, false));
    PERFORM code_by_rules(v_id);
    RETURN 'imported';
END $$;

-- Whether the item was split and its split stands (a part that is not void).
CREATE FUNCTION has_live_parts(p_source text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM item WHERE part_of = p_source AND state <> 'void')
$$;

-- Who wrote the item's reported term when a person did rather than the site (store/lifecycle.rs
-- term_writer): the splitter of a part, whoever recorded a corrected verbatim.
CREATE FUNCTION term_writer(p_item bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT CASE WHEN x.action = 'supersede' THEN x.username ELSE substring(x.comment from ', split by ([a-z0-9_]+)$') END FROM (
        (SELECT 0 AS src, seq, action, username, comment FROM decision_log WHERE item_id = p_item AND action IN ('import', 'supersede')
            ORDER BY seq DESC LIMIT 1)
        UNION ALL
        (SELECT 1, seq, action, username, comment FROM imported_log WHERE item_id = p_item AND action IN ('import', 'supersede')
            ORDER BY seq DESC LIMIT 1)
    ) x ORDER BY x.src LIMIT 1
$$;

-- The rules, as on SQLite: an untouched item whose term is a current LLT's name, else a term on
-- the synonym list, is coded by the rule and goes to review. A term a person wrote is coded as
-- that person's choice: never auto-confirmed, and code_importer names them to the four-eye rule.
CREATE FUNCTION code_by_rules(p_item bigint) RETURNS void
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    it item;
    l llt;
    v_writer text := term_writer(p_item);
BEGIN
    SELECT * INTO it FROM item WHERE id = p_item AND state IN ('new', 'answered');
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO l FROM llt WHERE version = (SELECT value FROM setting WHERE key = 'meddra_version') AND current
        AND name_key = it.term_key ORDER BY code LIMIT 1;
    IF FOUND THEN
        PERFORM autocode_item(it.id, l, 'rule', 'exact LLT name' || coalesce('; term written by ' || v_writer, ''), v_writer IS NULL);
    ELSE
        PERFORM autocode_term(it.syn_key, it.id, v_writer);
    END IF;
END $$;

-- The site's corrected verbatim replaces the reported term as a new revision (store/lifecycle.rs
-- on SQLite): the old term and code stay in the log, the code goes, an item on query is answered
-- by it, an untouched one is coded by the rules at once.
CREATE FUNCTION supersede_item(it item, p_term text, p_why text) RETURNS item
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    v_to text := CASE WHEN it.state IN ('query', 'answered') THEN 'answered' ELSE 'new' END;
    v_term text := check_text('reported_term', p_term, true);
    after item;
BEGIN
    IF it.state = 'split' OR has_live_parts(it.external_id) THEN
        RAISE EXCEPTION 'item % was split into parts: code or correct its parts instead', it.external_id USING ERRCODE = '55000';
    END IF;
    IF it.state = 'void' THEN
        RAISE EXCEPTION 'cannot correct the verbatim of item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
    END IF;
    -- A correction that answers an open query is the answer the coder sees.
    UPDATE item SET reported_term = v_term, term_key = normalize_term(v_term), state = v_to, llt_code = NULL, pt_code = NULL,
            meddra_version = NULL, source = NULL, proposer = NULL, reviewer = NULL, proposed_at = NULL, confirmed_at = NULL,
            comment = CASE WHEN it.state = 'query' THEN format('the site corrected the verbatim (was ''%s'')', it.reported_term) ELSE comment END,
            revision = revision + 1, updated_at = now_text(), updated_by = session_user::text
        WHERE id = it.id RETURNING * INTO after;
    -- The old term's synonym no longer has this confirmation behind it.
    IF it.state = 'confirmed' AND it.term_key <> '' THEN
        PERFORM revise_synonym(synonym_scope_of(it.study), it.syn_key, it.meddra_version, session_user::text, false,
            format('verbatim of %s corrected: no confirmed item left', it.external_id));
    END IF;
    PERFORM append_log('supersede', it.id, it.external_id, v_term, it.state, v_to, NULL, NULL, NULL, NULL,
        format('%s: was ''%s''%s', p_why, it.reported_term, CASE WHEN it.llt_code IS NOT NULL THEN format('; code LLT %s dropped', it.llt_code) ELSE '' END));
    -- The model's proposals were made for the old term.
    DELETE FROM item_proposals WHERE item_id = it.id;
    PERFORM code_by_rules(it.id);
    SELECT * INTO after FROM item WHERE id = it.id;
    RETURN after;
END $$;

-- Every coding decision: propose, confirm, return, query. The rules of src/store/workflow.rs, held
-- by the database so that a client (or psql) cannot skip them.
-- extra_float_digits is pinned: the entropy is logged as text, which the caller's session must
-- not be able to round.
CREATE FUNCTION act(p_external_id text, p_action text, p_llt integer, p_source text, p_text text, p_revision bigint)
    RETURNS item
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' SET extra_float_digits = 1 AS $$
DECLARE
    u app_user := me();
    it item;
    after item;
    l llt;
    v_version text := (SELECT value FROM setting WHERE key = 'meddra_version');
    v_now text := now_text();
    v_to text;
    v_text text;
    p item_proposals;
    v_rank integer;
    v_before text;
    v_part text;
    part item;
    rec record;
    v_syn synonym;
BEGIN
    PERFORM refuse_service(u);
    SELECT * INTO it FROM item WHERE external_id = p_external_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no queue item with id ''%''', p_external_id USING ERRCODE = 'P0002';
    END IF;
    -- A review is of what the reviewer saw: confirm and return name the revision they read, so a
    -- code changed in between is never confirmed unseen.
    IF p_revision IS NULL AND p_action IN ('confirm', 'return') THEN
        RAISE EXCEPTION '% needs the revision you reviewed (--rev N; queue show % prints it)', p_action, it.external_id
            USING ERRCODE = '22023';
    END IF;
    IF p_revision IS NOT NULL AND p_revision <> it.revision THEN
        RAISE EXCEPTION 'item % was changed by % at % after you read it (revision %, now %); reload it and try again',
            it.external_id, it.updated_by, it.updated_at, p_revision, it.revision USING ERRCODE = '40001';
    END IF;
    IF p_action = 'withdraw' THEN
        -- The proposer takes back their own proposal before review (store/lifecycle.rs).
        IF it.state <> 'proposed' THEN
            RAISE EXCEPTION 'cannot withdraw the proposal of item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
        END IF;
        IF it.proposer IS DISTINCT FROM u.name THEN
            RAISE EXCEPTION '% proposed the code of %: only the proposer withdraws a proposal', it.proposer, it.external_id USING ERRCODE = '42501';
        END IF;
        -- Back to before the user's run of proposals (each re-proposal starts from 'proposed'); only
        -- ever what this user alone put there (store/lifecycle.rs withdrawn_to).
        v_before := NULL;
        FOR rec IN SELECT * FROM (
                SELECT 0 AS src, seq, d.action, d.username, coalesce(d.state_from, '') AS state_from FROM decision_log d
                    WHERE item_id = it.id AND d.action IN ('autocode', 'propose', 'recode')
                UNION ALL
                SELECT 1, seq, i.action, i.username, coalesce(i.state_from, '') FROM imported_log i
                    WHERE item_id = it.id AND i.action IN ('autocode', 'propose', 'recode')
            ) x ORDER BY x.src, x.seq DESC LOOP
            IF rec.action <> 'propose' THEN
                RAISE EXCEPTION 'cannot withdraw the proposal of %: it lies over %; propose again, or a reviewer returns it', it.external_id,
                    CASE rec.action WHEN 'autocode' THEN 'the rule''s code' ELSE 'a recode of the confirmed code' END USING ERRCODE = '55000';
            END IF;
            IF rec.username <> u.name THEN
                RAISE EXCEPTION '% proposed the code of %: only the proposer withdraws a proposal', rec.username, it.external_id
                    USING ERRCODE = '42501';
            END IF;
            IF rec.state_from <> 'proposed' THEN
                v_before := rec.state_from;
                EXIT;
            END IF;
        END LOOP;
        IF v_before IS NULL THEN
            RAISE EXCEPTION 'cannot withdraw the proposal of %: it lies over no proposal; propose again, or a reviewer returns it',
                it.external_id USING ERRCODE = '55000';
        END IF;
        v_to := CASE WHEN v_before IN ('returned', 'query', 'answered') THEN v_before ELSE 'new' END;
        UPDATE item SET state = v_to, llt_code = NULL, pt_code = NULL, meddra_version = NULL, source = NULL, proposer = NULL,
                reviewer = NULL, proposed_at = NULL, confirmed_at = NULL, revision = revision + 1, updated_at = v_now, updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
        PERFORM append_log('withdraw', it.id, it.external_id, it.reported_term, it.state, v_to, NULL, NULL, it.meddra_version, NULL,
            format('withdrew LLT %s%s', it.llt_code,
                coalesce(format(' ''%s''', (SELECT name FROM llt WHERE version = v_version AND code = it.llt_code)), '')));
        PERFORM code_by_rules(it.id);
        SELECT * INTO after FROM item WHERE id = it.id;
        RETURN after;
    ELSIF p_action = 'close-query' THEN
        IF it.state NOT IN ('query', 'answered') THEN
            RAISE EXCEPTION 'cannot close the query of item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
        END IF;
        -- Back to where the first of its queries in a row was raised (a follow-up comes from 'answered').
        v_before := '';
        FOR rec IN SELECT * FROM (
                SELECT 0 AS src, seq, coalesce(d.state_from, '') AS state_from FROM decision_log d WHERE item_id = it.id AND d.action = 'query'
                UNION ALL
                SELECT 1, seq, coalesce(i.state_from, '') FROM imported_log i WHERE item_id = it.id AND i.action = 'query'
            ) x ORDER BY x.src, x.seq DESC LOOP
            IF rec.state_from <> 'answered' THEN
                v_before := rec.state_from;
                EXIT;
            END IF;
        END LOOP;
        v_to := CASE WHEN v_before = 'proposed' AND it.llt_code IS NOT NULL THEN 'proposed'
                     WHEN v_before IN ('returned', 'split') THEN v_before ELSE 'new' END;
        v_text := coalesce(check_text('note', p_text, false), 'closed by hand');
        UPDATE item SET state = v_to, revision = revision + 1, updated_at = v_now, updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
        PERFORM append_log('close-query', it.id, it.external_id, it.reported_term, it.state, v_to, NULL, NULL, NULL, NULL, v_text);
        PERFORM code_by_rules(it.id);
        SELECT * INTO after FROM item WHERE id = it.id;
        RETURN after;
    ELSIF p_action = 'return' AND it.state = 'split' THEN
        -- A reviewer returns the split itself: its parts are voided, the item goes back.
        IF u.role NOT IN ('reviewer', 'admin') THEN
            RAISE EXCEPTION '% is a %; only reviewers and admins confirm or return codes', u.name, u.role USING ERRCODE = '42501';
        END IF;
        IF it.proposer = u.name THEN
            RAISE EXCEPTION 'four-eye rule: you proposed the code of % (or imported the synonym that set it), so another reviewer must confirm or return it', it.external_id
                USING ERRCODE = '42501';
        END IF;
        v_text := check_text('comment', p_text, false);
        IF v_text IS NULL THEN
            RAISE EXCEPTION 'return needs a comment' USING ERRCODE = '22023';
        END IF;
        SELECT external_id INTO v_part FROM item WHERE part_of = it.external_id AND state = 'confirmed' ORDER BY part_no LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'cannot return the split of %: its part % is confirmed (recode that part instead)', it.external_id, v_part
                USING ERRCODE = '55000';
        END IF;
        -- A part split in turn (or on query about its split) carries codes of its own.
        SELECT sub.external_id INTO v_part FROM item sub WHERE sub.part_of = it.external_id AND sub.state <> 'void'
            AND (sub.state = 'split' OR has_live_parts(sub.external_id)) ORDER BY sub.part_no LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'cannot return the split of %: its part % is split in turn (return that split first)', it.external_id, v_part
                USING ERRCODE = '55000';
        END IF;
        FOR part IN SELECT * FROM item WHERE part_of = it.external_id AND state <> 'void' ORDER BY part_no FOR UPDATE LOOP
            UPDATE item SET state = 'void', llt_code = NULL, pt_code = NULL, meddra_version = NULL, source = NULL, proposer = NULL,
                    reviewer = NULL, proposed_at = NULL, confirmed_at = NULL, revision = revision + 1, updated_at = v_now, updated_by = u.name
                WHERE id = part.id;
            PERFORM append_log('void', part.id, part.external_id, part.reported_term, part.state, 'void', NULL, NULL, NULL, NULL,
                format('split of %s returned by %s: %s', it.external_id, u.name, v_text));
        END LOOP;
        UPDATE item SET state = 'returned', reviewer = u.name, comment = v_text, revision = revision + 1, updated_at = v_now,
                updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
        PERFORM append_log('return', it.id, it.external_id, it.reported_term, it.state, 'returned', NULL, NULL, NULL, NULL, v_text);
        RETURN after;
    ELSIF p_action = 'propose' THEN
        IF it.state NOT IN ('new', 'proposed', 'returned', 'query', 'answered') THEN
            RAISE EXCEPTION 'cannot propose item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
        END IF;
        IF p_source IS NULL OR p_source NOT IN ('model', 'search', 'browse', 'manual') THEN
            RAISE EXCEPTION 'source must be model, search, browse or manual' USING ERRCODE = '22023';
        END IF;
        IF has_live_parts(it.external_id) THEN
            RAISE EXCEPTION 'item % was split into parts: code or correct its parts instead', it.external_id USING ERRCODE = '55000';
        END IF;
        IF v_version IS NULL THEN
            RAISE EXCEPTION 'no active MedDRA version: an admin imports one (medcoder dict import)' USING ERRCODE = '55000';
        END IF;
        SELECT * INTO l FROM llt WHERE version = v_version AND code = p_llt;
        IF NOT FOUND THEN
            RAISE EXCEPTION '% is not an LLT code in MedDRA %', p_llt, v_version USING ERRCODE = '22023';
        END IF;
        IF NOT l.current THEN
            RAISE EXCEPTION 'LLT % ''%'' is non-current in MedDRA % and cannot be chosen as a new code', l.code, l.name, v_version
                USING ERRCODE = '22023';
        END IF;
        IF p_source = 'model' AND NOT EXISTS (SELECT 1 FROM item_proposals ip, json_array_elements(ip.proposals::json) e
                WHERE ip.item_id = it.id AND (e ->> 'llt_code')::bigint = p_llt) THEN
            RAISE EXCEPTION 'LLT % is not among the model''s stored proposals for %: give the source you found it with (search, browse, manual)',
                p_llt, it.external_id USING ERRCODE = '22023';
        END IF;
        UPDATE item SET state = 'proposed', llt_code = l.code, pt_code = l.pt_code, meddra_version = v_version,
                source = p_source, proposer = u.name, reviewer = NULL, proposed_at = v_now, confirmed_at = NULL,
                revision = revision + 1, updated_at = v_now, updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
    ELSIF p_action = 'recode' THEN
        -- A confirmed code changed (after a MedDRA upgrade): the new code goes to review.
        IF it.state <> 'confirmed' THEN
            RAISE EXCEPTION 'cannot recode item %: it is % (only confirmed codes are recoded)', it.external_id, it.state
                USING ERRCODE = '55000';
        END IF;
        IF p_source IS NULL OR p_source NOT IN ('model', 'search', 'browse', 'manual') THEN
            RAISE EXCEPTION 'source must be model, search, browse or manual' USING ERRCODE = '22023';
        END IF;
        SELECT * INTO l FROM llt WHERE version = v_version AND code = p_llt;
        IF NOT FOUND OR NOT l.current THEN
            RAISE EXCEPTION '% is not a current LLT code in MedDRA %', p_llt, v_version USING ERRCODE = '22023';
        END IF;
        IF p_source = 'model' AND NOT EXISTS (SELECT 1 FROM item_proposals ip, json_array_elements(ip.proposals::json) e
                WHERE ip.item_id = it.id AND (e ->> 'llt_code')::bigint = p_llt) THEN
            RAISE EXCEPTION 'LLT % is not among the model''s stored proposals for %: give the source you found it with (search, browse, manual)',
                p_llt, it.external_id USING ERRCODE = '22023';
        END IF;
        v_text := check_text('comment', p_text, false);
        UPDATE item SET state = 'proposed', llt_code = l.code, pt_code = l.pt_code, meddra_version = v_version,
                source = p_source, proposer = u.name, reviewer = NULL, proposed_at = v_now, confirmed_at = NULL,
                comment = COALESCE(v_text, comment), revision = revision + 1, updated_at = v_now, updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
        IF it.term_key <> '' THEN
            PERFORM revise_synonym(synonym_scope_of(it.study), it.syn_key, it.meddra_version, u.name, false,
                format('recoded by %s: no confirmed item left', u.name));
            -- The synonym carried into the active version (the one deciding the key for this
            -- study) still gives the code recoded away: held.
            v_syn := governing_synonym(it.study, it.syn_key, v_version);
            UPDATE synonym SET hold = format('recoded by %s from LLT %s', u.name, it.llt_code), updated_at = v_now,
                    updated_by = u.name, seq = nextval('synonym_seq')
                WHERE study = v_syn.study AND term = it.syn_key AND meddra_version = v_version AND v_version <> it.meddra_version
                    AND llt_code = it.llt_code AND hold IS NULL;
        END IF;
    ELSIF p_action IN ('confirm', 'return') THEN
        IF it.state <> 'proposed' THEN
            RAISE EXCEPTION 'cannot % item %: it is %', p_action, it.external_id, it.state USING ERRCODE = '55000';
        END IF;
        IF u.role NOT IN ('reviewer', 'admin') THEN
            RAISE EXCEPTION '% is a %; only reviewers and admins confirm or return codes', u.name, u.role USING ERRCODE = '42501';
        END IF;
        v_syn := governing_synonym(it.study, it.syn_key, it.meddra_version);
        IF it.proposer = u.name OR code_importer(it.id) = u.name
                OR (it.source = 'synonym' AND v_syn.imported_by IS NOT DISTINCT FROM u.name AND v_syn.llt_code IS NOT DISTINCT FROM it.llt_code) THEN
            RAISE EXCEPTION 'four-eye rule: you proposed the code of % (or imported the synonym that set it), so another reviewer must confirm or return it', it.external_id
                USING ERRCODE = '42501';
        END IF;
        IF p_action = 'confirm' THEN
            SELECT * INTO l FROM llt WHERE version = v_version AND code = it.llt_code;
            IF NOT FOUND OR NOT l.current THEN
                RAISE EXCEPTION 'LLT % is not current in MedDRA %: recode item % instead of confirming it', it.llt_code, v_version, it.external_id
                    USING ERRCODE = '22023';
            END IF;
            v_to := 'confirmed';
        ELSE
            v_text := check_text('comment', p_text, false);
            IF v_text IS NULL THEN
                RAISE EXCEPTION 'return needs a comment' USING ERRCODE = '22023';
            END IF;
            v_to := 'returned';
        END IF;
        UPDATE item SET state = v_to, reviewer = u.name,
                confirmed_at = CASE WHEN v_to = 'confirmed' THEN v_now END, comment = COALESCE(v_text, comment),
                revision = revision + 1, updated_at = v_now, updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
    ELSIF p_action = 'query' THEN
        -- A split item may be queried too: the site is asked to split its record.
        IF it.state NOT IN ('new', 'proposed', 'returned', 'answered', 'split') THEN
            RAISE EXCEPTION 'cannot query item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
        END IF;
        v_text := check_text('note', p_text, false);
        IF v_text IS NULL THEN
            RAISE EXCEPTION 'query needs a comment' USING ERRCODE = '22023';
        END IF;
        UPDATE item SET state = 'query', comment = v_text, revision = revision + 1, updated_at = v_now, updated_by = u.name
            WHERE id = it.id RETURNING * INTO after;
    ELSE
        RAISE EXCEPTION 'unknown action %', p_action USING ERRCODE = '22023';
    END IF;
    -- What the synonym list learns: a confirmation makes (or strengthens) the term's synonym and
    -- autocodes the untouched items of the same term; returning a synonym-coded item holds the
    -- synonym while it still points to the code returned.
    IF p_action = 'confirm' AND after.term_key <> '' THEN
        PERFORM revise_synonym(synonym_scope_of(after.study), after.syn_key, after.meddra_version, u.name, true, 'no confirmed item left');
        IF after.meddra_version = v_version THEN
            PERFORM autocode_term(after.syn_key, NULL);
        END IF;
    ELSIF p_action = 'return' AND it.source = 'synonym' THEN
        -- The synonym that coded it: the one deciding its key for its study.
        v_syn := governing_synonym(it.study, it.syn_key, it.meddra_version);
        UPDATE synonym SET hold = format('returned by %s: %s', u.name, v_text), updated_at = v_now, updated_by = u.name,
                seq = nextval('synonym_seq')
            WHERE study = v_syn.study AND term = it.syn_key AND meddra_version = it.meddra_version AND llt_code = it.llt_code;
    END IF;
    -- The proposals the decision was taken with, and where the chosen LLT ranked among them.
    SELECT * INTO p FROM item_proposals WHERE item_id = it.id AND meddra_version = after.meddra_version;
    IF FOUND AND p_action <> 'query' THEN
        SELECT e.ord INTO v_rank FROM json_array_elements(p.proposals::json) WITH ORDINALITY AS e(v, ord)
            WHERE (e.v ->> 'llt_code')::integer = after.llt_code;
        PERFORM append_log(p_action, after.id, after.external_id, after.reported_term, it.state, after.state,
            after.llt_code, after.pt_code, after.meddra_version, after.source, v_text, p.model_version, p.proposals,
            p.entropy::text, v_rank);
    ELSE
        PERFORM append_log(p_action, after.id, after.external_id, after.reported_term, it.state, after.state,
            after.llt_code, after.pt_code, after.meddra_version, after.source, v_text);
    END IF;
    RETURN after;
END $$;

-- The item of a coding action, locked, at the revision the user read.
CREATE FUNCTION item_to_act(p_external_id text, p_revision bigint) RETURNS item
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    it item;
BEGIN
    SELECT * INTO it FROM item WHERE external_id = p_external_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no queue item with id ''%''', p_external_id USING ERRCODE = 'P0002';
    END IF;
    IF p_revision IS NOT NULL AND p_revision <> it.revision THEN
        RAISE EXCEPTION 'item % was changed by % at % after you read it (revision %, now %); reload it and try again',
            it.external_id, it.updated_by, it.updated_at, p_revision, it.revision USING ERRCODE = '40001';
    END IF;
    RETURN it;
END $$;

-- The site's answer to an open query (any coder records it), with the corrected verbatim if the
-- site sent one (store/lifecycle.rs on SQLite).
CREATE FUNCTION answer_query(p_external_id text, p_text text, p_term text, p_revision bigint) RETURNS item
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := me();
    it item;
    after item;
    v_text text;
    v_term text;
BEGIN
    PERFORM refuse_service(u);
    it := item_to_act(p_external_id, p_revision);
    IF it.state <> 'query' THEN
        RAISE EXCEPTION 'cannot answer the query of item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
    END IF;
    v_text := check_text('answer', p_text, false);
    IF v_text IS NULL THEN
        RAISE EXCEPTION 'answer needs a comment' USING ERRCODE = '22023';
    END IF;
    v_term := check_text('corrected verbatim', p_term, false);
    UPDATE item SET state = 'answered', comment = v_text, revision = revision + 1, updated_at = now_text(), updated_by = u.name
        WHERE id = it.id RETURNING * INTO after;
    PERFORM append_log('answer', it.id, it.external_id, it.reported_term, it.state, 'answered', NULL, NULL, NULL, NULL, v_text);
    IF v_term IS NOT NULL AND v_term <> it.reported_term THEN
        after := supersede_item(after, v_term, 'corrected by the site''s answer');
    END IF;
    RETURN after;
END $$;

-- A compound verbatim split into parts, each a new item coded and reviewed on its own, linked to
-- it by part_of and part_no (store/lifecycle.rs on SQLite).
CREATE FUNCTION split_item(p_external_id text, p_parts text[], p_revision bigint) RETURNS item
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := me();
    it item;
    after item;
    v_parts text[] := ARRAY[]::text[];
    v_part text;
    v_first integer;
    v_id bigint;
    v_pid text;
    v_now text := now_text();
    i integer;
BEGIN
    PERFORM refuse_service(u);
    it := item_to_act(p_external_id, p_revision);
    IF it.state NOT IN ('new', 'proposed', 'returned', 'query', 'answered') THEN
        RAISE EXCEPTION 'cannot split item %: it is %', it.external_id, it.state USING ERRCODE = '55000';
    END IF;
    IF it.part_of IS NOT NULL AND length(it.external_id) - length(replace(it.external_id, '#', '')) >= 3 THEN
        RAISE EXCEPTION 'cannot split %: parts are split three levels deep at most', it.external_id USING ERRCODE = '22023';
    END IF;
    IF coalesce(array_length(p_parts, 1), 0) < 2 THEN
        RAISE EXCEPTION 'cannot split %: a split needs two or more parts (one per event)', it.external_id USING ERRCODE = '22023';
    END IF;
    IF array_length(p_parts, 1) > 20 THEN
        RAISE EXCEPTION 'cannot split %: % parts is more than 20', it.external_id, array_length(p_parts, 1) USING ERRCODE = '22023';
    END IF;
    FOR i IN 1 .. array_length(p_parts, 1) LOOP
        v_part := check_text('part', p_parts[i], false);
        IF v_part IS NULL THEN
            RAISE EXCEPTION 'cannot split %: part % is empty', it.external_id, i USING ERRCODE = '22023';
        END IF;
        IF normalize_term(v_part) = it.term_key THEN
            RAISE EXCEPTION 'cannot split %: part % is the whole verbatim', it.external_id, i USING ERRCODE = '22023';
        END IF;
        IF EXISTS (SELECT 1 FROM unnest(v_parts) q WHERE normalize_term(q) = normalize_term(v_part)) THEN
            RAISE EXCEPTION 'cannot split %: part % repeats an earlier part', it.external_id, i USING ERRCODE = '22023';
        END IF;
        v_parts := v_parts || v_part;
    END LOOP;
    IF has_live_parts(it.external_id) THEN
        RAISE EXCEPTION 'cannot split %: it is split already (a reviewer returns a split to undo it)', it.external_id USING ERRCODE = '55000';
    END IF;
    v_first := (SELECT coalesce(max(part_no), 0) + 1 FROM item WHERE part_of = it.external_id);
    UPDATE item SET state = 'split', llt_code = NULL, pt_code = NULL, meddra_version = NULL, source = NULL, proposer = u.name,
            reviewer = NULL, proposed_at = NULL, confirmed_at = NULL, revision = revision + 1, updated_at = v_now, updated_by = u.name
        WHERE id = it.id RETURNING * INTO after;
    PERFORM append_log('split', it.id, it.external_id, it.reported_term, it.state, 'split', NULL, NULL, NULL, NULL,
        format('into %s parts: %s', array_length(v_parts, 1), (SELECT string_agg(format('''%s''', q), ' | ' ORDER BY n) FROM unnest(v_parts) WITH ORDINALITY AS t(q, n))));
    FOR i IN 1 .. array_length(v_parts, 1) LOOP
        v_pid := it.external_id || '#' || (v_first + i - 1);
        IF EXISTS (SELECT 1 FROM item WHERE external_id = v_pid) THEN
            RAISE EXCEPTION 'cannot split %: the id % is already queued', it.external_id, v_pid USING ERRCODE = '23505';
        END IF;
        INSERT INTO item(external_id, study, subject, reported_term, onset_date, seriousness, investigator, state,
                imported_at, updated_at, updated_by, term_key, part_of, part_no)
            VALUES (v_pid, it.study, it.subject, v_parts[i], it.onset_date, it.seriousness, it.investigator, 'new',
                v_now, v_now, u.name, normalize_term(v_parts[i]), it.external_id, v_first + i - 1)
            RETURNING id INTO v_id;
        PERFORM append_log('import', v_id, v_pid, v_parts[i], NULL, 'new', NULL, NULL, NULL, NULL,
            format('part %s of %s, split by %s', v_first + i - 1, it.external_id, u.name));
        PERFORM code_by_rules(v_id);
    END LOOP;
    RETURN after;
END $$;

-- Assigns (p_user) or clears (NULL) the duty of an item, term or study (admin), logged as on SQLite.
CREATE FUNCTION assign_work(p_kind text, p_key text, p_duty text, p_user text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
    v_key text := CASE WHEN p_kind = 'term' THEN normalize_term(p_key) ELSE btrim(p_key) END;
    who app_user;
    v_what text;
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('item', 'term', 'study') THEN
        RAISE EXCEPTION 'unknown assignment scope ''%'': item, term or study', p_kind USING ERRCODE = '22023';
    END IF;
    IF p_duty IS NULL OR p_duty NOT IN ('code', 'review') THEN
        RAISE EXCEPTION 'unknown duty ''%'': code or review', p_duty USING ERRCODE = '22023';
    END IF;
    IF coalesce(v_key, '') = '' THEN
        RAISE EXCEPTION 'the % to assign is empty', p_kind USING ERRCODE = '22023';
    END IF;
    PERFORM check_text(p_kind, v_key, true);
    IF p_kind = 'item' AND NOT EXISTS (SELECT 1 FROM item WHERE external_id = v_key) THEN
        RAISE EXCEPTION 'no queue item with id ''%''', v_key USING ERRCODE = 'P0002';
    END IF;
    IF p_user IS NULL THEN
        DELETE FROM assignment WHERE kind = p_kind AND key = v_key AND duty = p_duty;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no one is assigned the % of % %', p_duty, p_kind, v_key USING ERRCODE = 'P0002';
        END IF;
        v_what := format('%s of %s %s: assignment cleared', p_duty, p_kind, v_key);
    ELSE
        SELECT * INTO who FROM app_user WHERE name = lower(p_user);
        IF NOT FOUND OR who.role = 'service' THEN
            RAISE EXCEPTION 'no user ''%''', p_user USING ERRCODE = 'P0002';
        END IF;
        IF p_duty = 'review' AND who.role NOT IN ('reviewer', 'admin') THEN
            RAISE EXCEPTION '% is a %: only reviewers and admins are assigned review', who.name, who.role USING ERRCODE = '22023';
        END IF;
        INSERT INTO assignment VALUES (p_kind, v_key, p_duty, who.name, u.name, now_text())
            ON CONFLICT (kind, key, duty) DO UPDATE SET username = excluded.username, assigned_by = excluded.assigned_by,
                assigned_at = excluded.assigned_at;
        v_what := format('%s of %s %s assigned to %s', p_duty, p_kind, v_key, who.name);
    END IF;
    PERFORM append_log('assign', NULL, CASE WHEN p_kind = 'item' THEN v_key END, CASE WHEN p_kind = 'term' THEN v_key END,
        NULL, NULL, NULL, NULL, NULL, NULL, v_what);
END $$;

-- Sets (a YYYY-MM-DD date) or clears (NULL) a study's due date (admin), logged.
CREATE FUNCTION set_due_date(p_study text, p_date text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
    v_study text := check_text('study', p_study, true);
    v_day date;
BEGIN
    IF p_date IS NULL THEN
        DELETE FROM study_due WHERE study = v_study;
        PERFORM append_log('due-date', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, format('study %s: due date cleared', v_study));
        RETURN;
    END IF;
    -- A real day (2026-02-30 is not one).
    BEGIN
        v_day := p_date::date;
    EXCEPTION WHEN others THEN
        v_day := NULL;
    END;
    IF v_day IS NULL OR p_date !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
        RAISE EXCEPTION 'due date ''%'' is not a date written YYYY-MM-DD', p_date USING ERRCODE = '22023';
    END IF;
    INSERT INTO study_due VALUES (v_study, p_date, u.name, now_text())
        ON CONFLICT (study) DO UPDATE SET due_date = excluded.due_date, set_by = excluded.set_by, set_at = excluded.set_at;
    PERFORM append_log('due-date', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, format('study %s due %s', v_study, p_date));
END $$;

-- Keeps a received SDTM dataset, in the transaction that queued its records (anyone who
-- imports; not the proposal service). Every record names a queued item, all of one study; each
-- record is a JSON array of one value per column. The digest is the database's own (metadata,
-- then each record on its own line, as src/sdtm/mod.rs digest computes it), and it is logged.
CREATE FUNCTION keep_dataset(p_domain text, p_file text, p_format text, p_metadata text, p_records text[], p_ids text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := me();
    v_n integer := coalesce(array_length(p_records, 1), 0);
    v_columns integer;
    v_studies text[];
    v_sha text;
    v_id bigint;
BEGIN
    PERFORM refuse_service(u);
    IF v_n = 0 OR v_n <> coalesce(array_length(p_ids, 1), 0) THEN
        RAISE EXCEPTION 'a dataset is kept with one item id per record (% records, % ids)', v_n, coalesce(array_length(p_ids, 1), 0)
            USING ERRCODE = '22023';
    END IF;
    v_columns := jsonb_array_length(p_metadata::jsonb -> 'columns');
    IF EXISTS (SELECT 1 FROM unnest(p_records) r WHERE jsonb_typeof(r::jsonb) <> 'array' OR jsonb_array_length(r::jsonb) <> v_columns) THEN
        RAISE EXCEPTION 'every record of a dataset holds one value per column (%)', v_columns USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_ids) x WHERE NOT EXISTS (SELECT 1 FROM item WHERE external_id = x)) THEN
        RAISE EXCEPTION 'a record of the dataset is not a queued item: its records are queued first' USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(DISTINCT study) INTO v_studies FROM item WHERE external_id = ANY(p_ids);
    IF array_length(v_studies, 1) > 1 THEN
        RAISE EXCEPTION 'records of % studies: a dataset is received one study at a time', array_length(v_studies, 1) USING ERRCODE = '22023';
    END IF;
    v_sha := encode(sha256(convert_to(p_metadata || coalesce((SELECT string_agg(E'\n' || r, '' ORDER BY o)
        FROM unnest(p_records) WITH ORDINALITY AS t(r, o)), ''), 'UTF8')), 'hex');
    INSERT INTO dataset(study, domain, file, format, metadata, records, sha256, received_by, received_at)
        VALUES (v_studies[1], check_text('domain', p_domain, true), check_text('file', p_file, true), p_format, p_metadata, v_n, v_sha,
            u.name, now_text())
        RETURNING id INTO v_id;
    INSERT INTO dataset_record SELECT v_id, o, p_ids[o], r FROM unnest(p_records) WITH ORDINALITY AS t(r, o);
    PERFORM append_log('dataset', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        format('dataset %s: %s from %s, %s records, sha256 %s', v_id, p_domain, p_file, v_n, v_sha));
    RETURN v_id;
END $$;

-- A MedDRA release's LLTs (admin; in chunks). A version already loaded is never changed.
CREATE FUNCTION add_llts(p_version text, p_codes integer[], p_names text[], p_pts integer[], p_pt_names text[], p_current boolean[])
    RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    n integer;
BEGIN
    PERFORM require_admin();
    PERFORM check_text('version', p_version, true);
    IF EXISTS (SELECT 1 FROM setting WHERE key = 'sealed:' || p_version) THEN
        RAISE EXCEPTION 'MedDRA % is already loaded' , p_version USING ERRCODE = '23505';
    END IF;
    INSERT INTO llt SELECT p_version, c, check_text('llt_name', nm, true), p, check_text('pt_name', pn, true), cur, normalize_term(nm)
        FROM unnest(p_codes, p_names, p_pts, p_pt_names, p_current) AS t(c, nm, p, pn, cur);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- A digest of a loaded release as coding depends on it (every LLT with its PT and currency, and the
-- release files kept for desks): logged when the release is sealed, recomputed by audit verify.
CREATE FUNCTION release_digest(p_version text) RETURNS text
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    SELECT 'sha256:' || encode(sha256(convert_to(
        coalesce((SELECT string_agg(code || E'\t' || name || E'\t' || pt_code || E'\t' || pt_name || E'\t' || current, E'\n' ORDER BY code)
            FROM llt WHERE version = p_version), '') || E'\n--\n' ||
        coalesce((SELECT string_agg(name || E'\t' || encode(sha256(content), 'hex'), E'\n' ORDER BY name)
            FROM release_file WHERE version = p_version), ''), 'UTF8')), 'hex')
$$;

-- Ends a release's load (no more LLTs for it) and makes it the active version; logged.
CREATE FUNCTION use_version(p_version text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    v_old text;
BEGIN
    PERFORM require_admin();
    IF NOT EXISTS (SELECT 1 FROM llt WHERE version = p_version AND current) THEN
        RAISE EXCEPTION 'MedDRA % is not loaded (or has no current LLT)', p_version USING ERRCODE = '22023';
    END IF;
    v_old := (SELECT value FROM setting WHERE key = 'meddra_version');
    IF NOT EXISTS (SELECT 1 FROM setting WHERE key = 'sealed:' || p_version) THEN
        PERFORM append_log('dict seal', NULL, NULL, NULL, NULL, NULL, NULL, NULL, p_version, NULL, release_digest(p_version));
    END IF;
    INSERT INTO setting VALUES ('sealed:' || p_version, now_text()) ON CONFLICT (key) DO NOTHING;
    INSERT INTO setting VALUES ('meddra_version', p_version) ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    PERFORM append_log('dict use', NULL, NULL, NULL, NULL, NULL, NULL, NULL, p_version, NULL, v_old);
    -- The synonym list carries over to the new version; a synonym whose LLT is no longer current or
    -- moved to another PT is held until someone resolves it (recode-check lists it).
    IF v_old IS NOT NULL AND v_old <> p_version THEN
        INSERT INTO synonym
            SELECT s.term, p_version, s.llt_code, 'carried', s.confirmations, NULL, s.external_id, s.reported_term, s.proposer,
                   s.reviewer, now_text(), session_user::text,
                   CASE WHEN n.code IS NULL THEN format('MedDRA %s: LLT %s does not exist', p_version, s.llt_code)
                        WHEN NOT n.current THEN format('MedDRA %s: LLT %s is non-current', p_version, s.llt_code)
                        WHEN n.pt_code <> o.pt_code THEN format('MedDRA %s: LLT %s moved from PT %s to PT %s', p_version, s.llt_code, o.pt_code, n.pt_code)
                        ELSE s.hold END,
                   nextval('synonym_seq'), s.imported_by, s.approval, s.decided_by, s.study
            FROM synonym s
            LEFT JOIN llt o ON o.version = v_old AND o.code = s.llt_code
            LEFT JOIN llt n ON n.version = p_version AND n.code = s.llt_code
            WHERE s.meddra_version = v_old
            ON CONFLICT (study, term, meddra_version) DO NOTHING;
    END IF;
END $$;

-- Records a medcoder user for a login role that the server's administrator created
-- (`medcoder team user add`); only that administrator's connection reaches it (no grant).
CREATE FUNCTION register_user(p_name text, p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
BEGIN
    INSERT INTO app_user VALUES (p_name, p_role, now_text(), session_user::text)
        ON CONFLICT (name) DO UPDATE SET role = excluded.role;
    PERFORM append_log('user ' || p_role, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, p_name);
END $$;

-- One file of a release being imported (admin), before use_version seals it.
CREATE FUNCTION add_release_file(p_version text, p_name text, p_content bytea) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
BEGIN
    PERFORM require_admin();
    IF EXISTS (SELECT 1 FROM setting WHERE key = 'sealed:' || p_version) THEN
        RAISE EXCEPTION 'MedDRA % is already loaded', p_version USING ERRCODE = '23505';
    END IF;
    INSERT INTO release_file VALUES (p_version, p_name, p_content);
END $$;

-- The one-sided Wilson score lower bound of k right of n at z = 1.645 (95%); 0 for none.
CREATE FUNCTION wilson_lower(k bigint, n bigint) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n = 0 THEN 0::float8 ELSE greatest(0::float8,
        (p + z * z / (2 * n) - z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)) END
    FROM (SELECT k::float8 / nullif(n, 0) AS p, 1.6448536269514722::float8 AS z) c
$$;

-- The validated threshold of model-first coding (issue #23) for one model version, as
-- `backtest::validate` computes it on SQLite: over the newest 1,000 confirmed items that model was
-- asked for (not rule- or synonym-coded), the lowest PT score of the top proposal (its PT
-- confidence before calibration: `raw.pt`, else as stored) at which the items at or above it
-- are right at PT level with a Wilson lower bound >= the team's target; NULL when none reaches it
-- or when the newest 200 above it fall below the target (drift).
CREATE FUNCTION model_first_threshold(p_model text) RETURNS float8
LANGUAGE sql STABLE SET search_path = medcoder, pg_temp AS $$
    WITH target AS (SELECT coalesce((SELECT value::float8 / 100 FROM setting WHERE key = 'model_first_target'), 0.95) AS t),
    logs AS (
        SELECT DISTINCT ON (item_id) item_id, pt_code, proposals::json AS p, at FROM (
            SELECT 0 AS src, seq, item_id, pt_code, proposals, at FROM imported_log
                WHERE action = 'confirm' AND proposals IS NOT NULL AND model_version = p_model
            UNION ALL
            SELECT 1, seq, item_id, pt_code, proposals, at FROM decision_log
                WHERE action = 'confirm' AND proposals IS NOT NULL AND model_version = p_model
        ) l ORDER BY item_id, src DESC, seq DESC),
    cases AS (
        SELECT l.item_id, l.at,
            CASE WHEN json_array_length(l.p) = 0 THEN 0::float8
                 ELSE coalesce((l.p -> 0 -> 'raw' ->> 'pt')::float8, (l.p -> 0 ->> 'pt_confidence')::float8,
                     (SELECT least(sum((e ->> 'confidence')::float8), 1) FROM json_array_elements(l.p) e
                     WHERE e ->> 'pt_code' = l.p -> 0 ->> 'pt_code')) END AS conf,
            coalesce((l.p -> 0 ->> 'pt_code')::bigint = l.pt_code, false) AS hit
        FROM logs l JOIN item i ON i.id = l.item_id AND i.state = 'confirmed'
        WHERE i.source IS NULL OR i.source NOT IN ('rule', 'synonym')
        ORDER BY l.at DESC, l.item_id DESC LIMIT 1000),
    curve AS (SELECT conf, sum(hit::int) OVER w AS k, count(*) OVER w AS n FROM cases WINDOW w AS (ORDER BY conf DESC)),
    chosen AS (SELECT min(conf) AS th FROM curve, target WHERE wilson_lower(k, n) >= target.t),
    recent AS (SELECT hit FROM cases, chosen WHERE conf >= chosen.th ORDER BY at DESC, item_id DESC LIMIT 200)
    SELECT th FROM chosen, target WHERE th IS NOT NULL
        AND (SELECT wilson_lower(count(*) FILTER (WHERE hit), count(*)) FROM recent) >= target.t
$$;

-- Model-first coding of one item whose proposals were just stored (team setting model_first on):
-- an untouched item whose top proposal's PT confidence clears the validated threshold is proposed
-- by the model ('model ' || its version) and goes to a reviewer. Never for a term or LLT on the
-- do-not-autocode list; the account that stored the proposals ("model run by") cannot confirm it,
-- so no one can dress their own choice up as the model's and confirm it.
CREATE FUNCTION model_first_code(p_item bigint, p_model text, p_version text, p json, p_entropy float8, p_runner text) RETURNS void
LANGUAGE plpgsql SET search_path = medcoder, pg_temp AS $$
DECLARE
    it item;
    l llt;
    after item;
    v_th float8;
    v_shown float8;
    v_conf float8;
BEGIN
    IF json_array_length(p) = 0 THEN
        RETURN;
    END IF;
    SELECT * INTO it FROM item WHERE id = p_item;
    -- Untouched: new, not a split's part, nothing in its history but its import (a person who
    -- coded, withdrew, queried or split it was its first pair of eyes already).
    IF NOT FOUND OR it.state <> 'new' OR it.part_of IS NOT NULL
            OR EXISTS (SELECT 1 FROM decision_log WHERE item_id = it.id AND action NOT IN ('import', 'supersede'))
            OR EXISTS (SELECT 1 FROM imported_log WHERE item_id = it.id AND action NOT IN ('import', 'supersede')) THEN
        RETURN;
    END IF;
    v_shown := coalesce((p -> 0 ->> 'pt_confidence')::float8,
        (SELECT least(sum((e ->> 'confidence')::float8), 1) FROM json_array_elements(p) e WHERE e ->> 'pt_code' = p -> 0 ->> 'pt_code'));
    v_conf := coalesce((p -> 0 -> 'raw' ->> 'pt')::float8, v_shown);
    -- Never what the desk would flag "PT uncertain" (under 50%), whatever the threshold.
    IF v_shown < 0.5 THEN
        RETURN;
    END IF;
    v_th := model_first_threshold(p_model);
    IF v_th IS NULL OR v_conf < v_th THEN
        RETURN;
    END IF;
    IF is_excluded(it.term_key, (p -> 0 ->> 'llt_code')::integer) THEN
        RETURN;
    END IF;
    SELECT * INTO l FROM llt WHERE version = p_version AND code = (p -> 0 ->> 'llt_code')::integer;
    IF NOT FOUND OR NOT l.current OR l.pt_code <> (p -> 0 ->> 'pt_code')::integer THEN
        RETURN;
    END IF;
    UPDATE item SET state = 'proposed', llt_code = l.code, pt_code = l.pt_code, meddra_version = l.version, source = 'model-first',
            proposer = 'model ' || p_model, reviewer = NULL, proposed_at = now_text(), confirmed_at = NULL,
            revision = revision + 1, updated_at = now_text(), updated_by = session_user::text
        WHERE id = p_item AND state = 'new' RETURNING * INTO after;
    IF FOUND THEN
        PERFORM append_log('autocode', after.id, after.external_id, after.reported_term, 'new', 'proposed', l.code, l.pt_code, l.version,
            'model-first', format('model-first: PT score %s >= validated threshold %s (target %s%%); model run by %s; awaits review',
                round(v_conf::numeric, 3), round(v_th::numeric, 3),
                round(coalesce((SELECT value FROM setting WHERE key = 'model_first_target'), '95')::numeric, 1), p_runner),
            p_model, p::text, p_entropy::text, 1);
    END IF;
END $$;

-- A model-first team setting (admin; logged): model_first on/off, model_first_target a PT@1
-- percentage from 50 to 99.9, model_first_exclude the do-not-autocode list (a JSON array of
-- 'term:TEXT' and 'llt:CODE').
CREATE FUNCTION set_team_setting(p_key text, p_value text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
    x text;
BEGIN
    IF p_key = 'model_first' THEN
        IF p_value NOT IN ('on', 'off') THEN
            RAISE EXCEPTION 'model-first is on or off, not %', left(p_value, 40) USING ERRCODE = '22023';
        END IF;
    ELSIF p_key = 'model_first_target' THEN
        IF p_value !~ '^[0-9]{1,3}(\.[0-9]+)?$' OR p_value::float8 NOT BETWEEN 50 AND 99.9 THEN
            RAISE EXCEPTION 'the model-first target is a PT@1 percentage from 50 to 99.9, not %', left(p_value, 40) USING ERRCODE = '22023';
        END IF;
    ELSIF p_key = 'synonym_approval' THEN
        IF p_value NOT IN ('immediate', 'review') THEN
            RAISE EXCEPTION 'synonym approval is immediate or review, not %', left(p_value, 40) USING ERRCODE = '22023';
        END IF;
    ELSIF p_key = 'synonym_scope' THEN
        IF p_value NOT IN ('global', 'study') THEN
            RAISE EXCEPTION 'synonym scope is global or study, not %', left(p_value, 40) USING ERRCODE = '22023';
        END IF;
    ELSIF p_key = 'model_first_exclude' THEN
        IF json_typeof(p_value::json) <> 'array' THEN
            RAISE EXCEPTION 'the do-not-autocode list is a JSON array' USING ERRCODE = '22023';
        END IF;
        FOR x IN SELECT json_array_elements_text(p_value::json) LOOP
            IF x !~ '^(term:.+|llt:[1-9][0-9]{0,8})$' THEN
                RAISE EXCEPTION 'do-not-autocode entry %: write term:TEXT or llt:CODE', left(x, 80) USING ERRCODE = '22023';
            END IF;
            PERFORM check_text('do-not-autocode entry', x, true);
        END LOOP;
    ELSE
        RAISE EXCEPTION 'no team setting %', left(p_key, 40) USING ERRCODE = '22023';
    END IF;
    INSERT INTO setting VALUES (p_key, p_value) ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    PERFORM append_log('setting', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, p_key || ' = ' || p_value);
END $$;

-- The proposal service's (or an admin's) proposals for one item, for the active version only.
-- Not logged: proposals are advice; the log records them with each decision.
CREATE FUNCTION set_proposals(p_item_id bigint, p_model text, p_version text, p_entropy double precision,
        p_proposals text, p_computed_at text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := me();
    e json;
BEGIN
    -- A coder who could write proposals could dress their own code up as the model's first choice.
    IF u.role NOT IN ('service', 'admin') THEN
        RAISE EXCEPTION '% is a %; only the proposal service (role service) or an admin stores proposals', u.name, u.role
            USING ERRCODE = '42501';
    END IF;
    IF p_version IS DISTINCT FROM (SELECT value FROM setting WHERE key = 'meddra_version') THEN
        RAISE EXCEPTION 'proposals for MedDRA % are not for the active version', p_version USING ERRCODE = '22023';
    END IF;
    -- Every desk reads these: their shape is checked here, so no account can store proposals that
    -- make a colleague's desk fail or an item undecidable.
    IF json_typeof(p_proposals::json) <> 'array' OR json_array_length(p_proposals::json) > 20 THEN
        RAISE EXCEPTION 'proposals must be a JSON array of at most 20' USING ERRCODE = '22023';
    END IF;
    FOR e IN SELECT value FROM json_array_elements(p_proposals::json) LOOP
        IF json_typeof(e) <> 'object' OR json_typeof(e -> 'llt_code') IS DISTINCT FROM 'number'
                OR json_typeof(e -> 'pt_code') IS DISTINCT FROM 'number' OR json_typeof(e -> 'score') IS DISTINCT FROM 'number'
                OR json_typeof(e -> 'confidence') IS DISTINCT FROM 'number'
                OR (e ->> 'llt_code') !~ '^[0-9]{1,9}$' OR (e ->> 'pt_code') !~ '^[0-9]{1,9}$'
                OR (e ->> 'confidence')::float8 NOT BETWEEN 0 AND 1
                OR json_typeof(e -> 'evidence') NOT IN ('string', 'null')
                OR json_typeof(e -> 'pt_confidence') NOT IN ('number', 'null')
                OR coalesce((e ->> 'pt_confidence')::float8, 0) NOT BETWEEN 0 AND 1
                OR json_typeof(e -> 'raw') NOT IN ('object', 'null')
                OR (json_typeof(e -> 'raw') = 'object' AND (json_typeof(e -> 'raw' -> 'pt') IS DISTINCT FROM 'number'
                    OR json_typeof(e -> 'raw' -> 'llt') IS DISTINCT FROM 'number' OR (e -> 'raw' ->> 'pt')::float8 NOT BETWEEN 0 AND 1
                    OR (e -> 'raw' ->> 'llt')::float8 NOT BETWEEN 0 AND 1)) THEN
            RAISE EXCEPTION 'each proposal is {llt_code, pt_code, score, confidence in [0, 1], evidence?, pt_confidence in [0, 1]?, raw?}: %', left(e::text, 200)
                USING ERRCODE = '22023';
        END IF;
        PERFORM check_text('evidence', e ->> 'evidence', false);
    END LOOP;
    IF p_entropy IS NOT NULL AND NOT (p_entropy >= 0 AND p_entropy < 'Infinity'::float8) THEN
        RAISE EXCEPTION 'entropy must be a finite number >= 0' USING ERRCODE = '22023';
    END IF;
    PERFORM check_text('model version', p_model, true);
    INSERT INTO item_proposals VALUES (p_item_id, p_model, p_version, p_entropy, p_proposals, p_computed_at)
        ON CONFLICT (item_id) DO UPDATE SET model_version = excluded.model_version, meddra_version = excluded.meddra_version,
            entropy = excluded.entropy, proposals = excluded.proposals, computed_at = excluded.computed_at;
    IF (SELECT value FROM setting WHERE key = 'model_first') IS NOT DISTINCT FROM 'on' THEN
        PERFORM model_first_code(p_item_id, p_model, p_version, p_proposals::json, p_entropy, u.name);
    END IF;
END $$;

-- Stops a synonym of one list (p_study: a study's, '' the global one) from autocoding (admin); it
-- stays listed, held, until a new confirmation. A study's retired entry keeps the global one from
-- coding that study's items too. Logged.
CREATE FUNCTION retire_synonym(p_term text, p_study text) RETURNS synonym
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
    v_study text := coalesce(p_study, '');
    s synonym;
BEGIN
    SELECT * INTO s FROM synonym WHERE study = v_study AND term = synonym_key(normalize_term(p_term))
        AND meddra_version = (SELECT value FROM setting WHERE key = 'meddra_version') FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no synonym ''%'' on the % list in the active MedDRA version', synonym_key(normalize_term(p_term)),
            CASE WHEN v_study = '' THEN 'global' ELSE 'study ' || v_study END USING ERRCODE = 'P0002';
    END IF;
    -- As on SQLite: retiring a retired synonym twice is refused (a returned one may be retired for good).
    IF s.hold LIKE 'retired by %' THEN
        RAISE EXCEPTION 'the synonym ''%'' (%) is already retired (%)', s.term,
            CASE WHEN v_study = '' THEN 'global' ELSE 'study ' || v_study END, s.hold USING ERRCODE = '55000';
    END IF;
    UPDATE synonym SET hold = format('retired by %s', u.name), updated_at = now_text(), updated_by = u.name,
            seq = nextval('synonym_seq')
        WHERE study = s.study AND term = s.term AND meddra_version = s.meddra_version
        RETURNING * INTO s;
    PERFORM append_log('synonym retire', NULL, NULL, s.reported_term, NULL, NULL, s.llt_code, NULL, s.meddra_version,
        CASE WHEN v_study = '' THEN 'synonym' ELSE 'study:' || v_study END, s.term);
    RETURN s;
END $$;

-- One row of an imported synonym list (admin; the client checks the whole file first, and imports
-- it in one transaction): the term autocodes from now on, logged per synonym. A code an imported
-- synonym sets was chosen by one person: never auto-confirmed, and its importer cannot confirm it.
-- p_study: the list imported onto (a study's, '' the global one).
CREATE FUNCTION import_synonym(p_term text, p_llt integer, p_origin text, p_study text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
    v_study text := coalesce(check_text('study', p_study, false), '');
    v_version text := (SELECT value FROM setting WHERE key = 'meddra_version');
    v_term text := synonym_key(normalize_term(check_text('reported_term', p_term, true)));
    l llt;
BEGIN
    IF v_term = '' THEN
        RAISE EXCEPTION 'the term ''%'' has no letters or digits', p_term USING ERRCODE = '22023';
    END IF;
    SELECT * INTO l FROM llt WHERE version = v_version AND code = p_llt AND current;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a current LLT code in MedDRA %', p_llt, v_version USING ERRCODE = '22023';
    END IF;
    IF v_study <> btrim(p_study) THEN
        RAISE EXCEPTION 'the study ''%'' has blanks around it', p_study USING ERRCODE = '22023';
    END IF;
    INSERT INTO synonym VALUES (v_term, v_version, l.code, 'imported', 0, NULL, NULL, check_text('reported_term', p_term, true), NULL, NULL, now_text(), u.name, NULL,
            nextval('synonym_seq'), u.name, 'approved', NULL, v_study)
        ON CONFLICT (study, term, meddra_version) DO UPDATE SET llt_code = excluded.llt_code, origin = 'imported', confirmations = 0,
            item_id = NULL, external_id = NULL, reported_term = excluded.reported_term, proposer = NULL, reviewer = NULL,
            updated_at = excluded.updated_at, updated_by = excluded.updated_by, hold = NULL, seq = excluded.seq,
            imported_by = excluded.imported_by, approval = 'approved', decided_by = NULL;
    PERFORM append_log('synonym import', NULL, NULL, p_term, NULL, NULL, l.code, l.pt_code, v_version,
        CASE WHEN v_study = '' THEN 'synonym' ELSE 'study:' || v_study END, check_text('origin', p_origin, false));
    PERFORM autocode_term(v_term, NULL);
END $$;

-- Rule codes confirmed without review (on) or sent to review (off, the default); admin, logged.
CREATE FUNCTION set_autocode_confirm(p_on boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
BEGIN
    INSERT INTO setting VALUES ('autocode_confirm', CASE WHEN p_on THEN 'on' ELSE 'off' END)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    PERFORM append_log('setting', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        'autocode_confirm = ' || CASE WHEN p_on THEN 'on' ELSE 'off' END);
END $$;

-- A pending synonym candidate approved (p_why NULL) or declined (saying why) by a reviewer or admin
-- who proposed or confirmed none of the codes behind it (store/governance.rs on SQLite). Logged;
-- an approved synonym autocodes the untouched items of its key at once.
-- p_study: the list whose candidate it is (a study's, '' the global one).
CREATE FUNCTION decide_synonym(p_term text, p_why text, p_study text) RETURNS synonym
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := me();
    v_study text := coalesce(p_study, '');
    v_version text := (SELECT value FROM setting WHERE key = 'meddra_version');
    v_key text := synonym_key(normalize_term(coalesce(p_term, '')));
    v_verb text := CASE WHEN p_why IS NULL THEN 'approves' ELSE 'declines' END;
    v_why text := check_text('the reason', p_why, p_why IS NOT NULL);
    v_own text;
    s synonym;
BEGIN
    IF u.role NOT IN ('reviewer', 'admin') THEN
        RAISE EXCEPTION '% is a %; only a reviewer or an admin % synonym candidates', u.name, u.role, v_verb USING ERRCODE = '42501';
    END IF;
    SELECT * INTO s FROM synonym WHERE study = v_study AND term = v_key AND meddra_version = v_version FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no synonym ''%'' on the % list in MedDRA %: see `medcoder synonym list --candidates`', v_key,
            CASE WHEN v_study = '' THEN 'global' ELSE 'study ' || v_study END, v_version USING ERRCODE = 'P0002';
    END IF;
    IF s.approval <> 'pending' THEN
        RAISE EXCEPTION 'the synonym ''%'' is not a candidate awaiting approval (it is %)', v_key, s.approval USING ERRCODE = '55000';
    END IF;
    -- Who chose this code for this key is read from the log: an item recoded or corrected since
    -- still had its code chosen by them.
    SELECT coalesce(external_id, '-') INTO v_own FROM decision_log WHERE username = u.name AND action IN ('propose', 'recode', 'confirm')
        AND llt_code = s.llt_code AND meddra_version = v_version AND synonym_key(normalize_term(reported_term)) = v_key LIMIT 1;
    IF v_own IS NOT NULL THEN
        RAISE EXCEPTION 'four-eye rule: you proposed or confirmed a code behind the candidate ''%'' (%), so another reviewer or admin % it',
            v_key, v_own, v_verb USING ERRCODE = '42501';
    END IF;
    IF v_why IS NULL AND NOT EXISTS (SELECT 1 FROM item WHERE syn_key = v_key AND meddra_version = v_version AND llt_code = s.llt_code AND state = 'confirmed'
            AND (v_study = '' OR study = v_study)) THEN
        RAISE EXCEPTION 'no confirmed item backs the candidate ''%'' any more (recoded or corrected since): it cannot be approved; a new confirmation makes it a candidate again',
            v_key USING ERRCODE = '55000';
    END IF;
    UPDATE synonym SET approval = CASE WHEN v_why IS NULL THEN 'approved' ELSE 'declined' END,
            hold = CASE WHEN v_why IS NULL THEN NULL ELSE format('declined by %s: %s', u.name, v_why) END,
            decided_by = u.name, updated_at = now_text(), updated_by = u.name, seq = nextval('synonym_seq')
        WHERE study = v_study AND term = v_key AND meddra_version = v_version RETURNING * INTO s;
    PERFORM append_log(CASE WHEN v_why IS NULL THEN 'synonym approve' ELSE 'synonym decline' END, NULL, NULL, v_key, NULL, NULL,
        s.llt_code, (SELECT pt_code FROM llt WHERE version = v_version AND code = s.llt_code), v_version,
        CASE WHEN v_study = '' THEN 'synonym' ELSE 'study:' || v_study END, v_why);
    IF v_why IS NULL THEN
        PERFORM autocode_term(v_key, NULL);
    END IF;
    RETURN s;
END $$;

-- The qualifier list the synonym key drops (admin; a JSON array the client made canonical, checked
-- again here). Every item's key is recomputed and every synonym moves to its key under the new
-- list; where two synonyms of a version now share a key, the newest change stays. Returns
-- {items rekeyed, synonyms moved, synonyms merged}. Logged as a setting.
CREATE FUNCTION set_synonym_qualifiers(p_value text) RETURNS integer[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = medcoder, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    u app_user := require_admin();
    x text;
    w text;
    v_plain text;
    v_items integer;
    v_merged integer := 0;
    v_seen text[] := '{}';
    v_seqs bigint[] := '{}';
    v_keys text[] := '{}';
    v_seen_llt integer[] := '{}';
    v_seen_term text[] := '{}';
    v_at integer;
    r record;
BEGIN
    IF json_typeof(p_value::json) <> 'array' THEN
        RAISE EXCEPTION 'the synonym qualifiers are a JSON array of phrases' USING ERRCODE = '22023';
    END IF;
    IF json_array_length(p_value::json) > 200 THEN
        RAISE EXCEPTION 'at most 200 qualifiers' USING ERRCODE = '22023';
    END IF;
    FOR x IN SELECT json_array_elements_text(p_value::json) LOOP
        PERFORM check_text('qualifier', x, true);
        IF x ~ '^<n>( <n>)*$' THEN
            RAISE EXCEPTION 'a qualifier of numbers alone would drop numbers from every term' USING ERRCODE = '22023';
        END IF;
        IF length(x) > 100 THEN
            RAISE EXCEPTION 'a qualifier has at most 100 characters' USING ERRCODE = '22023';
        END IF;
        FOREACH w IN ARRAY string_to_array(x, ' ') LOOP
            v_plain := regexp_replace(w, '<n>', '');
            IF w = '' OR v_plain ~ '[<>]' OR normalize_term(v_plain) <> v_plain THEN
                RAISE EXCEPTION 'the qualifier ''%'' is not normalised words', left(x, 80) USING ERRCODE = '22023';
            END IF;
        END LOOP;
    END LOOP;
    INSERT INTO setting VALUES ('synonym_qualifiers', p_value) ON CONFLICT (key) DO UPDATE SET value = excluded.value;
    UPDATE item SET syn_key = synonym_key(term_key) WHERE syn_key IS DISTINCT FROM synonym_key(term_key);
    GET DIAGNOSTICS v_items = ROW_COUNT;
    -- From the term each synonym was made of, not its old key: a qualifier taken off comes back.
    -- Keys are merged within one list of one version, never across lists.
    FOR r IN SELECT study, term, meddra_version, seq, llt_code, synonym_key(coalesce(normalize_term(reported_term), term)) AS k FROM synonym ORDER BY seq DESC LOOP
        v_at := array_position(v_seen, r.study || E'\x01' || r.meddra_version || E'\x01' || r.k);
        IF v_at IS NOT NULL THEN
            -- Two synonyms that agree are one; two that code differently are never merged
            -- silently: the admin resolves them first.
            IF v_seen_llt[v_at] <> r.llt_code THEN
                RAISE EXCEPTION 'the qualifier list was not changed: ''%'' (LLT %) and ''%'' (LLT %) would share the key ''%'' on the % list in MedDRA %; retire one of each (synonym retire) or recode, then change the list',
                    v_seen_term[v_at], v_seen_llt[v_at], r.term, r.llt_code, r.k, CASE WHEN r.study = '' THEN 'global' ELSE 'study ' || r.study END,
                    r.meddra_version USING ERRCODE = '55000';
            END IF;
            DELETE FROM synonym WHERE seq = r.seq;
            v_merged := v_merged + 1;
        ELSE
            v_seen := v_seen || (r.study || E'\x01' || r.meddra_version || E'\x01' || r.k);
            v_seen_llt := v_seen_llt || r.llt_code;
            v_seen_term := v_seen_term || r.term;
            IF r.k <> r.term THEN
                -- Out of the way first: a key another row still holds is freed before it is taken.
                UPDATE synonym SET term = '#' || seq WHERE seq = r.seq;
                v_seqs := v_seqs || r.seq;
                v_keys := v_keys || r.k;
            END IF;
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(v_seqs, 1), 0) LOOP
        UPDATE synonym SET term = v_keys[i] WHERE seq = v_seqs[i];
    END LOOP;
    -- A key whose synonym was merged away under an earlier list is made again from its
    -- confirmed items (under review: as a candidate).
    FOR r IN SELECT DISTINCT synonym_scope_of(i.study) AS scope, syn_key, meddra_version FROM item i WHERE state = 'confirmed' AND syn_key <> ''
            AND meddra_version IS NOT NULL AND NOT EXISTS (SELECT 1 FROM synonym s WHERE s.study = synonym_scope_of(i.study) AND s.term = i.syn_key
                AND s.meddra_version = i.meddra_version) ORDER BY syn_key, scope LOOP
        PERFORM revise_synonym(r.scope, r.syn_key, r.meddra_version, u.name, true, 'no confirmed item left');
    END LOOP;
    PERFORM append_log('setting', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'synonym_qualifiers = ' || p_value);
    RETURN ARRAY[v_items, coalesce(array_length(v_seqs, 1), 0), v_merged];
END $$;
