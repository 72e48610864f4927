//! Writing a dataset in any of its forms. A Dataset-JSON file says which system wrote it and
//! with which MedDRA version (`sourceSystem`, the one place the 1.1 schema has for it); a SAS
//! transport file is re-read by the hand-written header check (`xpt::layout`) and by `xportrs`
//! before it is reported written.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::{value_text, xpt, Dataset, Format, SourceSystem};

/// Who wrote the file: medcoder, its version and the MedDRA version the codes come from.
pub fn source_system(meddra: &str) -> SourceSystem {
    SourceSystem { name: "medcoder".into(), version: format!("{} (MedDRA {meddra})", env!("CARGO_PKG_VERSION")) }
}

/// Writes `ds` to `path` as `format`, through a file beside it renamed into place: a failed
/// export never leaves half a dataset under the name.
pub fn write(ds: &Dataset, format: Format, path: &Path, writer: SourceSystem) -> Result<()> {
    let file = path.display().to_string();
    let partial = path.with_file_name(format!(".{}.partial", path.file_name().and_then(|n| n.to_str()).unwrap_or("dataset")));
    let result = (|| -> Result<()> {
        match format {
            Format::Xpt => write_xpt(ds, &partial)?,
            Format::Json | Format::Ndjson | Format::Csv => {
                let f = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
                let mut w = std::io::BufWriter::new(f);
                match format {
                    Format::Json => write_json(ds, &mut w, writer)?,
                    Format::Ndjson => write_ndjson(ds, &mut w, writer)?,
                    _ => write_csv(ds, &mut w)?,
                }
                w.flush()?;
            }
        }
        std::fs::rename(&partial, path).with_context(|| format!("moving the export into place as {file}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("writing {file}"))
}

/// The metadata as a written file states it: created now, by `writer`, with its record count
/// and the fields the 1.1 schema requires.
fn stated(ds: &Dataset, writer: SourceSystem) -> super::Metadata {
    let mut m = ds.meta.clone();
    m.created = Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if !m.version.as_deref().is_some_and(|v| v.starts_with("1.1")) {
        m.version = Some("1.1.0".into());
    }
    m.source_system = Some(writer);
    m.records = Some(ds.rows.len() as u64);
    let name = ds.domain();
    if m.item_group_oid.is_none() {
        m.item_group_oid = Some(format!("IG.{name}"));
    }
    if m.name.is_empty() {
        m.name = name.clone();
    }
    if m.label.is_empty() {
        m.label = name;
    }
    m
}

/// Dataset-JSON: the metadata in the schema's order, then the rows.
#[derive(serde::Serialize)]
struct WithRows<'a> {
    #[serde(flatten)]
    meta: &'a super::Metadata,
    rows: &'a [Vec<Value>],
}

fn write_json(ds: &Dataset, w: &mut impl Write, writer: SourceSystem) -> Result<()> {
    serde_json::to_writer(&mut *w, &WithRows { meta: &stated(ds, writer), rows: &ds.rows })?;
    Ok(())
}

fn write_ndjson(ds: &Dataset, w: &mut impl Write, writer: SourceSystem) -> Result<()> {
    serde_json::to_writer(&mut *w, &stated(ds, writer))?;
    writeln!(w)?;
    for r in &ds.rows {
        serde_json::to_writer(&mut *w, r)?;
        writeln!(w)?;
    }
    Ok(())
}

/// CSV: the names, then every value as the file had it (no spreadsheet escaping: the values are
/// the dataset's and stay as they are).
fn write_csv(ds: &Dataset, w: &mut impl Write) -> Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(ds.meta.columns.iter().map(|c| c.name.as_str()))?;
    for r in &ds.rows {
        c.write_record(r.iter().map(value_text))?;
    }
    c.flush()?;
    Ok(())
}

/// SAS transport v5: 8-character names, 40-character labels, character lengths up to 200 bytes.
fn write_xpt(ds: &Dataset, path: &Path) -> Result<()> {
    let name = ds.domain();
    if name.is_empty() || name.len() > 8 {
        bail!("the dataset name '{name}' is not a SAS name of 1 to 8 characters");
    }
    let mut columns = Vec::with_capacity(ds.meta.columns.len());
    for (i, c) in ds.meta.columns.iter().enumerate() {
        if c.name.is_empty() || c.name.len() > 8 || !c.name.is_ascii() {
            bail!("variable {}: SAS transport v5 names have 1 to 8 ASCII characters", c.name);
        }
        if c.label.chars().count() > 40 {
            bail!("variable {}: its label has over 40 characters, the most SAS transport v5 holds", c.name);
        }
        let cells = ds.rows.iter().map(|r| &r[i]);
        let data = if c.is_numeric() {
            xportrs::ColumnData::F64(
                cells
                    .enumerate()
                    .map(|(n, v)| match v {
                        Value::Null => Ok(None),
                        Value::Number(x) => Ok(x.as_f64()),
                        Value::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
                        Value::String(s) if s.trim().is_empty() => Ok(None),
                        Value::String(s) => s.trim().parse().map(Some).map_err(|_| anyhow!("record {}, variable {}: '{s}' is not a number", n + 1, c.name)),
                        other => bail!("record {}, variable {}: {other} is not a number", n + 1, c.name),
                    })
                    .collect::<Result<Vec<_>>>()?,
            )
        } else {
            xportrs::ColumnData::String(cells.map(|v| Some(value_text(v)).filter(|s| !s.is_empty())).collect())
        };
        let mut col = xportrs::Column::new(c.name.as_str(), data).with_label(c.label.as_str());
        if !c.is_numeric() {
            let longest = ds.rows.iter().map(|r| value_text(&r[i]).len()).max().unwrap_or(0);
            if longest > 200 {
                bail!("variable {}: a value of {longest} bytes is longer than the 200 SAS transport v5 holds", c.name);
            }
            col = col.with_length(longest.max(c.length.unwrap_or(1) as usize).clamp(1, 200));
        }
        if let Some(f) = &c.display_format {
            if let Ok(with) = col.clone().with_format_str(f) {
                col = with;
            }
        }
        columns.push(col);
    }
    let out = xportrs::Dataset::with_label(name.as_str(), ds.meta.label.as_str(), columns).map_err(|e| anyhow!("{e}"))?;
    xportrs::Xpt::writer(out).finalize().map_err(|e| anyhow!("{e}"))?.write_path(path).map_err(|e| anyhow!("{e}"))?;
    check_xpt(ds, path)
}

/// The written file, re-read by both readers, must hold what was meant: the variables, their
/// types, and every value.
fn check_xpt(ds: &Dataset, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path)?;
    let layout = xpt::layout(&bytes).context("re-reading the written file's header records")?;
    let names: Vec<&str> = layout.variables.iter().map(|v| v.name.as_str()).collect();
    let meant: Vec<&str> = ds.meta.columns.iter().map(|c| c.name.as_str()).collect();
    if names != meant || layout.observations != ds.rows.len() {
        bail!("the written file holds {} variables and {} records, not the {} and {} meant", names.len(), layout.observations, meant.len(), ds.rows.len());
    }
    let back = super::read::read_as(path, Format::Xpt).context("re-reading the written file")?;
    for (r, (a, b)) in ds.rows.iter().zip(&back.rows).enumerate() {
        for (c, (x, y)) in a.iter().zip(b).enumerate() {
            let same = if ds.meta.columns[c].is_numeric() { as_number(x) == as_number(y) } else { super::text(x) == super::text(y) };
            if !same {
                bail!("record {}, variable {}: written as {y}, meant {x}", r + 1, ds.meta.columns[c].name);
            }
        }
    }
    Ok(())
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}
