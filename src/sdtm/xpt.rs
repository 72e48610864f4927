//! The layout of a SAS transport v5 file, read from its header records by hand: a check beside
//! the `xportrs` reader (which decodes the values), so that a truncated file, a second member or
//! text that is not UTF-8 is refused with the record and variable named, never read short or
//! with replacement characters, and so that every file medcoder writes is re-read by a second
//! reader before it is reported written.

use anyhow::{bail, Result};

const RECORD: usize = 80;
const NAMESTR: usize = 140;

/// One variable as its NAMESTR record describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub label: String,
    pub numeric: bool,
    pub length: usize,
    /// Byte offset within an observation.
    pub position: usize,
    /// The display format, as SAS writes it (`DATE9.`), when there is one.
    pub format: Option<String>,
}

/// What the header records say, and where the observations are.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub dataset: String,
    pub label: String,
    pub variables: Vec<Variable>,
    /// Where the observations start, and how many whole ones the file holds.
    pub data_start: usize,
    pub observations: usize,
}

fn header(bytes: &[u8], at: usize, kind: &str) -> bool {
    bytes.get(at..at + 48).is_some_and(|h| h.starts_with(b"HEADER RECORD*******") && h[20..].starts_with(kind.as_bytes()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

fn be16(b: &[u8]) -> usize {
    u16::from_be_bytes([b[0], b[1]]) as usize
}

/// Reads the header records of `bytes` and checks the observations: whole 80-byte records, one
/// member, character values in UTF-8. Errors name the record (observation) and variable.
pub fn layout(bytes: &[u8]) -> Result<Layout> {
    if !header(bytes, 0, "LIBRARY HEADER RECORD") {
        bail!("not a SAS transport (XPT v5) file: its first record is not the library header");
    }
    if header(bytes, 0, "LIBV8") {
        bail!("a SAS transport v8 file: medcoder reads version 5 (the FDA's format)");
    }
    let member = 3 * RECORD;
    if !header(bytes, member, "MEMBER  HEADER RECORD") {
        bail!("{}", cut_or(bytes, member, "the member header record is missing"));
    }
    let size: usize = text(&bytes[member + 74..member + 78]).trim().parse().unwrap_or(NAMESTR);
    if size != NAMESTR {
        bail!("NAMESTR records of {size} bytes: only the 140-byte records of SAS transport v5 are read");
    }
    let descriptor = member + 2 * RECORD;
    let namestr_header = descriptor + 2 * RECORD;
    if bytes.len() < namestr_header + RECORD || !header(bytes, namestr_header, "NAMESTR HEADER RECORD") {
        bail!("{}", cut_or(bytes, namestr_header, "the variable-description (NAMESTR) header record is missing"));
    }
    let dataset = text(&bytes[descriptor + 8..descriptor + 16]);
    let label = text(&bytes[descriptor + RECORD + 32..descriptor + RECORD + 72]);
    let count: usize = text(&bytes[namestr_header + 54..namestr_header + 58])
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("the NAMESTR header does not give the number of variables"))?;
    let first = namestr_header + RECORD;
    let mut variables = Vec::with_capacity(count);
    for i in 0..count {
        let at = first + i * NAMESTR;
        let Some(n) = bytes.get(at..at + NAMESTR) else {
            bail!("the file is cut short in the description of variable {} of {count}", i + 1);
        };
        let format = text(&n[56..64]);
        let (width, decimals) = (be16(&n[64..66]), be16(&n[66..68]));
        let numeric = match be16(&n[0..2]) {
            1 => true,
            2 => false,
            t => bail!("variable {} ({}): type {t} is neither numeric (1) nor character (2)", i + 1, text(&n[8..16])),
        };
        let v = Variable {
            name: text(&n[8..16]),
            label: text(&n[16..56]),
            numeric,
            length: be16(&n[4..6]),
            position: u32::from_be_bytes([n[84], n[85], n[86], n[87]]) as usize,
            format: (!format.is_empty()).then(|| {
                let w = if width > 0 { width.to_string() } else { String::new() };
                let d = if decimals > 0 { decimals.to_string() } else { String::new() };
                format!("{format}{w}.{d}")
            }),
        };
        if v.length == 0 || (v.numeric && !(2..=8).contains(&v.length)) || v.length > 200 {
            bail!("variable {} ({}): a length of {} bytes is not valid in SAS transport v5", i + 1, v.name, v.length);
        }
        variables.push(v);
    }
    let obs_header = (first + count * NAMESTR).div_ceil(RECORD) * RECORD;
    if !header(bytes, obs_header, "OBS     HEADER RECORD") {
        bail!("{}", cut_or(bytes, obs_header, "the observation header record is missing after the variable descriptions"));
    }
    let data_start = obs_header + RECORD;
    let obs_len: usize = variables.iter().map(|v| v.length).sum();
    if variables.iter().any(|v| v.position + v.length > obs_len) {
        bail!("the variable positions run past the observation length of {obs_len} bytes");
    }
    // A second member starts with its own member header, on an 80-byte boundary.
    let mut end = bytes.len();
    let mut at = data_start;
    while at + RECORD <= bytes.len() {
        if header(bytes, at, "MEMBER  HEADER RECORD") {
            end = at;
            break;
        }
        at += RECORD;
    }
    if end < bytes.len() {
        bail!("the file holds more than one dataset: SDTM delivers one domain per file");
    }
    if obs_len == 0 {
        bail!("the dataset has no variables");
    }
    let data = &bytes[data_start..];
    let mut observations = data.len() / obs_len;
    if !bytes.len().is_multiple_of(RECORD) {
        let done = data.len() / obs_len;
        let into = data.len() % obs_len;
        let var = variable_at(&variables, into);
        bail!(
            "the file is cut short: record {} ends after {into} of its {obs_len} bytes, inside variable {var} (the file is {} bytes, not whole 80-byte records)",
            done + 1,
            bytes.len()
        );
    }
    // The last 80-byte record is padded with spaces: whole blank observations there are padding.
    while observations > 0 {
        let start = (observations - 1) * obs_len;
        let in_padding = data.len() - start < RECORD;
        if in_padding && data[start..start + obs_len].iter().all(|&b| b == b' ') {
            observations -= 1;
        } else {
            break;
        }
    }
    let tail = &data[observations * obs_len..];
    if tail.len() >= RECORD || tail.iter().any(|&b| b != b' ') {
        let into = tail.len();
        let var = variable_at(&variables, into);
        bail!("the file ends inside record {}: {into} of its {obs_len} bytes are there, up to variable {var}", observations + 1);
    }
    for r in 0..observations {
        let obs = &data[r * obs_len..(r + 1) * obs_len];
        for v in variables.iter().filter(|v| !v.numeric) {
            let value = &obs[v.position..v.position + v.length];
            if let Err(e) = std::str::from_utf8(value) {
                let bad = value[e.valid_up_to()];
                bail!(
                    "record {}, variable {}: the text is not UTF-8 (byte 0x{bad:02X} at position {}): save the dataset as UTF-8 (SAS: ENCODING=UTF8) and import it again",
                    r + 1,
                    v.name,
                    e.valid_up_to() + 1
                );
            }
        }
    }
    Ok(Layout { dataset, label, variables, data_start, observations })
}

/// The text of a record's character variable, as the file holds it (trailing blanks dropped).
pub fn char_value(bytes: &[u8], layout: &Layout, record: usize, var: usize) -> Option<String> {
    let obs_len: usize = layout.variables.iter().map(|v| v.length).sum();
    let v = layout.variables.get(var).filter(|v| !v.numeric)?;
    let at = layout.data_start + record * obs_len + v.position;
    Some(text(bytes.get(at..at + v.length)?))
}

/// The name of the variable an observation's byte `offset` falls in.
fn variable_at(variables: &[Variable], offset: usize) -> &str {
    variables.iter().find(|v| offset >= v.position && offset < v.position + v.length).map_or("-", |v| v.name.as_str())
}

fn cut_or(bytes: &[u8], at: usize, otherwise: &str) -> String {
    if bytes.len() <= at {
        format!("the file is cut short in its header records ({} bytes)", bytes.len())
    } else {
        otherwise.to_string()
    }
}
