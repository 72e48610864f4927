//! The team schema: `team init` creates it, `team upgrade` brings an older one up, every connection checks its version.

use super::*;

/// Creates the database `db` when the server (connected to its maintenance database) has none.
pub fn create_database(admin: &mut Client, db: &str) -> Result<()> {
    check_name("database", db)?;
    let exists: bool = admin.query_one("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", &[&db])?.get(0);
    if !exists {
        // UTF-8 whatever the server's default: terms are text in any language, and the log's hash
        // counts characters.
        admin.batch_execute(&format!("CREATE DATABASE {db} ENCODING 'UTF8' TEMPLATE template0")).with_context(|| format!("creating database {db}"))?;
    }
    Ok(())
}

/// `medcoder team init`: creates the database named by the URL (if missing), its owner and member
/// roles, the schema and the grants. Run by the server's administrator (a superuser, e.g. the
/// `postgres` role over the local socket). Refuses a database that already has the schema.
pub fn init(client: &mut Client, db: &str) -> Result<()> {
    check_name("database", db)?;
    let (owner, members) = (owner_role(db), member_role(db));
    let encoding: String = client.query_one("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()", &[])?.get(0);
    if encoding != "UTF8" {
        bail!("database {db} is encoded {encoding}: a team database must be UTF8 (let `team init` create it, or CREATE DATABASE {db} ENCODING 'UTF8' TEMPLATE template0)");
    }
    let exists: bool = client.query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'medcoder')", &[])?.get(0);
    if exists {
        bail!("database {db} already holds a medcoder schema");
    }
    for role in [&owner, &members] {
        match client.query_opt("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", &[role])? {
            None => client.batch_execute(&format!("CREATE ROLE {role} NOLOGIN"))?,
            // Whoever could sign in as the owner would own every table and bypass every rule.
            Some(r) if r.get::<_, bool>(0) => {
                bail!("the role {role} exists and can log in: it must be a NOLOGIN role (ALTER ROLE {role} NOLOGIN) before team init")
            }
            Some(_) => {}
        }
    }
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "REVOKE ALL ON DATABASE {db} FROM PUBLIC;
         GRANT CONNECT ON DATABASE {db} TO {members};
         ALTER DATABASE {db} SET idle_in_transaction_session_timeout = '60s';
         CREATE SCHEMA medcoder AUTHORIZATION {owner};
         SET LOCAL ROLE {owner};
         SET LOCAL search_path = medcoder, pg_temp;"
    ))?;
    tx.batch_execute(SCHEMA).context("creating the medcoder schema")?;
    tx.execute("INSERT INTO medcoder.setting VALUES ('synonym_qualifiers', $1)", &[&default_qualifiers()])?;
    let grants = GRANTED.iter().map(|f| format!("GRANT EXECUTE ON FUNCTION medcoder.{f} TO {members};")).collect::<String>();
    tx.batch_execute(&format!(
        "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA medcoder FROM PUBLIC;
         GRANT USAGE ON SCHEMA medcoder TO {members};
         GRANT SELECT ON ALL TABLES IN SCHEMA medcoder TO {members};
         GRANT EXECUTE ON FUNCTION medcoder.release_digest(text) TO {members};
         GRANT EXECUTE ON FUNCTION medcoder.synonym_key(text), medcoder.synonym_key_with(text, text[]), medcoder.governing_synonym(text, text, text) TO {members};
         {grants}"
    ))?;
    tx.commit()?;
    Ok(())
}

/// The schema version this medcoder writes and reads (setting `schema_version`). 2: the rules of
/// issue #19 (Cc/Cf text, the synonym importer read from the log, source `model` checked, copied
/// anchors). 3: the work around a code (issue #21: queries answered and closed, corrected
/// verbatims, splits, withdrawn proposals, worklists and due dates). 4: SDTM datasets kept as
/// received (issue #22: `keep_dataset`).
/// 5: calibrated PT confidence in proposals and model-first coding at a validated threshold
/// (issue #23: `model_first_threshold`, `model_first_code`, `set_team_setting`).
/// 6: synonym governance (issue #24): the synonym key without qualifiers (`synonym_key`,
/// `item.syn_key`, `set_synonym_qualifiers`) and candidates approved or declined (`decide_synonym`).
/// 7: synonym lists per study (issue #24: `synonym.study`, `governing_synonym`, the setting
/// synonym_scope).
const SCHEMA_VERSION: &str = "7";

