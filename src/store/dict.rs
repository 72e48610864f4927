//! Dictionary releases in the store: import in one transaction, list, choose the active one, load.

use anyhow::{anyhow, bail, Context, Result};
use rusqlite::{params, OptionalExtension, Transaction};

use super::Store;
use crate::meddra::release::{HistoryRow, Smq, SmqTerm};
use crate::meddra::{Dictionary, Hier, Llt, Named, Pt, Release, Soc};

pub(crate) const ACTIVE: &str = "active_release";

/// One loaded release as listed by `dict versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    pub id: i64,
    pub version: String,
    pub language: String,
    pub source: String,
    pub imported_at: String,
    pub llt_count: usize,
    pub pt_count: usize,
    pub active: bool,
}

/// Row counts written by an import, for its summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub socs: usize,
    pub hlgts: usize,
    pub hlts: usize,
    pub pts: usize,
    pub llts: usize,
    pub non_current: usize,
    pub mdhier: usize,
    pub multi_axial_pts: usize,
    pub smqs: usize,
    pub smq_terms: usize,
    pub history: usize,
}

impl ImportCounts {
    /// What loading `rel` writes (every table of the release).
    pub fn of(rel: &Release) -> ImportCounts {
        let mut paths = std::collections::HashMap::<u32, usize>::new();
        rel.mdhier.iter().for_each(|h| *paths.entry(h.pt).or_default() += 1);
        ImportCounts {
            socs: rel.socs.len(),
            hlgts: rel.hlgts.len(),
            hlts: rel.hlts.len(),
            pts: rel.pts.len(),
            llts: rel.llts.len(),
            non_current: rel.llts.iter().filter(|l| !l.current).count(),
            mdhier: rel.mdhier.len(),
            multi_axial_pts: paths.values().filter(|&&n| n > 1).count(),
            smqs: rel.smqs.len(),
            smq_terms: rel.smq_terms.len(),
            history: rel.history.len(),
        }
    }
}

/// The log row of an activation.
fn log_use(tx: &Transaction<'_>, who: &str, version: &str, carried: usize) -> Result<()> {
    super::log::append(
        tx,
        &super::log::Entry {
            user: who.into(),
            action: "dict-use".into(),
            meddra_version: Some(version.into()),
            comment: Some(format!("active MedDRA version = {version}; {carried} synonym(s) carried over")),
            ..Default::default()
        },
    )?;
    Ok(())
}

