//! The bundled demo data is what the README promises and agrees with its source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use medcoder::meddra::{outline, Dictionary, Release};

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

#[test]
fn committed_ascii_files_match_the_outline() {
    let text = std::fs::read_to_string(demo().join("outline.txt")).unwrap();
    let compiled = outline::compile(Path::new("outline.txt"), &text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    medcoder::meddra::synth::write_ascii(&compiled, tmp.path()).unwrap();
    for e in std::fs::read_dir(tmp.path().join("MedAscii")).unwrap() {
        let e = e.unwrap();
        let want = std::fs::read_to_string(e.path()).unwrap();
        let have = std::fs::read_to_string(demo().join("MedAscii").join(e.file_name())).unwrap_or_default();
        assert!(
            want == have,
            "assets/demo/MedAscii/{} is stale: run `medcoder dict build-outline assets/demo/outline.txt assets/demo`",
            e.file_name().to_string_lossy()
        );
    }
}

#[test]
fn demo_dictionary_has_the_promised_shape() {
    let (rel, _) = Release::read(&demo()).unwrap();
    let d = Dictionary::new(&rel);
    assert!(d.llts.len() >= 400 && d.pts.len() >= 150 && d.socs.len() >= 15, "{} LLTs {} PTs {} SOCs", d.llts.len(), d.pts.len(), d.socs.len());
    assert!(!d.hlts.is_empty() && !d.hlgts.is_empty());
    assert!(d.multi_axial_pt_count() >= 5);
    assert!(d.llts.iter().filter(|l| !l.current).count() >= 5);
    // Outside MedDRA's code ranges.
    assert!(d.llts.iter().all(|l| (71_000_000..80_000_000).contains(&l.code)));
    assert!(d.socs.iter().all(|s| (71_000_000..80_000_000).contains(&s.code)));
}

#[test]
fn demo_queue_labels_are_current_demo_llts() {
    let (rel, _) = Release::read(&demo()).unwrap();
    let by_code: HashMap<u32, _> = rel.llts.iter().map(|l| (l.code, l)).collect();
    let mut r = csv::Reader::from_path(demo().join("queue.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (term, code, name, id) = (col("reported_term"), col("expected_llt_code"), col("expected_llt_name"), col("id"));
    let mut ids = std::collections::HashSet::new();
    let mut n = 0;
    for row in r.records() {
        let row = row.unwrap();
        n += 1;
        assert!(!row[term].trim().is_empty());
        assert!(ids.insert(row[id].to_string()), "duplicate id {}", &row[id]);
        let llt = by_code.get(&row[code].parse::<u32>().unwrap()).unwrap_or_else(|| panic!("unknown code in {row:?}"));
        assert_eq!(llt.name, &row[name]);
        assert!(llt.current, "{} is non-current", llt.name);
    }
    assert!(n >= 100, "{n} queue items");
}