/// The functions schema 7 changed or added, in the order they are created (after schema 6's).
const SCHEMA_7_FUNCTIONS: &[&str] = &[
    "synonym_scope_of",
    "governing_synonym",
    "autocode_term",
    "revise_synonym",
    "supersede_item",
    "act",
    "use_version",
    "set_team_setting",
    "retire_synonym",
    "import_synonym",
    "decide_synonym",
    "set_synonym_qualifiers",
];

/// The functions whose arguments schema 7 changed: dropped before they are made again (a new
/// argument list would be another function beside the old one).
const SCHEMA_7_DROPPED: &str = "DROP FUNCTION IF EXISTS revise_synonym(text, text, text, boolean, text);
     DROP FUNCTION IF EXISTS retire_synonym(text);
     DROP FUNCTION IF EXISTS import_synonym(text, integer, text);
     DROP FUNCTION IF EXISTS decide_synonym(text, text);";

/// The functions schema 6 changed or added, in the order they are created.
const SCHEMA_6_FUNCTIONS: &[&str] = &[
    "synonym_key_with",
    "synonym_key",
    "item_syn_key",
    "autocode_term",
    "revise_synonym",
    "code_by_rules",
    "supersede_item",
    "act",
    "use_version",
    "retire_synonym",
    "import_synonym",
    "set_team_setting",
    "decide_synonym",
    "set_synonym_qualifiers",
];

/// The default qualifier list as the setting holds it: a team database always has the setting.
fn default_qualifiers() -> String {
    serde_json::to_string(crate::qualifiers::DEFAULT).expect("a list of strings")
}

/// The functions schema 5 changed or added, in the order they are created.
const SCHEMA_5_FUNCTIONS: &[&str] =
    &["wilson_lower", "is_excluded", "model_first_threshold", "model_first_code", "set_team_setting", "set_proposals", "code_importer", "autocode_item"];

/// The functions schema 2 changed or added, replaced in place by `team upgrade`.
const UPGRADED_FUNCTIONS: &[&str] = &["check_text", "code_importer", "act", "release_digest", "use_version"];

/// The functions schema 3 changed or added (import_item's result became text: dropped first).
const SCHEMA_3_FUNCTIONS: &[&str] = &[
    "autocode_item",
    "autocode_term",
    "code_importer",
    "term_writer",
    "has_live_parts",
    "code_by_rules",
    "supersede_item",
    "import_item",
    "act",
    "item_to_act",
    "answer_query",
    "split_item",
    "assign_work",
    "set_due_date",
];

