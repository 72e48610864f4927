//! Reading the MedDRA ASCII distribution format: `$`-separated fields, an optional trailing `$`,
//! no quoting, no header, LF or CRLF line ends, UTF-8 with a cp1252 (Latin-1) fallback.

use std::fmt;
use std::path::{Path, PathBuf};

/// The layout of one distribution file.
#[derive(Debug, Clone, Copy)]
pub struct FileSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// Column indexes that must hold a numeric code (empty allowed only where `optional_numeric`).
    pub numeric: &'static [usize],
    /// Numeric columns that may also be empty.
    pub optional_numeric: &'static [usize],
    /// Fewer fields than `columns.len()` are accepted down to this count (older releases
    /// and `meddra_release.asc` omit trailing empty columns).
    pub min_fields: usize,
}

impl FileSpec {
    pub fn column(&self, i: usize) -> &'static str {
        self.columns.get(i).copied().unwrap_or("(extra field)")
    }
}

macro_rules! spec {
    ($name:literal, [$($col:literal),*], numeric [$($n:literal),*], optional [$($o:literal),*], min $min:literal) => {
        FileSpec { name: $name, columns: &[$($col),*], numeric: &[$($n),*], optional_numeric: &[$($o),*], min_fields: $min }
    };
}

pub const SOC: FileSpec = spec!("soc.asc", ["soc_code", "soc_name", "soc_abbrev", "soc_whoart_code", "soc_harts_code", "soc_costart_sym", "soc_icd9_code", "soc_icd9cm_code", "soc_icd10_code", "soc_jart_code"], numeric [0], optional [], min 3);
pub const HLGT: FileSpec = spec!("hlgt.asc", ["hlgt_code", "hlgt_name", "hlgt_whoart_code", "hlgt_harts_code", "hlgt_costart_sym", "hlgt_icd9_code", "hlgt_icd9cm_code", "hlgt_icd10_code", "hlgt_jart_code"], numeric [0], optional [], min 2);
pub const HLT: FileSpec = spec!("hlt.asc", ["hlt_code", "hlt_name", "hlt_whoart_code", "hlt_harts_code", "hlt_costart_sym", "hlt_icd9_code", "hlt_icd9cm_code", "hlt_icd10_code", "hlt_jart_code"], numeric [0], optional [], min 2);
pub const PT: FileSpec = spec!("pt.asc", ["pt_code", "pt_name", "null_field", "pt_soc_code", "pt_whoart_code", "pt_harts_code", "pt_costart_sym", "pt_icd9_code", "pt_icd9cm_code", "pt_icd10_code", "pt_jart_code"], numeric [0, 3], optional [3], min 4);
pub const LLT: FileSpec = spec!("llt.asc", ["llt_code", "llt_name", "pt_code", "llt_whoart_code", "llt_harts_code", "llt_costart_sym", "llt_icd9_code", "llt_icd9cm_code", "llt_icd10_code", "llt_currency", "llt_jart_code"], numeric [0, 2], optional [], min 10);
pub const SOC_HLGT: FileSpec = spec!("soc_hlgt.asc", ["soc_code", "hlgt_code"], numeric [0, 1], optional [], min 2);
pub const HLGT_HLT: FileSpec = spec!("hlgt_hlt.asc", ["hlgt_code", "hlt_code"], numeric [0, 1], optional [], min 2);
pub const HLT_PT: FileSpec = spec!("hlt_pt.asc", ["hlt_code", "pt_code"], numeric [0, 1], optional [], min 2);
pub const MDHIER: FileSpec = spec!("mdhier.asc", ["pt_code", "hlt_code", "hlgt_code", "soc_code", "pt_name", "hlt_name", "hlgt_name", "soc_name", "soc_abbrev", "null_field", "pt_soc_code", "primary_soc_fg"], numeric [0, 1, 2, 3, 10], optional [10], min 12);
pub const INTL_ORD: FileSpec = spec!("intl_ord.asc", ["intl_ord_code", "soc_code"], numeric [0, 1], optional [], min 2);
pub const RELEASE: FileSpec = spec!("meddra_release.asc", ["version", "language", "null_field", "null_field", "null_field"], numeric [], optional [], min 2);
pub const SMQ_LIST: FileSpec = spec!("smq_list.asc", ["smq_code", "smq_name", "smq_level", "smq_description", "smq_source", "smq_note", "meddra_version", "status", "smq_algorithm"], numeric [0, 2], optional [], min 9);
pub const SMQ_CONTENT: FileSpec = spec!("smq_content.asc", ["smq_code", "term_code", "term_level", "term_scope", "term_category", "term_weight", "term_status", "term_addition_version", "term_last_modified_version"], numeric [0, 1, 2, 3], optional [], min 9);
pub const HISTORY: FileSpec = spec!("meddra_history_english.asc", ["term_code", "term_name", "term_addition_version", "term_type", "llt_currency", "action"], numeric [0], optional [], min 6);

