//! The hierarchy browser's model: SOC > HLGT > HLT > PT > LLT in the international SOC order,
//! expandable, with multi-axial PTs under every SOC they belong to and the primary one marked.

use std::collections::HashSet;

use crate::meddra::Dictionary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Soc,
    Hlgt,
    Hlt,
    Pt,
    Llt,
}

/// A visible row. `path` is the codes from the SOC down to this node: a PT reached through two
/// SOCs has two different paths, so each place can be expanded on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub level: Level,
    pub path: Vec<u32>,
    pub code: u32,
    pub name: String,
    /// PT rows: primary SOC path (true) or a secondary one.
    pub primary: bool,
    pub current: bool,
    pub has_children: bool,
    pub expanded: bool,
}

impl Row {
    pub fn depth(&self) -> usize {
        self.path.len() - 1
    }
}

#[derive(Debug, Default)]
pub struct Tree {
    expanded: HashSet<Vec<u32>>,
    pub rows: Vec<Row>,
    pub sel: usize,
}

impl Tree {
    pub fn new(dict: &Dictionary) -> Tree {
        let mut t = Tree::default();
        t.rebuild(dict);
        t
    }

    pub fn rebuild(&mut self, d: &Dictionary) {
        let mut rows = Vec::new();
        for soc in &d.socs {
            let p = vec![soc.code];
            let open = self.expanded.contains(&p);
            rows.push(Row {
                level: Level::Soc,
                path: p.clone(),
                code: soc.code,
                name: soc.name.clone(),
                primary: true,
                current: true,
                has_children: !d.hlgts_of(soc.code).is_empty(),
                expanded: open,
            });
            if !open {
                continue;
            }
            for &g in d.hlgts_of(soc.code) {
                let pg = [p.clone(), vec![g]].concat();
                let open = self.expanded.contains(&pg);
                rows.push(Row {
                    level: Level::Hlgt,
                    path: pg.clone(),
                    code: g,
                    name: d.hlgts.get(&g).cloned().unwrap_or_default(),
                    primary: true,
                    current: true,
                    has_children: !d.hlts_of(g).is_empty(),
                    expanded: open,
                });
                if !open {
                    continue;
                }
                for &t in d.hlts_of(g) {
                    let pt_path = [pg.clone(), vec![t]].concat();
                    let open = self.expanded.contains(&pt_path);
                    rows.push(Row {
                        level: Level::Hlt,
                        path: pt_path.clone(),
                        code: t,
                        name: d.hlts.get(&t).cloned().unwrap_or_default(),
                        primary: true,
                        current: true,
                        has_children: !d.pts_of(t).is_empty(),
                        expanded: open,
                    });
                    if !open {
                        continue;
                    }
                    for &pt in d.pts_of(t) {
                        let pp = [pt_path.clone(), vec![pt]].concat();
                        let open = self.expanded.contains(&pp);
                        let name = d.pt(pt).map(|x| x.name.clone()).unwrap_or_default();
                        rows.push(Row {
                            level: Level::Pt,
                            path: pp.clone(),
                            code: pt,
                            name,
                            primary: d.is_primary_under(pt, soc.code),
                            current: true,
                            has_children: true,
                            expanded: open,
                        });
                        if !open {
                            continue;
                        }
                        for l in d.llts_of(pt) {
                            let pl = [pp.clone(), vec![l.code]].concat();
                            rows.push(Row {
                                level: Level::Llt,
                                path: pl,
                                code: l.code,
                                name: l.name.clone(),
                                primary: true,
                                current: l.current,
                                has_children: false,
                                expanded: false,
                            });
                        }
                    }
                }
            }
        }
        self.rows = rows;
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
    }

    pub fn selected(&self) -> Option<&Row> {
        self.rows.get(self.sel)
    }

    pub fn expand(&mut self, d: &Dictionary) {
        if let Some(r) = self.selected().filter(|r| r.has_children).cloned() {
            self.expanded.insert(r.path);
            self.rebuild(d);
        }
    }

