//! `medcoder dict ...` end to end: imports (good and bad), versions, search, show, diff.

mod common;
use common::*;
use std::fs;

fn replace_line(path: &std::path::Path, pred: impl Fn(&str) -> bool, new: &str) {
    let text = fs::read_to_string(path).unwrap();
    let mut done = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && pred(l) {
                done = true;
                new.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(done, "no line matched in {}", path.display());
    fs::write(path, out.join("\n") + "\n").unwrap();
}

fn line_of(path: &std::path::Path, pred: impl Fn(&str) -> bool) -> String {
    fs::read_to_string(path).unwrap().lines().find(|l| pred(l)).unwrap().to_string()
}

#[test]
fn demo_imports_and_is_searchable() {
    let env = Env::new();
    let out = env.ok(&["dict", "import", s(&demo_dir())]);
    assert!(out.contains("Imported MedDRA DEMO-1.0"), "{out}");
    assert!(out.contains("877 LLTs (12 non-current)"), "{out}");
    let out = env.ok(&["dict", "versions"]);
    assert!(out.starts_with("* DEMO-1.0"), "{out}");

    let out = env.ok(&["dict", "search", "leg", "pain", "unilateral"]);
    let first = out.lines().nth(1).unwrap();
    assert!(first.contains("Unilateral leg pain") && first.contains("Pain in extremity") && first.contains("Musculoskeletal"), "{out}");
    let out = env.ok(&["dict", "search", "hedache"]);
    assert!(out.lines().nth(1).unwrap().contains("Headache"), "{out}");
    // Non-current LLTs are found, marked, and listed after current ones.
    let out = env.ok(&["dict", "search", "cephalgia"]);
    assert!(out.contains("Cephalgia [non-current]"), "{out}");
    let (ok, out, _) = env.run(&["dict", "search", "qqqzzzx"]);
    assert!(!ok && out.contains("No LLT matches"), "{out}");
}

#[test]
fn show_prints_every_path_of_a_multi_axial_pt() {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    let code = line_of(&demo_dir().join("MedAscii/llt.asc"), |l| l.split('$').nth(1) == Some("Shingles"));
    let code = code.split('$').next().unwrap();
    let out = env.ok(&["dict", "show", code]);
    assert!(out.contains("LLT  ") && out.contains("Shingles"), "{out}");
    assert!(out.contains("PT   ") && out.contains("Herpes zoster"), "{out}");
    assert!(out.contains("primary path:") && out.contains("SOC  ") && out.contains("Infections and infestations"), "{out}");
    assert!(out.contains("secondary path:") && out.contains("Skin and subcutaneous tissue disorders"), "{out}");
    let pos_primary = out.find("primary path").unwrap();
    assert!(pos_primary < out.find("secondary path").unwrap(), "primary path first:\n{out}");
    let err = env.fails(&["dict", "show", "1"]);
    assert!(err.contains("neither an LLT nor a PT code"), "{err}");
}

#[test]
fn bad_files_name_file_line_and_field_and_import_nothing() {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    let before = env.ok(&["dict", "versions"]);
    let tmp = tempfile::tempdir().unwrap();
    let fresh = |tag: &str| {
        let d = tmp.path().join(tag);
        let m = copy_demo(&d);
        fs::write(m.join("meddra_release.asc"), "BAD-1$English$$$$").unwrap();
        (d, m)
    };

    let (d, m) = fresh("numeric");
    let llt = m.join("llt.asc");
    let third = fs::read_to_string(&llt).unwrap().lines().nth(2).unwrap().to_string();
    replace_line(&llt, |l| l == third, &third.replacen('$', "x$", 1));
    let err = env.fails(&["dict", "import", s(&d)]);
    assert!(err.contains("llt.asc, line 3, field llt_code") && err.contains("not a numeric code"), "{err}");

    let (d, m) = fresh("fields");
    let pt = m.join("pt.asc");
    let first = fs::read_to_string(&pt).unwrap().lines().next().unwrap().to_string();
    replace_line(&pt, |l| l == first, "75000001$Too few$");
    let err = env.fails(&["dict", "import", s(&d)]);
    assert!(err.contains("pt.asc, line 1") && err.contains("`$`-separated fields, found 2"), "{err}");

    let (d, m) = fresh("orphan");
    let mut text = fs::read_to_string(m.join("llt.asc")).unwrap();
    text.push_str("79999999$Orphan term$70000000$$$$$$$Y$$\n");
    fs::write(m.join("llt.asc"), text).unwrap();
    let err = env.fails(&["dict", "import", s(&d)]);
    assert!(err.contains("llt.asc, line 878, field pt_code") && err.contains("not in pt.asc"), "{err}");

    let (d, m) = fresh("primary");
    let mdhier = m.join("mdhier.asc");
    let first = fs::read_to_string(&mdhier).unwrap().lines().next().unwrap().to_string();
    let pt_code = first.split('$').next().unwrap().to_string();
    let rest: String = fs::read_to_string(&mdhier).unwrap().lines().filter(|l| !l.starts_with(&format!("{pt_code}$"))).map(|l| format!("{l}\n")).collect();
    fs::write(&mdhier, rest).unwrap();
    let err = env.fails(&["dict", "import", s(&d)]);
    assert!(err.contains("pt.asc") && err.contains("field pt_code") && err.contains("no primary SOC path"), "{err}");

    let (d, m) = fresh("missing");
    fs::remove_file(m.join("hlgt_hlt.asc")).unwrap();
    let err = env.fails(&["dict", "import", s(&d)]);
    assert!(err.contains("hlgt_hlt.asc: mandatory file is missing"), "{err}");

    let err = env.fails(&["dict", "import", s(tmp.path())]);
    assert!(err.contains("not a MedDRA ASCII release"), "{err}");

    assert_eq!(env.ok(&["dict", "versions"]), before, "failed imports left the store as it was");
    let err = env.fails(&["dict", "import", s(&demo_dir())]);
    assert!(err.contains("already loaded") && err.contains("--replace"), "{err}");
    env.ok(&["dict", "import", "--replace", s(&demo_dir())]);
}

#[test]
fn upper_case_names_crlf_and_cp1252() {
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let m = copy_demo(tmp.path());
    let upper = tmp.path().join("MEDASCII");
    fs::create_dir(&upper).unwrap();
    for e in fs::read_dir(&m).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_uppercase();
        let text = fs::read_to_string(e.path()).unwrap().replace('\n', "\r\n");
        let mut bytes = text.into_bytes();
        if name == "LLT.ASC" {
            // An LLT name with é written in cp1252 (0xE9), as older releases are.
            bytes.extend_from_slice(b"79999998$Ur\xe9mie$");
            let pt = fs::read_to_string(m.join("pt.asc")).unwrap();
            bytes.extend_from_slice(pt.split('$').next().unwrap().as_bytes());
            bytes.extend_from_slice(b"$$$$$$$Y$$\r\n");
        }
        fs::write(upper.join(name), bytes).unwrap();
    }
    fs::remove_dir_all(&m).unwrap();
    let out = env.ok(&["dict", "import", s(tmp.path())]);
    assert!(out.contains("878 LLTs") && out.contains("read as cp1252 (not UTF-8): llt.asc"), "{out}");
    let out = env.ok(&["dict", "search", "urémie"]);
    assert!(out.contains("Urémie"), "{out}");
}