/// A problem in a distribution file, located to the line and field.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FormatError {}

impl FormatError {
    pub fn at(file: &Path, line: usize, field: &str, message: impl Into<String>) -> Self {
        FormatError { file: file.to_path_buf(), line: Some(line), field: Some(field.to_string()), message: message.into() }
    }
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        FormatError { file: file.to_path_buf(), line: None, field: None, message: message.into() }
    }
}

/// Which text encoding a file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Windows1252,
}

/// Decodes bytes as UTF-8 (BOM stripped) and falls back to cp1252, which MSSO uses for
/// non-English Latin-script releases and older English ones.
pub fn decode(bytes: &[u8]) -> (String, TextEncoding) {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), TextEncoding::Utf8),
        Err(_) => {
            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            (s.into_owned(), TextEncoding::Windows1252)
        }
    }
}

/// One data line of a distribution file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line number in the file.
    pub line: usize,
    pub fields: Vec<String>,
}

impl Record {
    pub fn get(&self, i: usize) -> &str {
        self.fields.get(i).map(String::as_str).unwrap_or("")
    }
}

/// A parsed file: its records, already checked for field counts and numeric codes.
#[derive(Debug, Clone)]
pub struct AsciiFile {
    pub path: PathBuf,
    pub spec: FileSpec,
    pub encoding: TextEncoding,
    pub records: Vec<Record>,
}

impl AsciiFile {
    pub fn code(&self, rec: &Record, col: usize) -> u32 {
        rec.get(col).trim().parse().unwrap_or(0)
    }
    pub fn opt_code(&self, rec: &Record, col: usize) -> Option<u32> {
        rec.get(col).trim().parse().ok()
    }
    pub fn error(&self, rec: &Record, col: usize, message: impl Into<String>) -> FormatError {
        FormatError::at(&self.path, rec.line, self.spec.column(col), message)
    }
}

/// The longest field accepted: MedDRA's names are at most 100 characters; this is generous.
pub const MAX_FIELD_CHARS: usize = 1_000;

/// Parses file text against its spec. Blank lines (including the missing final newline that
/// `meddra_release.asc` is shipped with) are skipped.
pub fn parse(path: &Path, spec: FileSpec, text: &str, encoding: TextEncoding) -> Result<AsciiFile, FormatError> {
    let mut records = Vec::new();
    let max = spec.columns.len();
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let mut fields: Vec<String> = line.split('$').map(str::to_string).collect();
        // The trailing `$` terminates the last field; without it the line simply ends.
        if line.ends_with('$') {
            fields.pop();
        }
        if fields.len() < spec.min_fields || fields.len() > max {
            let expected = if spec.min_fields == max { format!("{max}") } else { format!("{} to {max}", spec.min_fields) };
            return Err(FormatError {
                file: path.to_path_buf(),
                line: Some(line_no),
                field: None,
                message: format!("expected {expected} `$`-separated fields, found {}", fields.len()),
            });
        }
        // MedDRA names are at most 100 characters; a field far longer is not MedDRA, and one huge
        // name would slow every search and multiply the index's memory.
        if let Some((col, f)) = fields.iter().enumerate().find(|(_, f)| f.chars().count() > MAX_FIELD_CHARS) {
            return Err(FormatError::at(
                path,
                line_no,
                spec.column(col),
                format!("{} characters (a MedDRA field has at most {MAX_FIELD_CHARS})", f.chars().count()),
            ));
        }
        if let Some((col, c)) = fields.iter().enumerate().find_map(|(i, f)| crate::text::forbidden_char(f).map(|c| (i, c))) {
            return Err(FormatError::at(path, line_no, spec.column(col), format!("contains the control character U+{:04X}", c as u32)));
        }
        for &col in spec.numeric {
            let value = fields.get(col).map(|s| s.trim()).unwrap_or("");
            if value.is_empty() && spec.optional_numeric.contains(&col) {
                continue;
            }
            if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FormatError::at(path, line_no, spec.column(col), format!("'{value}' is not a numeric code")));
            }
        }
        records.push(Record { line: line_no, fields });
    }
    Ok(AsciiFile { path: path.to_path_buf(), spec, encoding, records })
}

