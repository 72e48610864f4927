//! A whole MedDRA release read from its ASCII distribution and checked for consistency.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ascii::{self, AsciiFile, FormatError, TextEncoding};
use super::{Hier, Llt, Named, Pt, Soc};

/// An SMQ header row (smq_list.asc).
#[derive(Debug, Clone, PartialEq)]
pub struct Smq {
    pub code: u32,
    pub name: String,
    pub level: u32,
    pub description: String,
    pub source: String,
    pub note: String,
    pub version: String,
    pub status: String,
    pub algorithm: String,
}

/// A term of an SMQ (smq_content.asc).
#[derive(Debug, Clone, PartialEq)]
pub struct SmqTerm {
    pub smq_code: u32,
    pub term_code: u32,
    pub level: u32,
    pub scope: u32,
    pub category: String,
    pub weight: String,
    pub status: String,
    pub addition_version: String,
    pub last_modified_version: String,
}

/// A row of meddra_history_english.asc.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub term_code: u32,
    pub term_name: String,
    pub addition_version: String,
    pub term_type: String,
    pub llt_currency: String,
    pub action: String,
}

/// Everything a release holds, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Release {
    pub version: String,
    pub language: String,
    pub socs: Vec<Soc>,
    pub hlgts: Vec<Named>,
    pub hlts: Vec<Named>,
    pub pts: Vec<Pt>,
    pub llts: Vec<Llt>,
    pub soc_hlgt: Vec<(u32, u32)>,
    pub hlgt_hlt: Vec<(u32, u32)>,
    pub hlt_pt: Vec<(u32, u32)>,
    pub mdhier: Vec<Hier>,
    /// (order, soc_code)
    pub intl_ord: Vec<(u32, u32)>,
    pub smqs: Vec<Smq>,
    pub smq_terms: Vec<SmqTerm>,
    pub history: Vec<HistoryRow>,
}

/// Where the release was read from and how.
#[derive(Debug, Clone)]
pub struct ReadReport {
    pub dir: PathBuf,
    pub cp1252_files: Vec<String>,
    pub optional_missing: Vec<&'static str>,
}