/// `CREATE FUNCTION name(...) ... $$;` of schema.sql, as CREATE OR REPLACE.
fn function_definition(name: &str) -> Result<String> {
    let start = SCHEMA.find(&format!("CREATE FUNCTION {name}(")).with_context(|| format!("schema.sql has no function {name}"))?;
    let body = &SCHEMA[start..];
    let open = body.find("$$").context("function without a body")?;
    let close = body[open + 2..].find("$$;").context("function without an end")? + open + 2 + 3;
    Ok(body[..close].replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
}

/// Brings a team database of schema 1 to schema 2 (the server's administrator, once): replaces the
/// rule functions in place and adds the copied-anchor table; data is untouched.
pub fn upgrade(client: &mut Client, db: &str) -> Result<String> {
    check_name("database", db)?;
    let v: Option<String> = client
        .query_opt("SELECT value FROM medcoder.setting WHERE key = 'schema_version'", &[])
        .map_err(|e| db_error(e).context("this database has no medcoder schema: run `medcoder team init` instead"))?
        .map(|r| r.get(0));
    let from = match v.as_deref() {
        Some(SCHEMA_VERSION) => return Ok(format!("Team database {db} already has schema {SCHEMA_VERSION}.")),
        Some("1") => 1,
        Some("2") => 2,
        Some("3") => 3,
        Some("4") => 4,
        Some("5") => 5,
        Some("6") => 6,
        other => bail!("team schema version {} here: this medcoder upgrades schemas 1 to 6", other.unwrap_or("none")),
    };
    let (owner, members) = (owner_role(db), member_role(db));
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!("SET LOCAL ROLE {owner}; SET LOCAL search_path = medcoder, pg_temp;"))?;
    if from < 2 {
        for f in UPGRADED_FUNCTIONS {
            tx.batch_execute(&function_definition(f)?).with_context(|| format!("replacing medcoder.{f}"))?;
        }
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS copied_anchor (line bigint PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL, at text NOT NULL);
             REVOKE ALL ON FUNCTION medcoder.code_importer(bigint), medcoder.release_digest(text) FROM PUBLIC;
             GRANT EXECUTE ON FUNCTION medcoder.release_digest(text) TO {members};
             GRANT SELECT ON medcoder.copied_anchor TO {members};"
        ))?;
    }
    let table = |name: &str| {
        let start = SCHEMA.find(&format!("CREATE TABLE {name} (")).with_context(|| format!("schema.sql has no table {name}"))?;
        let end = SCHEMA[start..].find(");").context("table without an end")? + start + 2;
        anyhow::Ok(SCHEMA[start..end].to_string())
    };
    // Schema 3: the item's new states and part columns, the worklist tables, the rule functions.
    if from < 3 {
        schema_3(&mut tx, &table)?;
    }
    // Schema 4: the kept datasets and the function that keeps them.
    if from < 4 {
        tx.batch_execute(&format!(
            "{}; {}; CREATE INDEX dataset_record_item ON dataset_record(external_id);
             {}
             GRANT SELECT ON medcoder.dataset, medcoder.dataset_record TO {members};",
            table("dataset")?.trim_end_matches(';'),
            table("dataset_record")?.trim_end_matches(';'),
            function_definition("keep_dataset")?,
        ))
        .context("adding schema 4's dataset tables")?;
    }
    // Schema 6's columns first: the functions replaced below read them.
    if from < 6 {
        tx.batch_execute(
            "ALTER TABLE item ADD COLUMN syn_key text;
             ALTER TABLE synonym ADD COLUMN approval text NOT NULL DEFAULT 'approved' CHECK (approval IN ('approved', 'pending', 'declined')),
                 ADD COLUMN decided_by text;",
        )
        .context("adding schema 6's columns")?;
        tx.execute("INSERT INTO setting VALUES ('synonym_qualifiers', $1) ON CONFLICT (key) DO NOTHING", &[&default_qualifiers()])?;
    }
    // Schema 7's column and key: every synonym so far is on the global list.
    if from < 7 {
        tx.batch_execute(&format!(
            "ALTER TABLE synonym ADD COLUMN study text NOT NULL DEFAULT '';
             ALTER TABLE synonym DROP CONSTRAINT synonym_pkey, ADD PRIMARY KEY (study, term, meddra_version);
             CREATE INDEX synonym_term ON synonym(term, meddra_version);
             {SCHEMA_7_DROPPED}"
        ))
        .context("adding schema 7's synonym lists per study")?;
    }
    // Schema 5: model-first coding; set_proposals checks and applies it.
    for f in SCHEMA_5_FUNCTIONS {
        tx.batch_execute(&function_definition(f)?).with_context(|| format!("replacing medcoder.{f}"))?;
    }
    // Schema 6: synonym governance; schema 7: its lists per study.
    for f in SCHEMA_6_FUNCTIONS.iter().chain(SCHEMA_7_FUNCTIONS) {
        tx.batch_execute(&function_definition(f)?).with_context(|| format!("replacing medcoder.{f}"))?;
    }
    if from < 6 {
        // Items get their keys, and synonyms move to theirs; where two terms now share a key, the
        // newest change stays (as SQLite's migration 011 does).
        tx.batch_execute(
            "CREATE TRIGGER item_syn_key BEFORE INSERT OR UPDATE OF term_key ON item FOR EACH ROW EXECUTE FUNCTION item_syn_key();
             UPDATE item SET syn_key = synonym_key(term_key);
             CREATE INDEX item_syn_key ON item(syn_key, state);
             DELETE FROM synonym s WHERE EXISTS (SELECT 1 FROM synonym o WHERE o.meddra_version = s.meddra_version AND o.seq > s.seq
                 AND synonym_key(coalesce(normalize_term(o.reported_term), o.term)) = synonym_key(coalesce(normalize_term(s.reported_term), s.term)));
             UPDATE synonym SET term = synonym_key(coalesce(normalize_term(reported_term), term))
                 WHERE term <> synonym_key(coalesce(normalize_term(reported_term), term));",
        )
        .context("keying items and synonyms for schema 6")?;
    }
    let grants = GRANTED.iter().map(|f| format!("GRANT EXECUTE ON FUNCTION medcoder.{f} TO {members};")).collect::<String>();
    // As `team init` grants: members run the rule functions, nobody else runs any.
    tx.batch_execute(&format!(
        "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA medcoder FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION medcoder.release_digest(text) TO {members};
         GRANT EXECUTE ON FUNCTION medcoder.synonym_key(text), medcoder.synonym_key_with(text, text[]), medcoder.governing_synonym(text, text, text) TO {members};
         {grants}
         GRANT SELECT ON medcoder.assignment, medcoder.study_due TO {members};
         UPDATE setting SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version';"
    ))?;
    tx.commit()?;
    Ok(format!("Team database {db} upgraded to schema {SCHEMA_VERSION} (rule functions replaced; data untouched)."))
}

