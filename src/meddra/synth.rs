//! A generator of synthetic releases in the MedDRA layout, with the proportions of a real one
//! (80,000 LLTs : 26,000 PTs : 1,700 HLTs : 340 HLGTs : 27 SOCs, multi-axial PTs, non-current
//! LLTs). Used by tests and benchmarks; the names are made up from a small medical vocabulary.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::release::Release;
use super::{ascii, Hier, Llt, Named, Pt, Soc};

const SITES: &[&str] = &[
    "abdominal",
    "hepatic",
    "renal",
    "cardiac",
    "pulmonary",
    "cerebral",
    "skin",
    "ocular",
    "gastric",
    "muscle",
    "joint",
    "bone",
    "vascular",
    "thyroid",
    "pancreatic",
    "bladder",
    "uterine",
    "nasal",
    "oral",
    "ear",
    "spinal",
    "breast",
    "prostate",
    "splenic",
    "lymph node",
    "oesophageal",
    "colonic",
    "rectal",
    "arterial",
    "venous",
    "pleural",
    "pericardial",
    "adrenal",
    "pituitary",
    "ovarian",
    "testicular",
    "tendon",
    "nerve",
    "retinal",
    "corneal",
];
const FINDINGS: &[&str] = &[
    "pain",
    "haemorrhage",
    "infection",
    "inflammation",
    "oedema",
    "necrosis",
    "fibrosis",
    "cyst",
    "ulcer",
    "mass",
    "atrophy",
    "hypertrophy",
    "stenosis",
    "obstruction",
    "perforation",
    "abscess",
    "neoplasm",
    "disorder",
    "injury",
    "failure",
    "dysfunction",
    "calcification",
    "ischaemia",
    "infarction",
    "thrombosis",
    "embolism",
    "rupture",
    "discomfort",
    "swelling",
    "erosion",
];
const QUALIFIERS: &[&str] = &[
    "acute",
    "chronic",
    "left",
    "right",
    "bilateral",
    "recurrent",
    "severe",
    "mild",
    "congenital",
    "drug-induced",
    "post-procedural",
    "focal",
    "diffuse",
    "transient",
    "progressive",
    "traumatic",
    "intermittent",
    "localised",
    "generalised",
    "secondary",
];
const GROUPS: &[&str] = &["disorders", "conditions", "signs and symptoms", "infections", "neoplasms", "injuries", "investigations", "procedures"];