#[test]
fn diff_reports_what_a_coding_team_reviews_at_an_upgrade() {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    let tmp = tempfile::tempdir().unwrap();
    let m = copy_demo(tmp.path());
    fs::write(m.join("meddra_release.asc"), "DEMO-2.0$English$$$$").unwrap();
    let llt = m.join("llt.asc");
    let code_of = |name: &str| line_of(&llt, |l| l.split('$').nth(1) == Some(name)).split('$').next().unwrap().to_string();
    let nausea_pt = code_of("Nausea");
    // Made non-current.
    let line = line_of(&llt, |l| l.split('$').nth(1) == Some("Queasy"));
    replace_line(&llt, |l| l == line, &line.replace("$Y$", "$N$"));
    // Moved to another PT.
    let line = line_of(&llt, |l| l.split('$').nth(1) == Some("Retching"));
    let f: Vec<&str> = line.split('$').collect();
    let moved = format!("{}$Dry heaves${}$$$$$$$Y$$", code_of("Dry heaves"), nausea_pt);
    let _ = f;
    let dry = line_of(&llt, |l| l.split('$').nth(1) == Some("Dry heaves"));
    replace_line(&llt, |l| l == dry, &moved);
    // New LLT.
    let mut text = fs::read_to_string(&llt).unwrap();
    text.push_str(&format!("79999997$Sick to stomach${nausea_pt}$$$$$$$Y$$\n"));
    fs::write(&llt, text).unwrap();
    // Primary SOC of a multi-axial PT swapped: Herpes zoster becomes primary under Skin.
    let hz = code_of("Herpes zoster");
    let mdhier = m.join("mdhier.asc");
    let text: String = fs::read_to_string(&mdhier)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{hz}$")) {
                if l.ends_with("$Y$") {
                    l.replace("$Y$", "$N$")
                } else {
                    l.replace("$N$", "$Y$")
                }
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    fs::write(&mdhier, text).unwrap();
    env.ok(&["dict", "import", s(tmp.path())]);

    let out = env.ok(&["dict", "diff", "DEMO-1.0", "DEMO-2.0"]);
    assert!(out.contains("New LLTs: 1") && out.contains("Sick to stomach"), "{out}");
    assert!(out.contains("LLTs made non-current: 1") && out.contains("Queasy"), "{out}");
    assert!(out.contains("LLTs moved to another PT: 1") && out.contains("Dry heaves  Retching") && out.contains("-> Nausea"), "{out}");
    assert!(out.contains("PTs whose primary SOC changed: 1") && out.contains("Herpes zoster  Infections and infestations"), "{out}");
    let json = env.ok(&["dict", "diff", "DEMO-1.0", "DEMO-2.0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["new_llts"].as_array().unwrap().len(), 1);

    env.ok(&["dict", "use", "DEMO-2.0"]);
    assert!(env.ok(&["dict", "versions"]).contains("* DEMO-2.0"));
    let err = env.fails(&["dict", "use", "9.9"]);
    assert!(err.contains("not loaded"), "{err}");
}

#[test]
fn open_subset_and_format_example_import() {
    let Some(data) = shared_data() else { return };
    let env = Env::new();
    let out = env.ok(&["dict", "import", s(&data.join("open-meddra"))]);
    assert!(out.contains("Imported MedDRA 0.1") && out.contains("3647 LLTs") && out.contains("2424 PTs"), "{out}");
    let out = env.ok(&["dict", "import", s(&data.join("meddra-ascii-format-example"))]);
    assert!(out.contains("1 SMQs (1 terms), 2 history rows"), "{out}");
    let out = env.ok(&["dict", "search", "alt", "increased"]);
    assert!(out.lines().nth(1).unwrap().contains("ALT increased"), "{out}");
}

#[test]
fn generated_release_imports() {
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    env.ok(&["dict", "generate", s(tmp.path()), "--llts", "3000", "--version", "SYN-9"]);
    let out = env.ok(&["dict", "import", s(tmp.path())]);
    assert!(out.contains("3000 LLTs"), "{out}");
}

#[test]
fn doctor_reports_versions_and_dictionary() {
    let env = Env::new();
    let (ok, out, _) = env.run(&["doctor"]);
    assert!(!ok && out.contains("none loaded"), "{out}");
    env.ok(&["dict", "import", s(&demo_dir())]);
    let out = env.ok(&["doctor"]);
    for want in [
        "medcoder        0.1.0",
        "libtorch        2.11.0",
        "CUDA            not available",
        "dictionary      MedDRA DEMO-1.0",
        "base encoder    ",
        "model           no model trained for MedDRA DEMO-1.0",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // Without CUDA (CI has no GPU) doctor says why, not only that (issue #13).
    let cuda = out.lines().find(|l| l.starts_with("CUDA")).unwrap();
    let why = cuda.split_once("models run on the CPU: ").map(|(_, w)| w).unwrap_or_default();
    assert!(why.contains("libtorch_cuda") && why.len() > 30, "{cuda}");
}

/// `medcoder ... | head` ends quietly when the reader goes away, instead of panicking.
#[test]
fn closed_output_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader, Read};
    let env = Env::new();
    let rel = env.dir.path().join("syn");
    env.ok(&["dict", "generate", s(&rel), "--llts", "20000"]);
    env.ok(&["dict", "import", s(&rel)]);
    let mut child =
        env.cmd(&["dict", "search", "a", "--limit", "20000"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(!first.is_empty());
    // The reader is gone now (stdout dropped) while the search still has megabytes to print.
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
}

/// An empty release and an oversized field are refused with file, line and field, and nothing is
/// stored (issue #11: both were imported and activated).
#[test]
fn implausible_releases_are_refused() {
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_demo(tmp.path());
    fs::write(dir.join("llt.asc"), "").unwrap();
    let err = env.fails(&["dict", "import", s(&dir), "--activate"]);
    assert!(err.contains("llt.asc") && err.contains("no current LLTs"), "{err}");
    let dir = copy_demo(&tmp.path().join("b"));
    fs::write(dir.join("pt.asc"), "\n").unwrap();
    let err = env.fails(&["dict", "import", s(&dir)]);
    assert!(err.contains("pt.asc") && err.contains("no PTs"), "{err}");
    let dir = copy_demo(&tmp.path().join("c"));
    let llt = fs::read_to_string(dir.join("llt.asc")).unwrap();
    let mut lines: Vec<String> = llt.lines().map(str::to_string).collect();
    let mut f: Vec<String> = lines[2].split('$').map(str::to_string).collect();
    f[1] = "x".repeat(5_000);
    lines[2] = f.join("$");
    fs::write(dir.join("llt.asc"), lines.join("\n")).unwrap();
    let err = env.fails(&["dict", "import", s(&dir)]);
    assert!(err.contains("llt.asc, line 3, field llt_name: 5000 characters"), "{err}");
    let out = env.ok(&["dict", "versions"]);
    assert!(!out.contains("DEMO-1.0"), "nothing was stored: {out}");
}

/// Importing and switching releases changes what every coder works with: admins only (once users
/// exist), logged, and `import --activate` is one transaction with its log rows (issue #11).
#[test]
fn dictionary_changes_are_admin_only_and_logged() {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.add_users(&[("alice", "coder")]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_demo(tmp.path());
    let rel = fs::read_to_string(dir.join("meddra_release.asc")).unwrap().replace("DEMO-1.0", "DEMO-2.0");
    fs::write(dir.join("meddra_release.asc"), rel).unwrap();
    let err = env.fails(&["--user", "alice", "dict", "import", s(&dir), "--activate"]);
    assert!(err.contains("alice is a coder; only an admin imports MedDRA releases"), "{err}");
    assert!(!env.ok(&["dict", "versions"]).contains("DEMO-2.0"));
    env.ok(&["--user", "admin", "dict", "import", s(&dir), "--activate"]);
    let err = env.fails(&["--user", "alice", "dict", "use", "DEMO-1.0"]);
    assert!(err.contains("only an admin switches the MedDRA version"), "{err}");
    let log = env.ok(&["audit", "log", "--json"]);
    let rows: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let imp = rows.iter().find(|r| r["action"] == "dict-import" && r["meddra_version"] == "DEMO-2.0").expect("import logged");
    let act = rows.iter().find(|r| r["action"] == "dict-use" && r["meddra_version"] == "DEMO-2.0").expect("activation logged");
    assert_eq!((imp["user"].as_str(), act["user"].as_str()), (Some("admin"), Some("admin")));
    assert_eq!(act["seq"].as_i64().unwrap(), imp["seq"].as_i64().unwrap() + 1, "one transaction: nothing between them");
    // Switching behind medcoder's back is found.
    assert!(env.run(&["audit", "verify"]).0);
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute("UPDATE setting SET value = 'DEMO-1.0' WHERE key = 'active_release'", []).unwrap();
    drop(c);
    let (ok, out, _) = env.run(&["audit", "verify"]);
    assert!(!ok && out.contains("the active MedDRA version is DEMO-1.0, the log says DEMO-2.0"), "{out}");
}

/// A database whose file and folder the OS account cannot write is still readable, and a write
/// names the file and what to do; a file that is not a database is named (issue #11). As root
/// (CI) the commands run as `nobody` through setpriv, since root writes through any permission.
#[test]
fn read_only_databases_are_read_and_writes_say_why() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.ok(&["dict", "search", "headache"]);
    let dir = env.dir.path();
    let root = medcoder::identity::os_login().unwrap() == "root";
    if root && std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: running as root without setpriv");
        return;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(if root { 0o755 } else { 0o555 })).unwrap();
    fs::set_permissions(env.db(), fs::Permissions::from_mode(0o444)).unwrap();
    let as_reader = |args: &[&str]| {
        let mut c = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_medcoder")]);
            c
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_medcoder"))
        };
        c.args(args).env("MEDCODER_DB", env.db()).env("MEDCODER_HOME", "/tmp").env_remove("MEDCODER_USER");
        let o = c.output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (ok, out, err) = as_reader(&["dict", "search", "headache"]);
    assert!(ok && out.contains("Headache"), "reading works: {out}{err}");
    let (ok, out, err) = as_reader(&["user", "add", "x", "--role", "admin"]);
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!ok, "{out}");
    assert!(err.contains(&format!("{} can only be read", env.db().display())) && err.contains("not writable"), "{err}");
    // Not a database at all: the file is named.
    let junk = dir.join("junk.db");
    fs::write(&junk, "this is not sqlite, just text that is long enough to look like a header......").unwrap();
    let (ok, _, err) = env.run(&["--db", s(&junk), "dict", "versions"]);
    assert!(!ok && err.contains("junk.db is not a medcoder database"), "{err}");
}

/// Control characters in a release (e.g. an escape sequence in the language field) are refused
/// with file, line and field, before anything is stored.
#[test]
fn control_characters_in_a_release_are_refused() {
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_demo(tmp.path());
    fs::write(dir.join("meddra_release.asc"), "DEMO-9.0$\u{1b}[31mEnglish$$$$\n").unwrap();
    let err = env.fails(&["dict", "import", s(&dir)]);
    assert!(err.contains("meddra_release.asc, line 1, field language: contains the control character U+001B") && !err.contains('\u{1b}'), "{err:?}");
}
