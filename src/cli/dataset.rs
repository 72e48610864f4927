//! SDTM datasets on the command line: `queue datasets` lists the kept ones, `export --sdtm`
//! writes one back with the dictionary-derived variables filled for its confirmed records.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::intake::sdtm::{record_keys, Table};
use crate::meddra::Dictionary;
use crate::sdtm::derive::{fill, outcome, was_coded, Outcome};
use crate::sdtm::{write, Format};
use crate::store::api::DeskStore;
use crate::store::datasets::DatasetInfo;
use crate::store::item::{Item, ItemFilter};
use crate::text::printable as p;

/// `queue datasets`.
pub fn list(store: &dyn DeskStore) -> Result<ExitCode> {
    let all = store.datasets()?;
    if all.is_empty() {
        println!("No SDTM dataset received: `queue import` an AE or MH dataset (.xpt, .json, .ndjson, or .csv with AETERM/MHTERM).");
    }
    for d in &all {
        println!(
            "dataset {:<3} {:<3} {:<14} {:>6} records  {:<6} {}  received {} by {}  sha256 {}",
            d.id,
            d.domain,
            p(&d.study),
            d.records,
            d.format,
            p(&d.file),
            d.received_at,
            p(&d.received_by),
            &d.sha256[..12.min(d.sha256.len())]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The dataset an export means: the one named, else the latest received of the study and domain
/// asked for (one pair must remain).
fn pick(all: &[DatasetInfo], id: Option<i64>, study: Option<&str>, domain: Option<&str>) -> Result<DatasetInfo> {
    if let Some(id) = id {
        return all.iter().find(|d| d.id == id).cloned().ok_or_else(|| anyhow::anyhow!("no dataset {id}: `queue datasets` lists them"));
    }
    let mut latest: BTreeMap<(String, String), &DatasetInfo> = BTreeMap::new();
    for d in all.iter().filter(|d| study.is_none_or(|s| d.study == s) && domain.is_none_or(|m| d.domain.eq_ignore_ascii_case(m))) {
        latest.insert((d.study.clone(), d.domain.clone()), d);
    }
    match latest.len() {
        0 if all.is_empty() => bail!("no SDTM dataset has been received: `queue import` the AE or MH dataset first"),
        0 => bail!("no dataset of that study and domain: `queue datasets` lists them"),
        1 => Ok(latest.into_values().next().expect("one").clone()),
        _ => {
            let named: Vec<String> = latest.values().map(|d| format!("{} {} (dataset {})", d.study, d.domain, d.id)).collect();
            bail!("{} datasets are kept ({}): name one with --dataset, or --study and --domain", named.len(), named.join(", "))
        }
    }
}

pub struct SdtmExport<'a> {
    /// Write codes of more than one MedDRA version into one dataset.
    pub mixed_versions: bool,
    pub dataset: Option<i64>,
    pub study: Option<&'a str>,
    pub domain: Option<&'a str>,
    pub format: Option<Format>,
    pub out: &'a Path,
}

/// `export --sdtm`: the received dataset, every variable and value as received, with the
/// dictionary-derived variables of its confirmed records filled from the version each was coded
/// in; the records left as received are listed on stderr with why.
pub fn export(store: &mut dyn DeskStore, a: SdtmExport<'_>) -> Result<ExitCode> {
    let info = pick(&store.datasets()?, a.dataset, a.study, a.domain)?;
    let format = match (a.format, Format::of_path(a.out)) {
        (Some(f), Some(ext)) if f != ext => {
            bail!("--format {} and the file name {} disagree: name the file .{}", f.as_str(), a.out.display(), f.as_str())
        }
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) => Format::parse(&info.format)?,
    };
    let mut ds = store.dataset(info.id)?;
    let file = format!("dataset {} ({})", info.id, info.file);
    let (prefix, keys) = record_keys(&Table::of(&ds), &file)?;
    let items: HashMap<String, Item> =
        store.items(&ItemFilter { study: Some(info.study.clone()), ..Default::default() })?.into_iter().map(|i| (i.external_id.clone(), i)).collect();
    let mut dicts: HashMap<String, Option<Dictionary>> = HashMap::new();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(keys.len());
    for key in &keys {
        let Some((id, study, subject, term)) = key else {
            outcomes.push(Outcome::Left("lacks USUBJID, the sequence number or the reported term".into()));
            continue;
        };
        let item = items.get(id);
        let parts = match item {
            Some(it) if it.state == crate::store::item::State::Split => store.parts(id)?,
            _ => vec![],
        };
        let dict = match item.and_then(|i| i.meddra_version.clone()) {
            Some(v) => dicts.entry(v.clone()).or_insert_with(|| store.dictionary(Some(&v)).ok()).as_ref(),
            None => None,
        };
        outcomes.push(outcome((study, subject, term), item, &parts, dict));
    }
    // Records coded before they were received keep that coding unless confirmed here: say so.
    for (n, o) in outcomes.iter_mut().enumerate() {
        if let Outcome::Left(why) = o {
            if was_coded(&ds, prefix, n) {
                why.push_str("; it keeps the coding it was received with");
            }
        }
    }
    let filled = fill(&mut ds, prefix, &outcomes)?;
    let versions: Vec<String> = filled.versions.iter().cloned().collect();
    let active = store.active_dictionary().map(|d| d.version).ok();
    // Define-XML declares one dictionary version per dataset.
    if versions.len() > 1 && !a.mixed_versions {
        bail!(
            "the confirmed codes of dataset {} come from {} MedDRA versions ({}): recode the older ones (`recode-check`) so the dataset has one version, or write them mixed with --mixed-versions",
            info.id,
            versions.len(),
            versions.join(", ")
        );
    }
    // With nothing coded yet the dataset still says which release it is coded against.
    let meddra = if versions.is_empty() { active.clone().unwrap_or_else(|| "none".into()) } else { versions.join(", ") };
    write::write(&ds, format, a.out, write::source_system(&meddra))?;
    let left = outcomes.len() - filled.coded;
    println!(
        "Wrote {} (study {}, {} records) to {} as {}: {} coded in MedDRA {meddra}, {left} left as received",
        info.domain,
        p(&info.study),
        outcomes.len(),
        a.out.display(),
        format.as_str(),
        filled.coded
    );
    if let Some(h) = store.log_head()? {
        println!("  at log row {} ({}): `audit anchor` records it", h.seq, &h.hash[..16.min(h.hash.len())]);
    }
    if versions.len() > 1 {
        eprintln!("warning: the codes come from {} MedDRA versions ({meddra}): one dataset declares one version", versions.len());
    } else if let (Some(v), Some(active)) = (versions.first(), &active) {
        if v != active {
            eprintln!("warning: the codes are MedDRA {v}, the active release is {active}: `recode-check` lists the codes to review for it");
        }
    }
    if !filled.replaced.is_empty() {
        let mut by_record: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (r, var, was, now) in &filled.replaced {
            by_record.entry(*r).or_default().push(format!("{var} '{}' -> '{}'", p(was), p(now)));
        }
        eprintln!("{} record(s) came coded and were confirmed here to other values (the received values are replaced):", by_record.len());
        for (r, changes) in by_record.iter().take(20) {
            let id = keys[*r].as_ref().map_or("-", |k| k.0.as_str());
            eprintln!("  record {} ({}): {}", r + 1, p(id), changes.join(", "));
        }
        if by_record.len() > 20 {
            eprintln!("  and {} more", by_record.len() - 20);
        }
    }
    if !filled.missing.is_empty() {
        eprintln!("note: the dataset has no {}: not added (its structure is the sponsor's)", filled.missing.join(", "));
    }
    // Each reason once, with its records: a study's hundreds of uncoded records read as one line.
    let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
    for (n, (o, key)) in outcomes.iter().zip(&keys).enumerate() {
        if let Outcome::Left(why) = o {
            let (id, term) = key.as_ref().map_or(("-".to_string(), String::new()), |k| (k.0.clone(), k.3.clone()));
            let record = format!("record {} ({}, '{}')", n + 1, p(&id), p(&term));
            match reasons.iter_mut().find(|(w, _)| *w == why.as_str()) {
                Some((_, records)) => records.push(record),
                None => reasons.push((why.as_str(), vec![record])),
            }
        }
    }
    for (why, records) in &reasons {
        match records.len() {
            1 => eprintln!("  {}: {}", records[0], p(why)),
            n => {
                let more = if n > 5 { format!(" and {} more", n - 5) } else { String::new() };
                eprintln!("  {n} records {}: {}{more}", p(why), records[..n.min(5)].join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
