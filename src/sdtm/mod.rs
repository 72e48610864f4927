//! An SDTM dataset (AE, MH) as a coding team receives it and hands it back, in any of its forms:
//! SAS transport v5 (`.xpt`, read and written with the `xportrs` crate), Dataset-JSON 1.1
//! (`.json`), its NDJSON form (`.ndjson`) and CSV with SDTM variable names.
//!
//! One model holds all of them: Dataset-JSON 1.1 metadata (dataset and column metadata in the
//! schema's own fields and order) and one row of JSON values per record. A file read and written
//! back in its own format keeps every variable, label, length and value; across formats the
//! metadata one format lacks is derived the way SAS does (see `read::from_xpt`).

pub mod derive;
pub mod read;
pub mod write;
pub mod xpt;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use read::read;

/// The forms a dataset comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xpt,
    Json,
    Ndjson,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Xpt => "xpt",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Result<Format> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "xpt" => Format::Xpt,
            "json" => Format::Json,
            "ndjson" => Format::Ndjson,
            "csv" => Format::Csv,
            other => bail!("'{other}' is not a dataset format: xpt, json, ndjson or csv"),
        })
    }

    /// The format a file's extension names, if any.
    pub fn of_path(path: &Path) -> Option<Format> {
        path.extension().and_then(|e| e.to_str()).and_then(|e| Format::parse(e).ok())
    }
}

/// Column metadata, as Dataset-JSON 1.1 defines it (the schema allows no other fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// Left empty by some producers; filled (`IT.<domain>.<name>`) when read.
    #[serde(rename = "itemOID", default)]
    pub item_oid: String,
    pub name: String,
    #[serde(default)]
    pub label: String,
    /// "string" when a producer leaves it out.
    #[serde(default = "string_type")]
    pub data_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_data_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_sequence: Option<u32>,
}

fn string_type() -> String {
    "string".into()
}

impl Column {
    /// Whether the variable holds numbers (a SAS numeric): integer, float, double, decimal (which
    /// Dataset-JSON writes as a string, for its precision) and boolean.
    pub fn is_numeric(&self) -> bool {
        matches!(self.data_type.as_str(), "integer" | "float" | "double" | "decimal" | "boolean")
    }
}

/// The system that wrote a Dataset-JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSystem {
    pub name: String,
    pub version: String,
}

/// Dataset-level metadata of Dataset-JSON 1.1, in the schema's order. Fields a received file has
/// beyond the schema are kept as they came (`extra`), so nothing received is dropped.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(rename = "datasetJSONCreationDateTime", skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(rename = "datasetJSONVersion", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(rename = "fileOID", skip_serializing_if = "Option::is_none")]
    pub file_oid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_last_modified_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_system: Option<SourceSystem>,
    #[serde(rename = "studyOID", skip_serializing_if = "Option::is_none")]
    pub study_oid: Option<String>,
    #[serde(rename = "metaDataVersionOID", skip_serializing_if = "Option::is_none")]
    pub meta_data_version_oid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_data_ref: Option<String>,
    #[serde(rename = "itemGroupOID", skip_serializing_if = "Option::is_none")]
    pub item_group_oid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub label: String,
    pub columns: Vec<Column>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A dataset: its metadata and one row of values per record, in the received order (a missing
/// value is null; a blank character value is "", as SAS and Dataset-JSON hold it).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub meta: Metadata,
    pub rows: Vec<Vec<Value>>,
}

impl Dataset {
    /// The column of a variable, by name (SDTM names are upper case; a file's case is kept).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.meta.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The domain: the dataset's name, else the DOMAIN variable of its first record.
    pub fn domain(&self) -> String {
        if !self.meta.name.is_empty() {
            return self.meta.name.to_ascii_uppercase();
        }
        self.column("DOMAIN").and_then(|c| self.rows.first().and_then(|r| text(&r[c]))).unwrap_or_default().to_ascii_uppercase()
    }

    /// The value of a record's variable as text, trimmed; None when missing or blank.
    pub fn text(&self, row: usize, col: usize) -> Option<String> {
        self.rows.get(row)?.get(col).and_then(text)
    }

    /// What is kept of a received dataset, and what its digest covers: the metadata as JSON, then
    /// each record's values as JSON.
    pub fn to_stored(&self) -> (String, Vec<String>) {
        let meta = serde_json::to_string(&self.meta).expect("metadata serialises");
        (meta, self.rows.iter().map(|r| serde_json::to_string(r).expect("values serialise")).collect())
    }

    /// A kept dataset read back from the store.
    pub fn from_stored(meta: &str, rows: &[String]) -> Result<Dataset> {
        let meta: Metadata = serde_json::from_str(meta).map_err(|e| anyhow::anyhow!("the kept dataset's metadata: {e}"))?;
        let rows = rows
            .iter()
            .enumerate()
            .map(|(i, r)| serde_json::from_str(r).map_err(|e| anyhow::anyhow!("the kept dataset's record {}: {e}", i + 1)))
            .collect::<Result<Vec<Vec<Value>>>>()?;
        Ok(Dataset { meta, rows })
    }
}

/// The SHA-256 of a kept dataset, as the log records it: metadata, then each record, one per
/// line. The team database computes the same (`keep_dataset`).
pub fn digest(meta: &str, rows: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(meta.as_bytes());
    for r in rows {
        h.update(b"\n");
        h.update(r.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A value as text, trimmed; None when missing or blank.
pub fn text(v: &Value) -> Option<String> {
    Some(value_text(v).trim().to_string()).filter(|s| !s.is_empty())
}

/// A value as a file writes it in text (CSV, SAS character): a string as it is, a number as SAS
/// prints it, missing as empty.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_i64().map(|i| i.to_string()).or_else(|| n.as_f64().map(number)).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}

/// A number as SAS prints it: integers without a decimal point.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
