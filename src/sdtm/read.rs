//! Reading a dataset file in any of its forms, refusing a bad one whole: every error names the
//! file, the record and the variable where it can.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::{xpt, Column, Dataset, Format, Metadata};

/// Reads a dataset file; its format comes from the extension (anything else is read as CSV).
pub fn read(path: &Path) -> Result<(Dataset, Format)> {
    let format = Format::of_path(path).unwrap_or(Format::Csv);
    Ok((read_as(path, format)?, format))
}

/// Reads a dataset file of a known format.
pub fn read_as(path: &Path, format: Format) -> Result<Dataset> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("reading {file}"))?;
    let ds = match format {
        Format::Xpt => from_xpt(&bytes, path).with_context(|| format!("reading the SAS transport file {file}"))?,
        Format::Json => from_json(&bytes, &file)?,
        Format::Ndjson => from_ndjson(&bytes, &file)?,
        Format::Csv => from_csv(&bytes, &file)?,
    };
    Ok(ds)
}

/// SAS transport: the header records are checked by hand first (`xpt::layout`), the values read
/// by `xportrs`, and both must agree on the records. SAS keeps no Dataset-JSON metadata, so it is
/// derived as SAS's own Dataset-JSON export does: itemOID `IT.<domain>.<name>`, numeric
/// variables `integer` when every value is whole and `double` otherwise, character ones
/// `string` with their length.
fn from_xpt(bytes: &[u8], path: &Path) -> Result<Dataset> {
    let layout = xpt::layout(bytes)?;
    let ds = xportrs::Xpt::read(path).map_err(|e| anyhow!("{e}"))?;
    if ds.nrows() != layout.observations || ds.ncols() != layout.variables.len() {
        bail!(
            "the header records describe {} variables and {} records, the reader found {} and {}",
            layout.variables.len(),
            layout.observations,
            ds.ncols(),
            ds.nrows()
        );
    }
    let name = ds.domain_code().to_string();
    let mut columns = Vec::with_capacity(ds.ncols());
    let mut rows = vec![Vec::with_capacity(ds.ncols()); ds.nrows()];
    for (c, v) in ds.columns().iter().zip(&layout.variables) {
        let values: Vec<Value> = match c.data() {
            xportrs::ColumnData::String(v) => v.iter().map(|s| Value::String(s.clone().unwrap_or_default())).collect(),
            xportrs::ColumnData::F64(v) => v.iter().map(|x| x.map_or(Value::Null, json_number)).collect(),
            xportrs::ColumnData::I64(v) => v.iter().map(|x| x.map_or(Value::Null, Value::from)).collect(),
            other => bail!("variable {}: values of type {other:?} are not read", c.name()),
        };
        let whole = values.iter().all(|x| x.is_null() || x.is_i64());
        let data_type = match (v.numeric, whole) {
            (false, _) => "string",
            (true, true) => "integer",
            (true, false) => "double",
        };
        columns.push(Column {
            item_oid: format!("IT.{name}.{}", v.name),
            name: v.name.clone(),
            label: v.label.clone(),
            data_type: data_type.into(),
            target_data_type: None,
            length: (!v.numeric).then_some(v.length as u32),
            display_format: v.format.clone(),
            key_sequence: None,
        });
        for (row, x) in rows.iter_mut().zip(values) {
            row.push(x);
        }
    }
    let meta = Metadata {
        item_group_oid: Some(format!("IG.{name}")),
        records: Some(rows.len() as u64),
        label: layout.label.clone(),
        name,
        columns,
        ..Default::default()
    };
    Ok(Dataset { meta, rows })
}

/// A SAS number as JSON: whole numbers as integers.
fn json_number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn from_json(bytes: &[u8], file: &str) -> Result<Dataset> {
    let text = std::str::from_utf8(bytes).map_err(|e| anyhow!("{file}: not UTF-8 text (byte {})", e.valid_up_to() + 1))?;
    let mut v: Value = serde_json::from_str(text).map_err(|e| {
        let record = records_before(text, e.line(), e.column()).map(|n| format!(" (in record {})", n + 1)).unwrap_or_default();
        anyhow!("{file}, line {}, column {}{record}: {}", e.line(), e.column(), why(&e))
    })?;
    let rows = match v.as_object_mut().and_then(|o| o.remove("rows")) {
        Some(Value::Array(rows)) => rows,
        Some(_) => bail!("{file}: `rows` is not an array of records"),
        None => bail!("{file}: no `rows` (a Dataset-JSON 1.1 file has its records there)"),
    };
    let meta = metadata(v, file)?;
    let rows = rows.into_iter().enumerate().map(|(i, r)| record(r, &meta.columns, file, i + 1)).collect::<Result<Vec<_>>>()?;
    check_count(&meta, rows.len(), file)?;
    Ok(Dataset { meta, rows })
}

fn from_ndjson(bytes: &[u8], file: &str) -> Result<Dataset> {
    let text = std::str::from_utf8(bytes).map_err(|e| anyhow!("{file}: not UTF-8 text (byte {})", e.valid_up_to() + 1))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or_else(|| anyhow!("{file}: empty"))?;
    let meta: Value = serde_json::from_str(first).map_err(|e| anyhow!("{file}, line 1 (the metadata): {}", why(&e)))?;
    let meta = metadata(meta, file)?;
    let mut rows = Vec::new();
    for (i, line) in lines {
        let n = rows.len() + 1;
        let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("{file}, line {} (record {n}): {}", i + 1, why(&e)))?;
        rows.push(record(v, &meta.columns, file, n)?);
    }
    check_count(&meta, rows.len(), file)?;
    Ok(Dataset { meta, rows })
}

