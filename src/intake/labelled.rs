//! Labelled files: (reported term, LLT code) pairs, for training, evaluation, replay and synonym
//! lists. TSV (`.tsv`) or CSV with a header naming the term column (reported_term, term) and the
//! LLT column (llt_code, expected_llt_code).

use std::path::Path;

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub term: String,
    pub llt: u32,
    /// The line in the file (the header is line 1), for error messages.
    pub line: usize,
}

pub fn read_labelled(path: &Path) -> Result<Vec<Labelled>> {
    let tsv = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let mut r = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .quoting(!tsv)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let h = r.headers().with_context(|| format!("{}, line 1: cannot read the header row", path.display()))?.clone();
    let col = |names: &[&str]| h.iter().position(|x| names.contains(&x.trim().trim_start_matches('\u{feff}')));
    let (Some(t), Some(c)) = (col(&["reported_term", "term"]), col(&["llt_code", "expected_llt_code"])) else {
        bail!("{}, line 1: needs a reported_term (or term) column and an llt_code (or expected_llt_code) column", path.display());
    };
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{}, line {line}", path.display()))?;
        let code = rec.get(c).unwrap_or("").trim();
        let llt = code.parse().with_context(|| format!("{}, line {line}, field llt_code: '{code}' is not a code", path.display()))?;
        out.push(Labelled { term: rec.get(t).unwrap_or("").to_string(), llt, line });
    }
    Ok(out)
}
