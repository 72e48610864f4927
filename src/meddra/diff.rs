//! What changed between two releases: the report a coding team reviews at every MedDRA upgrade.

use serde::Serialize;

use super::Dictionary;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LltChange {
    pub llt_code: u32,
    pub llt_name: String,
    pub old_pt: Option<(u32, String)>,
    pub new_pt: Option<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocChange {
    pub pt_code: u32,
    pub pt_name: String,
    pub old_soc: (u32, String),
    pub new_soc: (u32, String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub old_version: String,
    pub new_version: String,
    pub new_llts: Vec<LltChange>,
    pub made_non_current: Vec<LltChange>,
    pub made_current: Vec<LltChange>,
    pub moved: Vec<LltChange>,
    pub renamed: Vec<(u32, String, String)>,
    pub removed: Vec<LltChange>,
    pub primary_soc_changed: Vec<SocChange>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.new_llts.is_empty()
            && self.made_non_current.is_empty()
            && self.made_current.is_empty()
            && self.moved.is_empty()
            && self.renamed.is_empty()
            && self.removed.is_empty()
            && self.primary_soc_changed.is_empty()
    }
}

fn pt_of(d: &Dictionary, code: u32) -> Option<(u32, String)> {
    d.pt(code).map(|p| (p.code, p.name.clone()))
}

pub fn diff(old: &Dictionary, new: &Dictionary) -> Diff {
    let mut out = Diff { old_version: old.version.clone(), new_version: new.version.clone(), ..Default::default() };
    for l in &new.llts {
        let change = |o: Option<&super::Llt>| LltChange {
            llt_code: l.code,
            llt_name: l.name.clone(),
            old_pt: o.and_then(|o| pt_of(old, o.pt_code)),
            new_pt: pt_of(new, l.pt_code),
        };
        match old.llt(l.code) {
            None => out.new_llts.push(change(None)),
            Some(o) => {
                if o.current && !l.current {
                    out.made_non_current.push(change(Some(o)));
                } else if !o.current && l.current {
                    out.made_current.push(change(Some(o)));
                }
                if o.pt_code != l.pt_code {
                    out.moved.push(change(Some(o)));
                }
                if o.name != l.name {
                    out.renamed.push((l.code, o.name.clone(), l.name.clone()));
                }
            }
        }
    }
    for o in &old.llts {
        if new.llt(o.code).is_none() {
            out.removed.push(LltChange { llt_code: o.code, llt_name: o.name.clone(), old_pt: pt_of(old, o.pt_code), new_pt: None });
        }
    }
    let mut pts: Vec<_> = new.pts.keys().copied().collect();
    pts.sort_unstable();
    for code in pts {
        let (Some(op), Some(np)) = (old.primary_path(code), new.primary_path(code)) else { continue };
        if op.soc.code != np.soc.code {
            out.primary_soc_changed.push(SocChange {
                pt_code: code,
                pt_name: np.pt.name.clone(),
                old_soc: (op.soc.code, op.soc.name),
                new_soc: (np.soc.code, np.soc.name),
            });
        }
    }
    for v in [&mut out.new_llts, &mut out.made_non_current, &mut out.made_current, &mut out.moved, &mut out.removed] {
        v.sort_by_key(|c| c.llt_code);
    }
    out
}

/// The text report printed by `medcoder dict diff`.
pub fn render(d: &Diff) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "MedDRA {} -> {}", d.old_version, d.new_version);
    let pt = |p: &Option<(u32, String)>| p.as_ref().map(|(c, n)| format!("{n} ({c})")).unwrap_or_else(|| "-".into());
    let section = |s: &mut String, title: &str, rows: &[LltChange], show: &dyn Fn(&LltChange) -> String| {
        let _ = writeln!(s, "\n{title}: {}", rows.len());
        for r in rows {
            let _ = writeln!(s, "  {:>9}  {}  {}", r.llt_code, r.llt_name, show(r));
        }
    };
    section(&mut s, "New LLTs", &d.new_llts, &|r| format!("PT {}", pt(&r.new_pt)));
    section(&mut s, "LLTs made non-current", &d.made_non_current, &|r| format!("PT {}", pt(&r.new_pt)));
    section(&mut s, "LLTs made current again", &d.made_current, &|r| format!("PT {}", pt(&r.new_pt)));
    section(&mut s, "LLTs moved to another PT", &d.moved, &|r| format!("{} -> {}", pt(&r.old_pt), pt(&r.new_pt)));
    section(&mut s, "LLTs removed", &d.removed, &|r| format!("was under PT {}", pt(&r.old_pt)));
    let _ = writeln!(s, "\nLLTs renamed: {}", d.renamed.len());
    for (c, o, n) in &d.renamed {
        let _ = writeln!(s, "  {c:>9}  {o} -> {n}");
    }
    let _ = writeln!(s, "\nPTs whose primary SOC changed: {}", d.primary_soc_changed.len());
    for c in &d.primary_soc_changed {
        let _ = writeln!(s, "  {:>9}  {}  {} ({}) -> {} ({})", c.pt_code, c.pt_name, c.old_soc.1, c.old_soc.0, c.new_soc.1, c.new_soc.0);
    }
    s
}
