//! The dictionary-derived variables of an AE or MH record, filled from the item it was coded as:
//! what `export --sdtm` writes into the received dataset, and why a record is left as received.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde_json::Value;

use super::Dataset;
use crate::meddra::{Dictionary, Named};
use crate::store::item::{Item, State};

/// What fills each dictionary-derived variable, by its name after the domain prefix (SDTMIG 3.3
/// AE and MH): the primary SOC path, names as MedDRA spells them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Llt,
    Pt,
    Hlt,
    Hlgt,
    Soc,
}

/// The dictionary-derived variables by their name after the prefix, each with the level it
/// holds and whether it holds the code (else the name).
const DERIVED: [(&str, Part, bool); 12] = [
    ("LLT", Part::Llt, false),
    ("LLTCD", Part::Llt, true),
    ("DECOD", Part::Pt, false),
    ("PTCD", Part::Pt, true),
    ("HLT", Part::Hlt, false),
    ("HLTCD", Part::Hlt, true),
    ("HLGT", Part::Hlgt, false),
    ("HLGTCD", Part::Hlgt, true),
    ("BODSYS", Part::Soc, false),
    ("BDSYCD", Part::Soc, true),
    ("SOC", Part::Soc, false),
    ("SOCCD", Part::Soc, true),
];

/// A confirmed code's primary path.
#[derive(Debug, Clone, PartialEq)]
pub struct Coding {
    pub llt: Named,
    pub pt: Named,
    pub hlt: Named,
    pub hlgt: Named,
    pub soc: Named,
    pub meddra_version: String,
}

impl Coding {
    fn get(&self, p: Part) -> &Named {
        match p {
            Part::Llt => &self.llt,
            Part::Pt => &self.pt,
            Part::Hlt => &self.hlt,
            Part::Hlgt => &self.hlgt,
            Part::Soc => &self.soc,
        }
    }
}

/// What a record gets: its coding, or why it is left as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Coded(Coding),
    Left(String),
}

/// The outcome of one record: `term`, `study` and `subject` as the dataset holds them, the item
/// its id names (None when the queue has none), the parts it was split into, and the dictionary
/// of the version the item was coded in.
pub fn outcome(record: (&str, &str, &str), item: Option<&Item>, parts: &[Item], dict: Option<&Dictionary>) -> Outcome {
    let (study, subject, term) = record;
    let Some(it) = item else { return Outcome::Left("not in the queue".into()) };
    if it.study != study || it.subject != subject {
        return Outcome::Left(format!("the queue's item {} is another record's (study {}, subject {})", it.external_id, it.study, it.subject));
    }
    if it.reported_term.trim() != term.trim() {
        return Outcome::Left(format!(
            "its reported term was corrected to '{}' after this dataset was received: import the site's corrected dataset",
            it.reported_term
        ));
    }
    match it.state {
        State::Confirmed => {}
        State::Split => {
            let listed: Vec<String> = parts
                .iter()
                .filter(|p| p.state != State::Void)
                .map(|p| format!("{} '{}' ({}{})", p.external_id, p.reported_term, p.state, p.llt_code.map(|c| format!(" LLT {c}")).unwrap_or_default()))
                .collect();
            return Outcome::Left(format!(
                "split into {} parts: {}; one SDTM record holds one event, so the site re-reports them as separate records",
                listed.len(),
                listed.join(", ")
            ));
        }
        other => return Outcome::Left(format!("{other}, not confirmed")),
    }
    let (Some(llt), Some(pt), Some(version)) = (it.llt_code, it.pt_code, it.meddra_version.as_deref()) else {
        return Outcome::Left("confirmed without a code".into());
    };
    let Some(d) = dict else { return Outcome::Left(format!("coded in MedDRA {version}, which this store no longer holds")) };
    let (Some(l), Some(path)) = (d.llt(llt), d.primary_path(pt)) else {
        return Outcome::Left(format!("LLT {llt} / PT {pt} has no primary path in MedDRA {version}"));
    };
    Outcome::Coded(Coding {
        llt: Named { code: l.code, name: l.name.clone() },
        pt: path.pt,
        hlt: path.hlt,
        hlgt: path.hlgt,
        soc: path.soc,
        meddra_version: version.to_string(),
    })
}

/// What filling a dataset did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filled {
    pub coded: usize,
    /// The dictionary-derived variables the dataset lacks (not added: the structure is the sponsor's).
    pub missing: Vec<String>,
    /// The MedDRA versions of the codes written.
    pub versions: BTreeSet<String>,
    /// Received dictionary values a confirmed code replaced: (record index, variable, was, now).
    pub replaced: Vec<(usize, String, String, String)>,
}