fn why(e: &serde_json::Error) -> String {
    if e.is_eof() {
        "the file is cut short (truncated)".into()
    } else {
        format!("not JSON: {e}")
    }
}

/// A file that says how many records it has and holds another number was cut or padded.
fn check_count(meta: &Metadata, n: usize, file: &str) -> Result<()> {
    match meta.records {
        Some(r) if r != n as u64 => bail!("{file}: the metadata says {r} records, the file holds {n}: it may be cut short"),
        _ => Ok(()),
    }
}

fn metadata(v: Value, file: &str) -> Result<Metadata> {
    if v.get("columns").and_then(Value::as_array).is_none() {
        bail!("{file}: no `columns` array (Dataset-JSON 1.1 metadata)");
    }
    for (i, c) in v["columns"].as_array().into_iter().flatten().enumerate() {
        if c.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
            bail!("{file}: column {} has no name", i + 1);
        }
    }
    let mut meta: Metadata = serde_json::from_value(v).map_err(|e| anyhow!("{file}: the metadata: {e}"))?;
    let domain = meta.name.clone();
    for c in meta.columns.iter_mut().filter(|c| c.item_oid.is_empty()) {
        c.item_oid = format!("IT.{domain}.{}", c.name);
    }
    Ok(meta)
}

/// One record, its values checked against their columns' types.
fn record(v: Value, columns: &[Column], file: &str, n: usize) -> Result<Vec<Value>> {
    let Value::Array(cells) = v else { bail!("{file}, record {n}: not an array of values") };
    if cells.len() != columns.len() {
        bail!("{file}, record {n}: {} values, the metadata has {} columns", cells.len(), columns.len());
    }
    for (cell, c) in cells.iter().zip(columns) {
        let ok = match (c.data_type.as_str(), cell) {
            (_, Value::Null) => true,
            ("integer", Value::Number(x)) => x.is_i64() || x.is_u64() || x.as_f64().is_some_and(|f| f.fract() == 0.0),
            ("float" | "double", Value::Number(_)) => true,
            ("decimal", Value::String(s)) => s.trim().is_empty() || s.trim().parse::<f64>().is_ok(),
            ("decimal", Value::Number(_)) => true,
            ("boolean", Value::Bool(_)) => true,
            ("string" | "date" | "datetime" | "time" | "URI", Value::String(_)) => true,
            _ => false,
        };
        if !ok {
            bail!("{file}, record {n}, variable {}: {cell} is not a value of type {}", c.name, c.data_type);
        }
        if let (Some(len), Value::String(s)) = (c.length, cell) {
            if s.chars().count() > len as usize && c.data_type == "string" {
                bail!("{file}, record {n}, variable {}: {} characters, over the variable's length of {len}", c.name, s.chars().count());
            }
        }
    }
    Ok(cells)
}

/// How many whole records precede a position in a Dataset-JSON text (for naming the record a
/// parse error is in): arrays closed one level inside `"rows": [`.
fn records_before(text: &str, line: usize, column: usize) -> Option<usize> {
    let offset = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>() + column.saturating_sub(1);
    let head = text.get(..offset.min(text.len()))?;
    let start = head.find("\"rows\"")?;
    let (mut depth, mut in_string, mut escaped, mut done) = (0usize, false, false, 0usize);
    for ch in head[start + 6..].chars() {
        if in_string {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_string = true,
            '[' => depth += 1,
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    done += 1;
                }
            }
            _ => {}
        }
    }
    Some(done)
}

/// CSV with SDTM variable names in its header: every value is text (blank is ""); the metadata
/// has the names, and each variable's length is its longest value.
fn from_csv(bytes: &[u8], file: &str) -> Result<Dataset> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let names: Vec<String> = r.headers().with_context(|| format!("{file}, line 1"))?.iter().map(|h| h.trim().to_string()).collect();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| anyhow!("{file}, record {}: {e}", i + 1))?;
        rows.push(rec.iter().map(|v| Value::String(v.to_string())).collect());
    }
    let domain = names.iter().position(|n| n.eq_ignore_ascii_case("DOMAIN")).and_then(|c| rows.first().and_then(|r| super::text(&r[c]))).unwrap_or_default();
    let columns = names
        .iter()
        .enumerate()
        .map(|(c, n)| Column {
            item_oid: format!("IT.{domain}.{n}"),
            name: n.clone(),
            label: n.clone(),
            data_type: "string".into(),
            target_data_type: None,
            length: Some(rows.iter().map(|r| r[c].as_str().map_or(0, str::len)).max().unwrap_or(0).max(1) as u32),
            display_format: None,
            key_sequence: None,
        })
        .collect();
    let meta = Metadata { name: domain.clone(), label: domain.clone(), item_group_oid: Some(format!("IG.{domain}")), columns, ..Default::default() };
    Ok(Dataset { meta, rows })
}
