//! The MedDRA terminology: reading releases, the in-memory hierarchy, comparing versions and
//! generating synthetic releases for tests and benchmarks.

pub mod ascii;
pub mod autocode;
pub mod diff;
pub mod outline;
pub mod release;
pub mod search;
pub mod synth;

use std::collections::HashMap;

pub use release::Release;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soc {
    pub code: u32,
    pub name: String,
    pub abbrev: String,
}

/// An HLGT or HLT: code and name are all the hierarchy needs of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub code: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pt {
    pub code: u32,
    pub name: String,
    /// pt_soc_code as given in pt.asc; mdhier's primary flag is authoritative.
    pub primary_soc: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Llt {
    pub code: u32,
    pub name: String,
    pub pt_code: u32,
    /// llt_currency = Y. Non-current LLTs stay searchable but may never be chosen as a new code.
    pub current: bool,
}

/// One mdhier row: a PT's path to a SOC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hier {
    pub pt: u32,
    pub hlt: u32,
    pub hlgt: u32,
    pub soc: u32,
    pub primary: bool,
}

/// A PT's path with names resolved, for display and export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub pt: Named,
    pub hlt: Named,
    pub hlgt: Named,
    pub soc: Named,
    pub primary: bool,
}

/// A release loaded for lookups and browsing.
#[derive(Debug, Clone)]
pub struct Dictionary {
    pub version: String,
    pub language: String,
    pub socs: Vec<Soc>,
    pub hlgts: HashMap<u32, String>,
    pub hlts: HashMap<u32, String>,
    pub pts: HashMap<u32, Pt>,
    pub llts: Vec<Llt>,
    llt_index: HashMap<u32, usize>,
    pt_llts: HashMap<u32, Vec<usize>>,
    pt_paths: HashMap<u32, Vec<Hier>>,
    soc_children: HashMap<u32, Vec<u32>>,
    hlgt_children: HashMap<u32, Vec<u32>>,
    hlt_children: HashMap<u32, Vec<u32>>,
}