    /// Collapses the selected node, or moves to its parent when it is a leaf or already closed.
    pub fn collapse(&mut self, d: &Dictionary) {
        let Some(r) = self.selected().cloned() else { return };
        if r.expanded {
            self.expanded.remove(&r.path);
            self.rebuild(d);
        } else if r.path.len() > 1 {
            let parent = &r.path[..r.path.len() - 1];
            if let Some(i) = self.rows.iter().position(|x| x.path == parent) {
                self.sel = i;
            }
        }
    }

    pub fn move_by(&mut self, delta: isize) {
        let n = self.rows.len() as isize;
        if n > 0 {
            self.sel = (self.sel as isize + delta).clamp(0, n - 1) as usize;
        }
    }

    /// Opens the primary path down to an LLT or PT code and selects it. False when unknown.
    pub fn reveal(&mut self, d: &Dictionary, code: u32) -> bool {
        let (pt, llt) = match d.llt(code) {
            Some(l) => (l.pt_code, Some(l.code)),
            None if d.pt(code).is_some() => (code, None),
            None => return false,
        };
        let Some(path) = d.primary_path(pt) else { return false };
        let chain = [path.soc.code, path.hlgt.code, path.hlt.code, pt];
        for i in 1..=chain.len() {
            if i < chain.len() || llt.is_some() {
                self.expanded.insert(chain[..i].to_vec());
            }
        }
        self.rebuild(d);
        let mut target = chain.to_vec();
        if let Some(l) = llt {
            target.push(l);
        }
        if let Some(i) = self.rows.iter().position(|r| r.path == target) {
            self.sel = i;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meddra::outline;

    fn dict() -> Dictionary {
        let text = "RELEASE T | E\nSOC Infections | Inf\nHLGT Viral\nHLT Herpes\nPT Herpes zoster: Shingles\n\
                    SOC Skin | Skin\nHLGT Skin infections\nHLT Skin viral\nPT @Herpes zoster\nPT Rash: Skin rash; ~Rash NOS\n";
        Dictionary::new(&outline::compile(std::path::Path::new("t"), text).unwrap())
    }

    #[test]
    fn starts_collapsed_in_international_order() {
        let d = dict();
        let t = Tree::new(&d);
        let names: Vec<_> = t.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Infections", "Skin"]);
    }

    #[test]
    fn multi_axial_pt_appears_under_both_socs_with_primary_marked() {
        let d = dict();
        let mut t = Tree::new(&d);
        for _ in 0..3 {
            t.expand(&d);
            t.move_by(1);
        }
        t.sel = t.rows.iter().position(|r| r.name == "Skin").unwrap();
        for _ in 0..3 {
            t.expand(&d);
            t.move_by(1);
        }
        let hz: Vec<&Row> = t.rows.iter().filter(|r| r.name == "Herpes zoster").collect();
        assert_eq!(hz.len(), 2);
        assert!(hz[0].primary && !hz[1].primary);
    }

    #[test]
    fn reveal_opens_the_primary_path_and_collapse_goes_up() {
        let d = dict();
        let mut t = Tree::new(&d);
        let code = d.llts.iter().find(|l| l.name == "Shingles").unwrap().code;
        assert!(t.reveal(&d, code));
        let r = t.selected().unwrap();
        assert_eq!((r.level, r.name.as_str(), r.depth()), (Level::Llt, "Shingles", 4));
        t.collapse(&d);
        assert_eq!(t.selected().unwrap().level, Level::Pt);
        t.collapse(&d);
        assert!(!t.rows.iter().any(|r| r.name == "Shingles"));
        assert!(!t.reveal(&d, 1));
        let nc = d.llts.iter().find(|l| l.name == "Rash NOS").unwrap().code;
        t.reveal(&d, nc);
        assert!(!t.selected().unwrap().current);
    }
}