impl Store {
    /// Writes a validated release as `acting` (an admin; anyone while setting up or in a demo). An
    /// existing version is refused unless `replace`; the first release loaded, or any with
    /// `activate`, becomes the active one. All or nothing, activation and its log rows included:
    /// one transaction.
    pub fn import_release(&mut self, acting: Option<&str>, rel: &Release, source: &str, replace: bool, activate: bool) -> Result<ImportCounts> {
        let source = &*crate::text::printable(source);
        let who = self.require_admin_or_setup(acting, "imports MedDRA releases")?;
        let previous = self.active_version()?.filter(|p| *p != rel.version);
        // Synonyms of the version in use follow an activation (read before the write lock).
        let old = match &previous {
            Some(p) if activate => self.synonyms(p)?,
            _ => Vec::new(),
        };
        let carry = match &previous {
            Some(p) if !old.is_empty() => Some((self.dictionary(p)?, old)),
            _ => None,
        };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing: Option<i64> = tx.query_row("SELECT id FROM release WHERE version = ?1", [&rel.version], |r| r.get(0)).optional()?;
        if let Some(id) = existing {
            if !replace {
                bail!("MedDRA version {} is already loaded; pass --replace to load it again over the old copy", rel.version);
            }
            tx.execute("DELETE FROM release WHERE id = ?1", [id])?;
        }
        tx.execute(
            "INSERT INTO release(version, language, source, imported_at, llt_count, pt_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![rel.version, rel.language, source, super::now(), rel.llts.len(), rel.pts.len()],
        )?;
        let id = tx.last_insert_rowid();
        write_rows(&tx, id, rel).context("writing the release rows")?;
        // Built once: its digest goes into the log, and a carry-over of synonyms reads it.
        let dict = Dictionary::new(rel);
        let has_active: bool = tx.query_row("SELECT count(*) FROM setting WHERE key = ?1", [ACTIVE], |r| r.get::<_, i64>(0))? > 0;
        super::log::append(
            &tx,
            &super::log::Entry {
                user: who.clone(),
                action: "dict-import".into(),
                meddra_version: Some(rel.version.clone()),
                comment: Some(format!(
                    "MedDRA {} ({}), {} LLTs, {} PTs, from {source}; digest {}",
                    rel.version,
                    rel.language,
                    rel.llts.len(),
                    rel.pts.len(),
                    dict.digest()
                )),
                ..Default::default()
            },
        )?;
        if !has_active || activate {
            tx.execute("INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [ACTIVE, &rel.version])?;
            let carried = match carry {
                Some((from, old)) => super::synonyms::carry_in(&tx, old, &from, &dict, "dict import --activate")?,
                None => 0,
            };
            log_use(&tx, &who, &rel.version, carried)?;
        }
        tx.commit()?;
        Ok(ImportCounts::of(rel))
    }

    pub fn releases(&self) -> Result<Vec<ReleaseInfo>> {
        let active = self.setting(ACTIVE)?;
        let mut st = self.conn.prepare("SELECT id, version, language, source, imported_at, llt_count, pt_count FROM release ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(ReleaseInfo {
                id: r.get(0)?,
                version: r.get(1)?,
                language: r.get(2)?,
                source: r.get(3)?,
                imported_at: r.get(4)?,
                llt_count: r.get::<_, i64>(5)? as usize,
                pt_count: r.get::<_, i64>(6)? as usize,
                active: false,
            })
        })?;
        let mut out: Vec<ReleaseInfo> = rows.collect::<rusqlite::Result<_>>()?;
        for r in &mut out {
            r.active = active.as_deref() == Some(r.version.as_str());
        }
        Ok(out)
    }

    pub fn active_version(&self) -> Result<Option<String>> {
        self.setting(ACTIVE)
    }

    /// Makes `version` the active one. Switching from another version carries its synonyms over
    /// (`carry_synonyms`); returns how many were carried.
    pub fn use_version(&mut self, acting: Option<&str>, version: &str) -> Result<usize> {
        let who = self.require_admin_or_setup(acting, "switches the MedDRA version")?;
        let known = self.releases()?;
        if !known.iter().any(|r| r.version == version) {
            let list: Vec<_> = known.iter().map(|r| r.version.as_str()).collect();
            bail!("MedDRA version {version} is not loaded (loaded: {})", if list.is_empty() { "none".into() } else { list.join(", ") });
        }
        let previous = self.active_version()?.filter(|p| p != version);
        let old = match &previous {
            Some(p) => self.synonyms(p)?,
            None => Vec::new(),
        };
        let carry = match &previous {
            Some(p) if !old.is_empty() => Some((self.dictionary(p)?, self.dictionary(version)?, old)),
            _ => None,
        };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [ACTIVE, version])?;
        let carried = match carry {
            Some((from, to, old)) => super::synonyms::carry_in(&tx, old, &from, &to, "dict use")?,
            None => 0,
        };
        log_use(&tx, &who, version, carried)?;
        tx.commit()?;
        Ok(carried)
    }

    /// The active release, loaded for lookups. Errors clearly when none is loaded.
    pub fn active_dictionary(&self) -> Result<Dictionary> {
        let v = self.active_version()?.ok_or_else(|| anyhow!("no MedDRA release is loaded: run `medcoder dict import <MedAscii folder>` first"))?;
        self.dictionary(&v)
    }

    pub fn dictionary(&self, version: &str) -> Result<Dictionary> {
        Ok(Dictionary::new(&self.release(version)?))
    }

    /// The named version, else the active one: what every `--version` option means.
    pub fn dictionary_or_active(&self, version: Option<&str>) -> Result<Dictionary> {
        match version {
            Some(v) => self.dictionary(v),
            None => self.active_dictionary(),
        }
    }

    /// Reads a stored release back (hierarchy files only; SMQs and history stay in the store).
    pub fn release(&self, version: &str) -> Result<Release> {
        let (id, language): (i64, String) = self
            .conn
            .query_row("SELECT id, language FROM release WHERE version = ?1", [version], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| anyhow!("MedDRA version {version} is not loaded"))?;
        let c = &self.conn;
        let mut rel = Release { version: version.to_string(), language, ..Default::default() };
        let q = |sql: &str| -> Result<rusqlite::Statement<'_>> { Ok(c.prepare(sql)?) };
        rel.socs = q("SELECT code, name, abbrev FROM soc WHERE release_id = ?1")?
            .query_map([id], |r| Ok(Soc { code: r.get(0)?, name: r.get(1)?, abbrev: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        let named = |table: &str| -> Result<Vec<Named>> {
            Ok(q(&format!("SELECT code, name FROM {table} WHERE release_id = ?1"))?
                .query_map([id], |r| Ok(Named { code: r.get(0)?, name: r.get(1)? }))?
                .collect::<rusqlite::Result<_>>()?)
        };
        rel.hlgts = named("hlgt")?;
        rel.hlts = named("hlt")?;
        rel.pts = q("SELECT code, name, pt_soc_code FROM pt WHERE release_id = ?1")?
            .query_map([id], |r| Ok(Pt { code: r.get(0)?, name: r.get(1)?, primary_soc: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        rel.llts = q("SELECT code, name, pt_code, current FROM llt WHERE release_id = ?1 ORDER BY rowid")?
            .query_map([id], |r| Ok(Llt { code: r.get(0)?, name: r.get(1)?, pt_code: r.get(2)?, current: r.get(3)? }))?
            .collect::<rusqlite::Result<_>>()?;
        let pairs = |sql: &str| -> Result<Vec<(u32, u32)>> { Ok(q(sql)?.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?) };
        rel.soc_hlgt = pairs("SELECT soc_code, hlgt_code FROM soc_hlgt WHERE release_id = ?1")?;
        rel.hlgt_hlt = pairs("SELECT hlgt_code, hlt_code FROM hlgt_hlt WHERE release_id = ?1")?;
        rel.hlt_pt = pairs("SELECT hlt_code, pt_code FROM hlt_pt WHERE release_id = ?1")?;
        rel.intl_ord = pairs("SELECT ord, soc_code FROM intl_ord WHERE release_id = ?1")?;
        rel.mdhier = q("SELECT pt_code, hlt_code, hlgt_code, soc_code, primary_soc_fg FROM mdhier WHERE release_id = ?1")?
            .query_map([id], |r| Ok(Hier { pt: r.get(0)?, hlt: r.get(1)?, hlgt: r.get(2)?, soc: r.get(3)?, primary: r.get(4)? }))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rel)
    }

    /// SMQ and history row counts of a stored release (for `doctor` and `dict versions`).
    pub fn release_extras(&self, version: &str) -> Result<(usize, usize, usize)> {
        let count = |table: &str| -> Result<usize> {
            Ok(self.conn.query_row(&format!("SELECT count(*) FROM {table} t JOIN release r ON r.id = t.release_id WHERE r.version = ?1"), [version], |r| {
                r.get::<_, i64>(0)
            })? as usize)
        };
        Ok((count("smq_list")?, count("smq_content")?, count("history")?))
    }
}

fn write_rows(tx: &Transaction<'_>, id: i64, rel: &Release) -> Result<()> {
    let mut st = tx.prepare("INSERT INTO soc(release_id, code, name, abbrev) VALUES (?1, ?2, ?3, ?4)")?;
    for s in &rel.socs {
        st.execute(params![id, s.code, s.name, s.abbrev])?;
    }
    for (table, rows) in [("hlgt", &rel.hlgts), ("hlt", &rel.hlts)] {
        let mut st = tx.prepare(&format!("INSERT INTO {table}(release_id, code, name) VALUES (?1, ?2, ?3)"))?;
        for n in rows {
            st.execute(params![id, n.code, n.name])?;
        }
    }
    let mut st = tx.prepare("INSERT INTO pt(release_id, code, name, pt_soc_code) VALUES (?1, ?2, ?3, ?4)")?;
    for p in &rel.pts {
        st.execute(params![id, p.code, p.name, p.primary_soc])?;
    }
    let mut st = tx.prepare("INSERT INTO llt(release_id, code, name, pt_code, current) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for l in &rel.llts {
        st.execute(params![id, l.code, l.name, l.pt_code, l.current])?;
    }
    for (table, cols, rows) in [
        ("soc_hlgt", "soc_code, hlgt_code", &rel.soc_hlgt),
        ("hlgt_hlt", "hlgt_code, hlt_code", &rel.hlgt_hlt),
        ("hlt_pt", "hlt_code, pt_code", &rel.hlt_pt),
        ("intl_ord", "ord, soc_code", &rel.intl_ord),
    ] {
        let mut st = tx.prepare(&format!("INSERT INTO {table}(release_id, {cols}) VALUES (?1, ?2, ?3)"))?;
        for (a, b) in rows {
            st.execute(params![id, a, b])?;
        }
    }
    let mut st = tx.prepare("INSERT INTO mdhier(release_id, pt_code, hlt_code, hlgt_code, soc_code, primary_soc_fg) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    for h in &rel.mdhier {
        st.execute(params![id, h.pt, h.hlt, h.hlgt, h.soc, h.primary])?;
    }
    let mut st = tx.prepare("INSERT INTO smq_list(release_id, code, name, level, description, source, note, meddra_version, status, algorithm) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
    for Smq { code, name, level, description, source, note, version, status, algorithm } in &rel.smqs {
        st.execute(params![id, code, name, level, description, source, note, version, status, algorithm])?;
    }
    let mut st = tx.prepare("INSERT INTO smq_content(release_id, smq_code, term_code, term_level, term_scope, term_category, term_weight, term_status, term_addition_version, term_last_modified_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
    for SmqTerm { smq_code, term_code, level, scope, category, weight, status, addition_version, last_modified_version } in &rel.smq_terms {
        st.execute(params![id, smq_code, term_code, level, scope, category, weight, status, addition_version, last_modified_version])?;
    }
    let mut st = tx.prepare(
        "INSERT INTO history(release_id, term_code, term_name, term_addition_version, term_type, llt_currency, action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for HistoryRow { term_code, term_name, addition_version, term_type, llt_currency, action } in &rel.history {
        st.execute(params![id, term_code, term_name, addition_version, term_type, llt_currency, action])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meddra::synth;

    #[test]
    fn import_load_round_trip_and_versions() {
        let mut s = Store::in_memory().unwrap();
        let a = synth::generate(500, 1, "1.0");
        let counts = s.import_release(None, &a, "gen", false, false).unwrap();
        assert_eq!(counts.llts, 500);
        assert_eq!(s.active_version().unwrap().as_deref(), Some("1.0"));
        let back = s.release("1.0").unwrap();
        assert_eq!(back.llts, a.llts);
        let mut m1 = back.mdhier.clone();
        let mut m2 = a.mdhier.clone();
        m1.sort_by_key(|h| (h.pt, h.soc));
        m2.sort_by_key(|h| (h.pt, h.soc));
        assert_eq!(m1, m2);

        let b = synth::generate(600, 2, "2.0");
        s.import_release(None, &b, "gen", false, false).unwrap();
        assert_eq!(s.active_version().unwrap().as_deref(), Some("1.0"), "a second import does not switch");
        s.use_version(None, "2.0").unwrap();
        assert_eq!(s.active_dictionary().unwrap().llts.len(), 600);
        let err = s.use_version(None, "3.0").unwrap_err().to_string();
        assert!(err.contains("not loaded") && err.contains("1.0, 2.0"), "{err}");
        let vs = s.releases().unwrap();
        assert_eq!(vs.len(), 2);
        assert!(vs[1].active && !vs[0].active);
    }

    #[test]
    fn reimport_needs_replace_and_keeps_old_copy_on_refusal() {
        let mut s = Store::in_memory().unwrap();
        let a = synth::generate(300, 1, "1.0");
        s.import_release(None, &a, "gen", false, false).unwrap();
        let err = s.import_release(None, &synth::generate(200, 5, "1.0"), "gen", false, false).unwrap_err().to_string();
        assert!(err.contains("--replace"), "{err}");
        assert_eq!(s.release("1.0").unwrap().llts.len(), 300);
        s.import_release(None, &synth::generate(200, 5, "1.0"), "gen", true, false).unwrap();
        assert_eq!(s.release("1.0").unwrap().llts.len(), 200);
        assert_eq!(s.releases().unwrap().len(), 1);
    }

    #[test]
    fn no_release_is_a_clear_error() {
        let s = Store::in_memory().unwrap();
        let err = s.active_dictionary().unwrap_err().to_string();
        assert!(err.contains("dict import"), "{err}");
    }
}