/// Whether a record came with dictionary values of its own (coded before it was received).
pub fn was_coded(ds: &Dataset, prefix: &str, row: usize) -> bool {
    DERIVED.iter().filter_map(|(s, _, _)| ds.column(&format!("{prefix}{s}"))).any(|c| ds.text(row, c).is_some())
}

/// Fills the dictionary-derived variables of the records coded (`outcomes`, one per record, in
/// order); the others keep what they were received with. A name goes to a character variable;
/// a code is written as its variable's type (a number to a numeric variable, digits to a
/// character one). Character lengths widen to the longest value written.
pub fn fill(ds: &mut Dataset, prefix: &str, outcomes: &[Outcome]) -> Result<Filled> {
    let mut out = Filled::default();
    let mut targets = Vec::new();
    for (suffix, part, code) in DERIVED {
        let name = format!("{prefix}{suffix}");
        match ds.column(&name) {
            Some(c) => {
                let col = &ds.meta.columns[c];
                if !code && col.is_numeric() {
                    bail!("variable {} is {}: it cannot hold a MedDRA name", col.name, col.data_type);
                }
                targets.push((c, part, code));
            }
            None => out.missing.push(name),
        }
    }
    for (r, (row, o)) in ds.rows.iter_mut().zip(outcomes).enumerate() {
        let Outcome::Coded(coding) = o else { continue };
        out.coded += 1;
        out.versions.insert(coding.meddra_version.clone());
        for &(c, part, code) in &targets {
            let n = coding.get(part);
            let col = &ds.meta.columns[c];
            let now = if code { n.code.to_string() } else { n.name.clone() };
            // Dataset-JSON holds a decimal as a string.
            let value = if code && col.is_numeric() && col.data_type != "decimal" { Value::from(n.code) } else { Value::String(now.clone()) };
            if let Some(was) = super::text(&row[c]).filter(|w| *w != now) {
                out.replaced.push((r, col.name.clone(), was, now));
            }
            row[c] = value;
        }
    }
    for &(c, _, _) in &targets {
        let col = &mut ds.meta.columns[c];
        if col.is_numeric() {
            continue;
        }
        let longest = ds.rows.iter().map(|r| r[c].as_str().map_or(0, |s| s.chars().count())).max().unwrap_or(0) as u32;
        col.length = Some(col.length.unwrap_or(1).max(longest).max(1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdtm::{Column, Metadata};

    fn col(name: &str, data_type: &str) -> Column {
        Column {
            item_oid: format!("IT.AE.{name}"),
            name: name.into(),
            label: name.into(),
            data_type: data_type.into(),
            target_data_type: None,
            length: Some(1),
            display_format: None,
            key_sequence: None,
        }
    }

    fn named(code: u32, name: &str) -> Named {
        Named { code, name: name.into() }
    }

    #[test]
    fn codes_take_their_variables_type_and_uncoded_records_keep_what_they_had() {
        let mut ds = Dataset {
            meta: Metadata {
                name: "AE".into(),
                columns: vec![col("AETERM", "string"), col("AELLT", "string"), col("AELLTCD", "integer"), col("AEPTCD", "string")],
                ..Default::default()
            },
            rows: vec![vec!["HEADACHE".into(), "".into(), Value::Null, "".into()], vec!["RASH".into(), "Old".into(), Value::from(1), "2".into()]],
        };
        let coding = Coding {
            llt: named(10019211, "Headache"),
            pt: named(10019211, "Headache"),
            hlt: named(10019233, "Headaches NEC"),
            hlgt: named(10019231, "Headaches"),
            soc: named(10029205, "Nervous system disorders"),
            meddra_version: "27.0".into(),
        };
        let f = fill(&mut ds, "AE", &[Outcome::Coded(coding), Outcome::Left("proposed, not confirmed".into())]).unwrap();
        assert_eq!(f.coded, 1);
        assert_eq!(ds.rows[0], vec![Value::from("HEADACHE"), "Headache".into(), Value::from(10019211), "10019211".into()]);
        assert_eq!(ds.rows[1], vec![Value::from("RASH"), "Old".into(), Value::from(1), "2".into()]);
        assert_eq!(ds.meta.columns[1].length, Some(8));
        assert_eq!(ds.meta.columns[3].length, Some(8));
        assert!(f.missing.contains(&"AESOC".to_string()) && !f.missing.contains(&"AELLT".to_string()));
        ds.meta.columns[1].data_type = "integer".into();
        let e = fill(&mut ds, "AE", &[]).unwrap_err().to_string();
        assert!(e.contains("AELLT is integer: it cannot hold a MedDRA name"), "{e}");
    }
}
