//! MedDRA releases in a team database: imported with their files, listed, activated, read back.

use super::*;

impl TeamStore {
    pub fn active_version(&mut self) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT value FROM medcoder.setting WHERE key = 'meddra_version'", &[])?.map(|r| r.get(0)))
    }

    /// Loads a release (admin): its files as imported, from which every client rebuilds the
    /// dictionary, and its LLTs for the rules; then makes it the active version. One transaction.
    pub fn import_dictionary(&mut self, dict: &Dictionary, dir: &std::path::Path) -> Result<usize> {
        let files = release_files(dir)?;
        let mut tx = self.client.transaction()?;
        for (name, content) in &files {
            tx.execute("SELECT medcoder.add_release_file($1, $2, $3)", &[&dict.version, name, content]).map_err(db_error)?;
        }
        let mut n = 0;
        for chunk in dict.llts.chunks(5_000) {
            let codes: Vec<i32> = chunk.iter().map(|l| l.code as i32).collect();
            let names: Vec<&str> = chunk.iter().map(|l| l.name.as_str()).collect();
            let pts: Vec<i32> = chunk.iter().map(|l| l.pt_code as i32).collect();
            let pt_names: Vec<&str> = chunk.iter().map(|l| dict.pt(l.pt_code).map_or("", |p| p.name.as_str())).collect();
            let current: Vec<bool> = chunk.iter().map(|l| l.current).collect();
            let added: i32 = tx
                .query_one("SELECT medcoder.add_llts($1, $2, $3, $4, $5, $6)", &[&dict.version, &codes, &names, &pts, &pt_names, &current])
                .map_err(db_error)?
                .get(0);
            n += added as usize;
        }
        tx.execute("SELECT medcoder.use_version($1)", &[&dict.version]).map_err(db_error)?;
        tx.commit()?;
        Ok(n)
    }

    /// The releases here, oldest first, with the active one marked: their language from the
    /// release file, their LLT and PT counts, and when their load was sealed.
    pub fn releases(&mut self) -> Result<Vec<crate::store::dict::ReleaseInfo>> {
        let active = self.active_version()?;
        let rows = self.client.query(
            "SELECT l.version, count(*), count(DISTINCT l.pt_code), coalesce(s.value, ''),
                    coalesce((SELECT convert_from(content, 'UTF8') FROM medcoder.release_file f WHERE f.version = l.version AND lower(f.name) = 'meddra_release.asc'), '')
             FROM medcoder.llt l LEFT JOIN medcoder.setting s ON s.key = 'sealed:' || l.version
             GROUP BY l.version, s.value ORDER BY coalesce(s.value, ''), l.version",
            &[],
        )?;
        Ok(rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let version: String = r.get(0);
                let header: String = r.get(4);
                crate::store::dict::ReleaseInfo {
                    id: i as i64 + 1,
                    active: Some(&version) == active.as_ref(),
                    language: header.split('$').nth(1).unwrap_or("").trim().to_string(),
                    source: "team database".into(),
                    imported_at: r.get(3),
                    llt_count: r.get::<_, i64>(1) as usize,
                    pt_count: r.get::<_, i64>(2) as usize,
                    version,
                }
            })
            .collect())
    }

    /// A whole release (the active one by default), rebuilt from its imported files exactly as
    /// `dict import` read them.
    pub fn dictionary(&mut self, version: Option<&str>) -> Result<Dictionary> {
        let version = match version {
            Some(v) => v.to_string(),
            None => self.active_version()?.ok_or_else(|| anyhow!("no active MedDRA version: an admin imports one (medcoder dict import)"))?,
        };
        let rows = self.client.query("SELECT name, content FROM medcoder.release_file WHERE version = $1", &[&version])?;
        if rows.is_empty() {
            bail!("MedDRA {version} is not in this team database (`dict versions` lists those that are)");
        }
        let dir = tempfile::tempdir()?;
        for r in &rows {
            let (name, content): (String, Vec<u8>) = (r.get(0), r.get(1));
            std::fs::write(dir.path().join(&name), content).with_context(|| format!("writing {name} of MedDRA {version}"))?;
        }
        let (rel, _) = crate::meddra::Release::read(dir.path())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("reading MedDRA {version} from the team database"))?;
        Ok(Dictionary::new(&rel))
    }

    /// Makes a loaded release the active version again (admin; logged), carrying the synonym list.
    pub fn use_version(&mut self, version: &str) -> Result<()> {
        self.client.execute("SELECT medcoder.use_version($1)", &[&version]).map_err(db_error)?;
        Ok(())
    }

    pub fn llt_name(&mut self, version: &str, code: u32) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT name FROM medcoder.llt WHERE version = $1 AND code = $2", &[&version, &(code as i32)])?.map(|r| r.get(0)))
    }
}

/// The files of a MedAscii folder, as a release is kept in a team database.
pub(super) fn release_files(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = e?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if path.is_file() && name.to_ascii_lowercase().ends_with(".asc") {
            files.push((name, std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?));
        }
    }
    files.sort();
    Ok(files)
}
