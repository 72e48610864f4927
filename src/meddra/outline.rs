//! The demo dictionary's source: an indented-free outline of SOC > HLGT > HLT > PT > LLT lines that
//! is compiled into a `Release` (and from there into the official ASCII layout). Codes are derived
//! from level and name with a stable hash so that editing one term never renumbers the others.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::ascii::FormatError;
use super::release::Release;
use super::{Hier, Llt, Named, Pt, Soc};

/// First code of each level's range. MedDRA codes are 100xxxxx; these ranges are never used by it.
const SOC_BASE: u32 = 71_000_000;
const HLGT_BASE: u32 = 72_000_000;
const HLT_BASE: u32 = 73_000_000;
const TERM_BASE: u32 = 75_000_000;
const SPAN: u32 = 1_000_000;
const TERM_SPAN: u32 = 5_000_000;

fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn code(base: u32, span: u32, name: &str) -> u32 {
    base + (fnv1a(&name.to_lowercase()) % u64::from(span)) as u32
}

/// Compiles outline text (see assets/demo/outline.txt for the syntax) into a validated release.
pub fn compile(path: &Path, text: &str) -> Result<Release, FormatError> {
    let mut rel = Release::default();
    let (mut soc, mut hlgt, mut hlt): (Option<u32>, Option<u32>, Option<u32>) = (None, None, None);
    let mut seen: HashMap<u32, String> = HashMap::new();
    let mut llt_names: HashSet<String> = HashSet::new();
    let mut pt_by_name: HashMap<String, u32> = HashMap::new();
    let mut secondary: Vec<(usize, String, u32, u32, u32)> = Vec::new();
    let mut hlt_pt: HashSet<(u32, u32)> = HashSet::new();

    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |field: &str, msg: String| FormatError::at(path, line_no, field, msg);
        let (kind, rest) = line.split_once(' ').ok_or_else(|| err("kind", format!("'{line}' has no name")))?;
        let rest = rest.trim();
        let mut claim = |c: u32, label: &str| -> Result<u32, FormatError> {
            if let Some(prev) = seen.insert(c, label.to_string()) {
                return Err(err("name", format!("code {c} of '{label}' collides with '{prev}': rename one")));
            }
            Ok(c)
        };
        match kind {
            "RELEASE" => {
                let (v, lang) = rest.split_once('|').ok_or_else(|| err("release", "expected 'RELEASE <version> | <language>'".into()))?;
                rel.version = v.trim().to_string();
                rel.language = lang.trim().to_string();
            }
            "SOC" => {
                let (name, abbrev) = rest.split_once('|').ok_or_else(|| err("soc", "expected 'SOC <name> | <abbrev>'".into()))?;
                let c = claim(code(SOC_BASE, SPAN, name.trim()), name.trim())?;
                rel.socs.push(Soc { code: c, name: name.trim().to_string(), abbrev: abbrev.trim().to_string() });
                rel.intl_ord.push((rel.socs.len() as u32, c));
                (soc, hlgt, hlt) = (Some(c), None, None);
            }
            "HLGT" => {
                let s = soc.ok_or_else(|| err("hlgt", "HLGT before any SOC".into()))?;
                let c = claim(code(HLGT_BASE, SPAN, rest), rest)?;
                rel.hlgts.push(Named { code: c, name: rest.to_string() });
                rel.soc_hlgt.push((s, c));
                (hlgt, hlt) = (Some(c), None);
            }
            "HLT" => {
                let g = hlgt.ok_or_else(|| err("hlt", "HLT before any HLGT".into()))?;
                let c = claim(code(HLT_BASE, SPAN, rest), rest)?;
                rel.hlts.push(Named { code: c, name: rest.to_string() });
                rel.hlgt_hlt.push((g, c));
                hlt = Some(c);
            }
            "PT" => {
                let (s, g, t) = match (soc, hlgt, hlt) {
                    (Some(s), Some(g), Some(t)) => (s, g, t),
                    _ => return Err(err("pt", "PT before any HLT".into())),
                };
                if let Some(name) = rest.strip_prefix('@') {
                    secondary.push((line_no, name.trim().to_string(), t, g, s));
                    continue;
                }
                let (name, llts) = rest.split_once(':').unwrap_or((rest, ""));
                let name = name.trim();
                let c = claim(code(TERM_BASE, TERM_SPAN, name), name)?;
                rel.pts.push(Pt { code: c, name: name.to_string(), primary_soc: Some(s) });
                pt_by_name.insert(name.to_lowercase(), c);
                hlt_pt.insert((t, c));
                rel.hlt_pt.push((t, c));
                rel.mdhier.push(Hier { pt: c, hlt: t, hlgt: g, soc: s, primary: true });
                llt_names.insert(name.to_lowercase());
                // Every PT is also an LLT of the same code and name, as in MedDRA.
                rel.llts.push(Llt { code: c, name: name.to_string(), pt_code: c, current: true });
                for l in llts.split(';').map(str::trim).filter(|l| !l.is_empty()) {
                    let (current, l) = match l.strip_prefix('~') {
                        Some(l) => (false, l.trim()),
                        None => (true, l),
                    };
                    if !llt_names.insert(l.to_lowercase()) {
                        return Err(err("llt", format!("LLT '{l}' appears twice")));
                    }
                    let lc = claim(code(TERM_BASE, TERM_SPAN, l), l)?;
                    rel.llts.push(Llt { code: lc, name: l.to_string(), pt_code: c, current });
                }
            }
            other => return Err(err("kind", format!("'{other}' is not RELEASE, SOC, HLGT, HLT or PT"))),
        }
    }
    for (line_no, name, t, g, s) in secondary {
        let c = *pt_by_name.get(&name.to_lowercase()).ok_or_else(|| FormatError::at(path, line_no, "pt", format!("secondary link to unknown PT '{name}'")))?;
        if hlt_pt.insert((t, c)) {
            rel.hlt_pt.push((t, c));
        }
        rel.mdhier.push(Hier { pt: c, hlt: t, hlgt: g, soc: s, primary: false });
    }
    if rel.version.is_empty() {
        return Err(FormatError::file(path, "no RELEASE line"));
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str =
        "RELEASE T-1 | English\nSOC Body | Bod\nHLGT Group\nHLT Things\nPT Headache: Head pain; ~Cephalgia\nSOC Other | Oth\nHLGT G2\nHLT T2\nPT @Headache\n";

    #[test]
    fn compiles_levels_llts_and_secondary_links() {
        let rel = compile(Path::new("o.txt"), SMALL).unwrap();
        assert_eq!(rel.version, "T-1");
        assert_eq!(rel.socs.len(), 2);
        assert_eq!(rel.llts.len(), 3);
        let pt = &rel.pts[0];
        assert_eq!(rel.llts[0].code, pt.code, "the PT's own LLT shares its code");
        assert!(!rel.llts[2].current);
        assert_eq!(rel.mdhier.len(), 2);
        assert_eq!(rel.mdhier.iter().filter(|h| h.primary).count(), 1);
        assert!((75_000_000..80_000_000).contains(&pt.code));
    }

    #[test]
    fn codes_are_stable_under_edits() {
        let a = compile(Path::new("o"), SMALL).unwrap();
        let b = compile(Path::new("o"), &SMALL.replace("PT Headache:", "PT Nausea\nPT Headache:")).unwrap();
        let find = |r: &Release| r.llts.iter().find(|l| l.name == "Head pain").unwrap().code;
        assert_eq!(find(&a), find(&b));
    }

    #[test]
    fn errors_name_the_line() {
        let e = compile(Path::new("o.txt"), "RELEASE T | E\nPT X\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = compile(Path::new("o.txt"), "RELEASE T | E\nSOC A | A\nHLGT G\nHLT T\nPT P: x; X\n").unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        let e = compile(Path::new("o.txt"), "RELEASE T | E\nSOC A | A\nHLGT G\nHLT T\nPT @Nope\n").unwrap_err();
        assert!(e.to_string().contains("unknown PT"), "{e}");
    }
}