/// Builds a synthetic release with `n_llts` LLTs.
pub fn generate(n_llts: usize, seed: u64, version: &str) -> Release {
    let mut rng = StdRng::seed_from_u64(seed);
    let n_llts = n_llts.max(1);
    let n_pts = (n_llts * 26 / 80).max(1);
    let n_hlts = (n_llts * 17 / 800).max(1);
    let n_hlgts = (n_llts * 34 / 8000).max(1);
    let n_socs = n_hlgts.clamp(1, 27);
    let mut rel = Release { version: version.to_string(), language: "English".into(), ..Default::default() };
    for i in 0..n_socs {
        let code = 80_000_001 + i as u32;
        let site = SITES[i % SITES.len()];
        rel.socs.push(Soc { code, name: format!("Synthetic {site} system disorders {i}"), abbrev: format!("S{i:02}") });
        rel.intl_ord.push((i as u32 + 1, code));
    }
    for i in 0..n_hlgts {
        let code = 81_000_001 + i as u32;
        let soc = rel.socs[i % n_socs].code;
        rel.hlgts.push(Named { code, name: format!("{} {} {i}", cap(SITES[i % SITES.len()]), GROUPS[i % GROUPS.len()]) });
        rel.soc_hlgt.push((soc, code));
    }
    for i in 0..n_hlts {
        let code = 82_000_001 + i as u32;
        let hlgt = rel.hlgts[i % n_hlgts].code;
        rel.hlts.push(Named { code, name: format!("{} {} {i}", cap(SITES[(i / 3) % SITES.len()]), FINDINGS[i % FINDINGS.len()]) });
        rel.hlgt_hlt.push((hlgt, code));
    }
    // soc of each hlgt, hlgt of each hlt, to build mdhier rows
    let hlgt_soc = |h: usize| rel.socs[h % n_socs].code;
    for i in 0..n_pts {
        let code = 83_000_001 + i as u32;
        let hlt_idx = i % n_hlts;
        let hlgt_idx = hlt_idx % n_hlgts;
        let soc = hlgt_soc(hlgt_idx);
        let name = format!("{} {} {}", cap(SITES[rng.gen_range(0..SITES.len())]), FINDINGS[rng.gen_range(0..FINDINGS.len())], i);
        rel.pts.push(Pt { code, name: name.clone(), primary_soc: Some(soc) });
        rel.hlt_pt.push((rel.hlts[hlt_idx].code, code));
        rel.mdhier.push(Hier { pt: code, hlt: rel.hlts[hlt_idx].code, hlgt: rel.hlgts[hlgt_idx].code, soc, primary: true });
        rel.llts.push(Llt { code, name, pt_code: code, current: true });
        // About one PT in ten is multi-axial: a secondary path through another HLT of another SOC.
        if n_hlts > 1 && rng.gen_bool(0.1) {
            let other = (hlt_idx + 1 + rng.gen_range(0..n_hlts - 1)) % n_hlts;
            let ohlgt = other % n_hlgts;
            let osoc = hlgt_soc(ohlgt);
            if osoc != soc {
                rel.hlt_pt.push((rel.hlts[other].code, code));
                rel.mdhier.push(Hier { pt: code, hlt: rel.hlts[other].code, hlgt: rel.hlgts[ohlgt].code, soc: osoc, primary: false });
            }
        }
    }
    for i in 0..n_llts.saturating_sub(n_pts) {
        let code = 84_000_001 + i as u32;
        let pt = &rel.pts[rng.gen_range(0..n_pts)];
        let q = QUALIFIERS[rng.gen_range(0..QUALIFIERS.len())];
        let name = format!("{q} {}", pt.name.to_lowercase());
        let pt_code = pt.code;
        rel.llts.push(Llt { code, name: cap(&name), pt_code, current: !rng.gen_bool(0.08) });
    }
    rel
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Writes a release in the official ASCII layout into `dir/MedAscii`.
pub fn write_ascii(rel: &Release, dir: &Path) -> Result<()> {
    let dir = dir.join("MedAscii");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, lines: Vec<String>| -> Result<()> {
        let path = dir.join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?);
        for l in lines {
            writeln!(f, "{l}")?;
        }
        f.flush()?;
        Ok(())
    };
    let l = ascii::format_line;
    std::fs::write(dir.join("meddra_release.asc"), l(&[&rel.version, &rel.language, "", ""]))?;
    let e = "";
    write("soc.asc", rel.socs.iter().map(|s| l(&[&s.code.to_string(), &s.name, &s.abbrev, e, e, e, e, e, e, e])).collect())?;
    let named = |v: &[Named]| v.iter().map(|n| l(&[&n.code.to_string(), &n.name, e, e, e, e, e, e, e])).collect();
    write("hlgt.asc", named(&rel.hlgts))?;
    write("hlt.asc", named(&rel.hlts))?;
    write(
        "pt.asc",
        rel.pts.iter().map(|p| l(&[&p.code.to_string(), &p.name, e, &p.primary_soc.map(|c| c.to_string()).unwrap_or_default(), e, e, e, e, e, e, e])).collect(),
    )?;
    write(
        "llt.asc",
        rel.llts.iter().map(|x| l(&[&x.code.to_string(), &x.name, &x.pt_code.to_string(), e, e, e, e, e, e, if x.current { "Y" } else { "N" }, e])).collect(),
    )?;
    let pairs = |v: &[(u32, u32)]| v.iter().map(|(a, b)| l(&[&a.to_string(), &b.to_string()])).collect();
    write("soc_hlgt.asc", pairs(&rel.soc_hlgt))?;
    write("hlgt_hlt.asc", pairs(&rel.hlgt_hlt))?;
    write("hlt_pt.asc", pairs(&rel.hlt_pt))?;
    write("intl_ord.asc", pairs(&rel.intl_ord))?;
    let name_of = |v: &[Named], c: u32| v.iter().find(|n| n.code == c).map(|n| n.name.clone()).unwrap_or_default();
    let hlt_names: std::collections::HashMap<u32, &str> = rel.hlts.iter().map(|n| (n.code, n.name.as_str())).collect();
    let pt_names: std::collections::HashMap<u32, &Pt> = rel.pts.iter().map(|p| (p.code, p)).collect();
    write(
        "mdhier.asc",
        rel.mdhier
            .iter()
            .map(|h| {
                let soc = rel.socs.iter().find(|s| s.code == h.soc);
                let pt = pt_names.get(&h.pt);
                l(&[
                    &h.pt.to_string(),
                    &h.hlt.to_string(),
                    &h.hlgt.to_string(),
                    &h.soc.to_string(),
                    pt.map(|p| p.name.as_str()).unwrap_or(""),
                    hlt_names.get(&h.hlt).copied().unwrap_or(""),
                    &name_of(&rel.hlgts, h.hlgt),
                    soc.map(|s| s.name.as_str()).unwrap_or(""),
                    soc.map(|s| s.abbrev.as_str()).unwrap_or(""),
                    e,
                    &pt.and_then(|p| p.primary_soc).map(|c| c.to_string()).unwrap_or_default(),
                    if h.primary { "Y" } else { "N" },
                ])
            })
            .collect(),
    )?;
    if !rel.smqs.is_empty() {
        write(
            "smq_list.asc",
            rel.smqs
                .iter()
                .map(|s| l(&[&s.code.to_string(), &s.name, &s.level.to_string(), &s.description, &s.source, &s.note, &s.version, &s.status, &s.algorithm]))
                .collect(),
        )?;
        write(
            "smq_content.asc",
            rel.smq_terms
                .iter()
                .map(|t| {
                    l(&[
                        &t.smq_code.to_string(),
                        &t.term_code.to_string(),
                        &t.level.to_string(),
                        &t.scope.to_string(),
                        &t.category,
                        &t.weight,
                        &t.status,
                        &t.addition_version,
                        &t.last_modified_version,
                    ])
                })
                .collect(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_release_round_trips_through_ascii() {
        let rel = generate(2_000, 7, "90.0");
        assert_eq!(rel.llts.len(), 2_000);
        assert!(rel.llts.iter().any(|l| !l.current));
        assert!(rel.mdhier.iter().any(|h| !h.primary), "some PTs are multi-axial");
        let dir = tempfile::tempdir().unwrap();
        write_ascii(&rel, dir.path()).unwrap();
        let (back, report) = Release::read(dir.path()).unwrap();
        assert_eq!(report.dir, dir.path().join("MedAscii"));
        assert_eq!(back.llts, rel.llts);
        assert_eq!(back.pts, rel.pts);
        assert_eq!(back.mdhier, rel.mdhier);
        assert_eq!(back.version, "90.0");
    }
}