impl Dictionary {
    /// A SHA-256 of what coding depends on (LLTs with PT and currency, PTs, every hierarchy path,
    /// HLT/HLGT/SOC names), in a fixed order: the same whether built from the release files or
    /// read back from a store, so `audit verify` finds an edited dictionary table.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut line = |s: String| {
            h.update(s.as_bytes());
            h.update(b"\n");
        };
        let mut llts: Vec<&Llt> = self.llts.iter().collect();
        llts.sort_by_key(|l| l.code);
        for l in llts {
            line(format!("llt\t{}\t{}\t{}\t{}", l.code, l.name, l.pt_code, l.current));
        }
        let mut pts: Vec<&Pt> = self.pts.values().collect();
        pts.sort_by_key(|p| p.code);
        for p in pts {
            let mut paths: Vec<(u32, u32, u32, bool)> = self.pt_paths.get(&p.code).into_iter().flatten().map(|x| (x.hlt, x.hlgt, x.soc, x.primary)).collect();
            paths.sort_unstable();
            line(format!("pt\t{}\t{}\t{paths:?}", p.code, p.name));
        }
        let mut names: Vec<(u32, &str, &str)> = self.hlts.iter().map(|(c, n)| (*c, "hlt", n.as_str())).collect();
        names.extend(self.hlgts.iter().map(|(c, n)| (*c, "hlgt", n.as_str())));
        names.extend(self.socs.iter().map(|s| (s.code, "soc", s.name.as_str())));
        names.sort_unstable();
        for (c, kind, n) in names {
            line(format!("{kind}\t{c}\t{n}"));
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    pub fn new(rel: &Release) -> Dictionary {
        let order: HashMap<u32, u32> = rel.intl_ord.iter().map(|&(o, soc)| (soc, o)).collect();
        let mut socs = rel.socs.clone();
        // International SOC order where the release gives it, otherwise alphabetical.
        socs.sort_by(|a, b| {
            let oa = order.get(&a.code).copied().unwrap_or(u32::MAX);
            let ob = order.get(&b.code).copied().unwrap_or(u32::MAX);
            oa.cmp(&ob).then_with(|| a.name.cmp(&b.name))
        });
        let hlgts: HashMap<u32, String> = rel.hlgts.iter().map(|n| (n.code, n.name.clone())).collect();
        let hlts: HashMap<u32, String> = rel.hlts.iter().map(|n| (n.code, n.name.clone())).collect();
        let pts: HashMap<u32, Pt> = rel.pts.iter().map(|p| (p.code, p.clone())).collect();
        let llts = rel.llts.clone();
        let llt_index = llts.iter().enumerate().map(|(i, l)| (l.code, i)).collect();
        let mut pt_llts: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, l) in llts.iter().enumerate() {
            pt_llts.entry(l.pt_code).or_default().push(i);
        }
        for v in pt_llts.values_mut() {
            v.sort_by(|&a, &b| llts[a].name.to_lowercase().cmp(&llts[b].name.to_lowercase()));
        }
        let mut pt_paths: HashMap<u32, Vec<Hier>> = HashMap::new();
        for h in &rel.mdhier {
            pt_paths.entry(h.pt).or_default().push(*h);
        }
        for v in pt_paths.values_mut() {
            v.sort_by_key(|h| (!h.primary, order.get(&h.soc).copied().unwrap_or(u32::MAX)));
        }
        let by_name = |m: &HashMap<u32, String>, v: &mut Vec<u32>| v.sort_by(|a, b| m.get(a).cmp(&m.get(b)));
        let mut soc_children: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(s, g) in &rel.soc_hlgt {
            soc_children.entry(s).or_default().push(g);
        }
        soc_children.values_mut().for_each(|v| by_name(&hlgts, v));
        let mut hlgt_children: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(g, t) in &rel.hlgt_hlt {
            hlgt_children.entry(g).or_default().push(t);
        }
        hlgt_children.values_mut().for_each(|v| by_name(&hlts, v));
        let mut hlt_children: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(t, p) in &rel.hlt_pt {
            hlt_children.entry(t).or_default().push(p);
        }
        hlt_children.values_mut().for_each(|v| v.sort_by(|a, b| pts.get(a).map(|p| &p.name).cmp(&pts.get(b).map(|p| &p.name))));
        Dictionary {
            version: rel.version.clone(),
            language: rel.language.clone(),
            socs,
            hlgts,
            hlts,
            pts,
            llts,
            llt_index,
            pt_llts,
            pt_paths,
            soc_children,
            hlgt_children,
            hlt_children,
        }
    }

    pub fn llt(&self, code: u32) -> Option<&Llt> {
        self.llt_index.get(&code).map(|&i| &self.llts[i])
    }

    pub fn pt(&self, code: u32) -> Option<&Pt> {
        self.pts.get(&code)
    }

    pub fn soc(&self, code: u32) -> Option<&Soc> {
        self.socs.iter().find(|s| s.code == code)
    }

    /// LLTs of a PT, alphabetical.
    pub fn llts_of(&self, pt: u32) -> impl Iterator<Item = &Llt> {
        self.pt_llts.get(&pt).into_iter().flatten().map(|&i| &self.llts[i])
    }

    pub fn hlgts_of(&self, soc: u32) -> &[u32] {
        self.soc_children.get(&soc).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn hlts_of(&self, hlgt: u32) -> &[u32] {
        self.hlgt_children.get(&hlgt).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn pts_of(&self, hlt: u32) -> &[u32] {
        self.hlt_children.get(&hlt).map(Vec::as_slice).unwrap_or(&[])
    }

    /// All SOC paths of a PT, the primary one first.
    pub fn paths(&self, pt: u32) -> Vec<Path> {
        self.pt_paths.get(&pt).into_iter().flatten().filter_map(|h| self.resolve(h)).collect()
    }

    pub fn primary_path(&self, pt: u32) -> Option<Path> {
        self.pt_paths.get(&pt)?.iter().find(|h| h.primary).and_then(|h| self.resolve(h))
    }

    /// Number of SOC paths (more than one: multi-axial PT).
    pub fn path_count(&self, pt: u32) -> usize {
        self.pt_paths.get(&pt).map_or(0, Vec::len)
    }

    /// Whether `pt` sits under `soc` as its primary SOC.
    pub fn is_primary_under(&self, pt: u32, soc: u32) -> bool {
        self.pt_paths.get(&pt).is_some_and(|v| v.iter().any(|h| h.soc == soc && h.primary))
    }

    fn resolve(&self, h: &Hier) -> Option<Path> {
        let named = |code: u32, m: &HashMap<u32, String>| m.get(&code).map(|n| Named { code, name: n.clone() });
        Some(Path {
            pt: Named { code: h.pt, name: self.pts.get(&h.pt)?.name.clone() },
            hlt: named(h.hlt, &self.hlts)?,
            hlgt: named(h.hlgt, &self.hlgts)?,
            soc: Named { code: h.soc, name: self.soc(h.soc)?.name.clone() },
            primary: h.primary,
        })
    }

    /// Indexes into `llts` of the current LLTs, in dictionary order: the label list of the models
    /// and the rows of the dense index.
    pub fn current_llt_indexes(&self) -> Vec<usize> {
        self.llts.iter().enumerate().filter(|(_, l)| l.current).map(|(i, _)| i).collect()
    }

    pub fn current_llt_count(&self) -> usize {
        self.llts.iter().filter(|l| l.current).count()
    }

    pub fn multi_axial_pt_count(&self) -> usize {
        self.pt_paths.values().filter(|v| v.len() > 1).count()
    }
}