/// Accepts the MedAscii folder itself or a parent that contains it (any case).
pub fn locate_medascii(dir: &Path) -> Result<PathBuf, FormatError> {
    if !dir.is_dir() {
        return Err(FormatError::file(dir, "not a directory"));
    }
    if ascii::find_file(dir, ascii::LLT.name).is_some() {
        return Ok(dir.to_path_buf());
    }
    let sub = std::fs::read_dir(dir)
        .map_err(|e| FormatError::file(dir, format!("cannot list: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.eq_ignore_ascii_case("MedAscii")));
    match sub {
        Some(p) => Ok(p),
        None => Err(FormatError::file(dir, "no llt.asc here and no MedAscii folder below: not a MedDRA ASCII release")),
    }
}

fn name(f: &AsciiFile, rec: &ascii::Record, col: usize) -> Result<String, FormatError> {
    let v = rec.get(col).trim();
    if v.is_empty() {
        return Err(f.error(rec, col, "name is empty"));
    }
    Ok(v.to_string())
}

impl Release {
    /// Reads a release folder (MedAscii or its parent), then validates it as a whole.
    pub fn read(dir: &Path) -> Result<(Release, ReadReport), FormatError> {
        let dir = locate_medascii(dir)?;
        let mut report = ReadReport { dir: dir.clone(), cp1252_files: vec![], optional_missing: vec![] };
        let mut note = |f: &AsciiFile| {
            if f.encoding == TextEncoding::Windows1252 {
                report.cp1252_files.push(f.spec.name.to_string());
            }
        };
        let mut rel = Release::default();

        let f = ascii::read_required(&dir, ascii::RELEASE)?;
        note(&f);
        let rec = f.records.first().ok_or_else(|| FormatError::file(&f.path, "file is empty: no version line"))?;
        rel.version = rec.get(0).trim().to_string();
        rel.language = rec.get(1).trim().to_string();
        if rel.version.is_empty() {
            return Err(f.error(rec, 0, "version is empty"));
        }

        let f = ascii::read_required(&dir, ascii::SOC)?;
        note(&f);
        for r in &f.records {
            rel.socs.push(Soc { code: f.code(r, 0), name: name(&f, r, 1)?, abbrev: r.get(2).trim().to_string() });
        }
        let f = ascii::read_required(&dir, ascii::HLGT)?;
        note(&f);
        for r in &f.records {
            rel.hlgts.push(Named { code: f.code(r, 0), name: name(&f, r, 1)? });
        }
        let f = ascii::read_required(&dir, ascii::HLT)?;
        note(&f);
        for r in &f.records {
            rel.hlts.push(Named { code: f.code(r, 0), name: name(&f, r, 1)? });
        }
        let pt_f = ascii::read_required(&dir, ascii::PT)?;
        let f = &pt_f;
        note(f);
        for r in &f.records {
            rel.pts.push(Pt { code: f.code(r, 0), name: name(f, r, 1)?, primary_soc: f.opt_code(r, 3) });
        }
        if rel.pts.is_empty() {
            return Err(FormatError::file(&f.path, "no PTs: this is not a MedDRA release (or the file is truncated)"));
        }
        let llt_f = ascii::read_required(&dir, ascii::LLT)?;
        let f = &llt_f;
        note(f);
        for r in &f.records {
            let currency = r.get(9).trim();
            let current = match currency {
                "Y" | "y" => true,
                "N" | "n" => false,
                other => return Err(f.error(r, 9, format!("'{other}' is not Y or N"))),
            };
            rel.llts.push(Llt { code: f.code(r, 0), name: name(f, r, 1)?, pt_code: f.code(r, 2), current });
        }
        if !rel.llts.iter().any(|l| l.current) {
            return Err(FormatError::file(&f.path, "no current LLTs: this is not a MedDRA release (or the file is truncated)"));
        }
        let pairs = |spec| -> Result<(AsciiFile, Vec<(u32, u32)>), FormatError> {
            let f = ascii::read_required(&dir, spec)?;
            let v = f.records.iter().map(|r| (f.code(r, 0), f.code(r, 1))).collect();
            Ok((f, v))
        };
        let (soc_hlgt_f, v) = pairs(ascii::SOC_HLGT)?;
        note(&soc_hlgt_f);
        rel.soc_hlgt = v;
        let (hlgt_hlt_f, v) = pairs(ascii::HLGT_HLT)?;
        note(&hlgt_hlt_f);
        rel.hlgt_hlt = v;
        let (hlt_pt_f, v) = pairs(ascii::HLT_PT)?;
        note(&hlt_pt_f);
        rel.hlt_pt = v;

        let mdhier_f = ascii::read_required(&dir, ascii::MDHIER)?;
        note(&mdhier_f);
        for r in &mdhier_f.records {
            let primary = match r.get(11).trim() {
                "Y" | "y" => true,
                "N" | "n" | "" => false,
                other => return Err(mdhier_f.error(r, 11, format!("'{other}' is not Y or N"))),
            };
            rel.mdhier.push(Hier { pt: mdhier_f.code(r, 0), hlt: mdhier_f.code(r, 1), hlgt: mdhier_f.code(r, 2), soc: mdhier_f.code(r, 3), primary });
        }

        match ascii::read_optional(&dir, ascii::INTL_ORD)? {
            Some(f) => {
                note(&f);
                rel.intl_ord = f.records.iter().map(|r| (f.code(r, 0), f.code(r, 1))).collect();
            }
            None => report.optional_missing.push(ascii::INTL_ORD.name),
        }
        match ascii::read_optional(&dir, ascii::SMQ_LIST)? {
            Some(f) => {
                note(&f);
                for r in &f.records {
                    rel.smqs.push(Smq {
                        code: f.code(r, 0),
                        name: name(&f, r, 1)?,
                        level: f.code(r, 2),
                        description: r.get(3).to_string(),
                        source: r.get(4).to_string(),
                        note: r.get(5).to_string(),
                        version: r.get(6).to_string(),
                        status: r.get(7).to_string(),
                        algorithm: r.get(8).to_string(),
                    });
                }
            }
            None => report.optional_missing.push(ascii::SMQ_LIST.name),
        }
        let smq_content = ascii::read_optional(&dir, ascii::SMQ_CONTENT)?;
        match &smq_content {
            Some(f) => {
                note(f);
                for r in &f.records {
                    rel.smq_terms.push(SmqTerm {
                        smq_code: f.code(r, 0),
                        term_code: f.code(r, 1),
                        level: f.code(r, 2),
                        scope: f.code(r, 3),
                        category: r.get(4).to_string(),
                        weight: r.get(5).to_string(),
                        status: r.get(6).to_string(),
                        addition_version: r.get(7).to_string(),
                        last_modified_version: r.get(8).to_string(),
                    });
                }
            }
            None => report.optional_missing.push(ascii::SMQ_CONTENT.name),
        }
        match ascii::read_optional(&dir, ascii::HISTORY)? {
            Some(f) => {
                note(&f);
                for r in &f.records {
                    rel.history.push(HistoryRow {
                        term_code: f.code(r, 0),
                        term_name: r.get(1).to_string(),
                        addition_version: r.get(2).to_string(),
                        term_type: r.get(3).to_string(),
                        llt_currency: r.get(4).to_string(),
                        action: r.get(5).to_string(),
                    });
                }
            }
            None => report.optional_missing.push(ascii::HISTORY.name),
        }

        rel.validate(&dir, &llt_f, &pt_f, &hlt_pt_f, &mdhier_f, smq_content.as_ref())?;
        Ok((rel, report))
    }

    /// Cross-file checks: every reference resolves and every PT has exactly one primary SOC path.
    fn validate(
        &self,
        dir: &Path,
        llt_f: &AsciiFile,
        pt_f: &AsciiFile,
        hlt_pt: &AsciiFile,
        mdhier: &AsciiFile,
        smq_content: Option<&AsciiFile>,
    ) -> Result<(), FormatError> {
        let dup = |file: &str, what: &str, codes: &mut dyn Iterator<Item = u32>| -> Result<HashSet<u32>, FormatError> {
            let mut set = HashSet::new();
            for (i, c) in codes.enumerate() {
                if !set.insert(c) {
                    return Err(FormatError {
                        file: dir.join(file),
                        line: Some(i + 1),
                        field: Some(format!("{what}_code")),
                        message: format!("duplicate code {c}"),
                    });
                }
            }
            Ok(set)
        };
        let socs = dup("soc.asc", "soc", &mut self.socs.iter().map(|s| s.code))?;
        let hlgts = dup("hlgt.asc", "hlgt", &mut self.hlgts.iter().map(|s| s.code))?;
        let hlts = dup("hlt.asc", "hlt", &mut self.hlts.iter().map(|s| s.code))?;
        let pts = dup("pt.asc", "pt", &mut self.pts.iter().map(|s| s.code))?;
        dup("llt.asc", "llt", &mut self.llts.iter().map(|s| s.code))?;

        for (r, l) in llt_f.records.iter().zip(&self.llts) {
            if !pts.contains(&l.pt_code) {
                return Err(llt_f.error(r, 2, format!("LLT {} '{}' points to PT {} that is not in pt.asc", l.code, l.name, l.pt_code)));
            }
        }
        for (r, &(hlt, pt)) in hlt_pt.records.iter().zip(&self.hlt_pt) {
            if !hlts.contains(&hlt) {
                return Err(hlt_pt.error(r, 0, format!("HLT {hlt} is not in hlt.asc")));
            }
            if !pts.contains(&pt) {
                return Err(hlt_pt.error(r, 1, format!("PT {pt} is not in pt.asc")));
            }
        }
        let mut primary: HashMap<u32, usize> = HashMap::new();
        for (r, h) in mdhier.records.iter().zip(&self.mdhier) {
            for (col, code, set, what) in [(0, h.pt, &pts, "PT"), (1, h.hlt, &hlts, "HLT"), (2, h.hlgt, &hlgts, "HLGT"), (3, h.soc, &socs, "SOC")] {
                if !set.contains(&code) {
                    return Err(mdhier.error(r, col, format!("{what} {code} is not in {}.asc", what.to_lowercase())));
                }
            }
            if h.primary {
                if let Some(prev) = primary.insert(h.pt, r.line) {
                    return Err(mdhier.error(r, 11, format!("PT {} has a second primary SOC path (first at line {prev})", h.pt)));
                }
            }
        }
        for (r, p) in pt_f.records.iter().zip(&self.pts) {
            if !primary.contains_key(&p.code) {
                return Err(pt_f.error(r, 0, format!("PT {} '{}' has no primary SOC path in mdhier.asc (no row with primary_soc_fg = Y)", p.code, p.name)));
            }
            if let Some(soc) = p.primary_soc {
                if !socs.contains(&soc) {
                    return Err(pt_f.error(r, 3, format!("SOC {soc} is not in soc.asc")));
                }
            }
        }
        if let Some(f) = smq_content {
            let smqs: HashSet<u32> = self.smqs.iter().map(|s| s.code).collect();
            for (r, t) in f.records.iter().zip(&self.smq_terms) {
                if !smqs.contains(&t.smq_code) {
                    return Err(f.error(r, 0, format!("SMQ {} is not in smq_list.asc", t.smq_code)));
                }
            }
        }
        Ok(())
    }
}