/// Finds `name` in `dir` regardless of case (releases ship upper- or lower-case names).
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

/// Reads and parses one file of the release folder, `Ok(None)` when it is absent.
pub fn read_optional(dir: &Path, spec: FileSpec) -> Result<Option<AsciiFile>, FormatError> {
    let Some(path) = find_file(dir, spec.name) else { return Ok(None) };
    let bytes = std::fs::read(&path).map_err(|e| FormatError::file(&path, format!("cannot read: {e}")))?;
    let (text, encoding) = decode(&bytes);
    parse(&path, spec, &text, encoding).map(Some)
}

/// Reads a file the release cannot do without.
pub fn read_required(dir: &Path, spec: FileSpec) -> Result<AsciiFile, FormatError> {
    read_optional(dir, spec)?.ok_or_else(|| FormatError::file(&dir.join(spec.name), "mandatory file is missing from the release".to_string()))
}

/// Writes records in the distribution layout (each field followed by `$`), as MSSO does.
pub fn format_line(fields: &[&str]) -> String {
    let mut s = String::new();
    for f in fields {
        s.push_str(f);
        s.push('$');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(spec: FileSpec, text: &str) -> Result<AsciiFile, FormatError> {
        parse(Path::new("x/llt.asc"), spec, text, TextEncoding::Utf8)
    }

    #[test]
    fn parses_trailing_dollar_and_crlf() {
        let f = p(LLT, "10001111$Headache$10001111$$$$$$$Y$$\r\n10001112$Head pain$10001111$$$$$$$N$$\r\n").unwrap();
        assert_eq!(f.records.len(), 2);
        assert_eq!(f.records[1].get(1), "Head pain");
        assert_eq!(f.records[1].get(9), "N");
        assert_eq!(f.records[1].line, 2);
    }

    #[test]
    fn accepts_lines_without_trailing_dollar() {
        let f = p(HISTORY, "10001111$Example Headache$0.0$PT$Y$A").unwrap();
        assert_eq!(f.records[0].get(5), "A");
    }

    #[test]
    fn release_file_without_newline() {
        let f = p(RELEASE, "26.1$English$$$$").unwrap();
        assert_eq!(f.records[0].get(0), "26.1");
        assert_eq!(f.records[0].get(1), "English");
    }

    #[test]
    fn wrong_field_count_names_line() {
        let err = p(LLT, "10001111$Headache$10001111$$$$$$$Y$$\n10001112$Head pain$\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.to_string().contains("expected 10 to 11"), "{err}");
    }

    #[test]
    fn non_numeric_code_names_field() {
        let err = p(LLT, "1000A111$Headache$10001111$$$$$$$Y$$\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("llt_code"));
        assert_eq!(err.to_string(), "x/llt.asc, line 1, field llt_code: '1000A111' is not a numeric code");
    }

    #[test]
    fn names_may_contain_quotes() {
        let f = p(LLT, "10001111$\"Funny\" feeling, 'odd'$10001111$$$$$$$Y$$\n").unwrap();
        assert_eq!(f.records[0].get(1), "\"Funny\" feeling, 'odd'");
    }

    #[test]
    fn cp1252_fallback() {
        let bytes = b"10001111$Ur\xe9mie$10001111$$$$$$$Y$$\n";
        let (text, enc) = decode(bytes);
        assert_eq!(enc, TextEncoding::Windows1252);
        assert!(text.contains("Urémie"));
        let (text, enc) = decode("Urémie".as_bytes());
        assert_eq!(enc, TextEncoding::Utf8);
        assert_eq!(text, "Urémie");
    }

    #[test]
    fn empty_file_is_fine() {
        assert!(p(SMQ_LIST, "").unwrap().records.is_empty());
    }

    #[test]
    fn format_line_round_trips() {
        let line = format_line(&["1", "a", "", "Y"]);
        assert_eq!(line, "1$a$$Y$");
    }
}