/// Schema 2 to 3: the item's new states and part columns, the worklist tables, the rule functions.
fn schema_3(tx: &mut postgres::Transaction<'_>, table: &dyn Fn(&str) -> Result<String>) -> Result<()> {
    tx.batch_execute(&format!(
        "ALTER TABLE item DROP CONSTRAINT item_state_check;
         ALTER TABLE item ADD CONSTRAINT item_state_check
             CHECK (state IN ('new', 'proposed', 'returned', 'query', 'answered', 'split', 'void', 'confirmed'));
         ALTER TABLE item ADD COLUMN IF NOT EXISTS part_of text, ADD COLUMN IF NOT EXISTS part_no integer,
             DROP CONSTRAINT IF EXISTS item_part_check;
         ALTER TABLE item ADD CONSTRAINT item_part_check CHECK ((part_of IS NULL) = (part_no IS NULL));
         {};
         {};
         DROP FUNCTION import_item(text, text, text, text, text, text, text, text);
         DROP FUNCTION IF EXISTS autocode_term(text, bigint);",
        table("assignment")?.trim_end_matches(';'),
        table("study_due")?.trim_end_matches(';'),
    ))
    .context("adding schema 3's columns and tables")?;
    for f in SCHEMA_3_FUNCTIONS {
        tx.batch_execute(&function_definition(f)?).with_context(|| format!("replacing medcoder.{f}"))?;
    }
    Ok(())
}

pub(super) fn check_schema(client: &mut Client) -> Result<()> {
    let v: Option<String> = client
        .query_opt("SELECT value FROM medcoder.setting WHERE key = 'schema_version'", &[])
        .map_err(|e| db_error(e).context("this database has no medcoder schema: its administrator runs `medcoder team init` first"))?
        .map(|r| r.get(0));
    match v.as_deref() {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(old @ ("1" | "2" | "3" | "4" | "5" | "6")) => bail!(
            "team schema version {old} here, which lacks rules this medcoder enforces: the server's administrator runs `medcoder --db URL team upgrade` once"
        ),
        other => bail!("team schema version {} here; this medcoder needs {SCHEMA_VERSION}", other.unwrap_or("none")),
    }
}
