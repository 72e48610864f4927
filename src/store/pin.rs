//! One database file per process (issue #19): the acting user is resolved on a connection, and the
//! command acts on that same connection; every further open of the path must reach the same file
//! (device and inode of what SQLite actually opened, read from /proc/self/fd), so swapping a
//! symlink or a folder between the identity check and the action gains nothing.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};

use super::Store;

struct Pinned {
    path: PathBuf,
    file: (u64, u64),
    adopted: Option<Store>,
}

static PINNED: Mutex<Option<Pinned>> = Mutex::new(None);

/// The file descriptors open now, with the file each names (to tell which ones an open added, even
/// when another thread closed a descriptor and the open got its number).
pub fn open_files() -> OpenFiles {
    let fds =
        std::fs::read_dir("/proc/self/fd").map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect()).unwrap_or_else(|_| Vec::new());
    OpenFiles(fds.into_iter().map(|fd: i32| (fd, std::fs::metadata(format!("/proc/self/fd/{fd}")).ok().map(|m| (m.dev(), m.ino())))).collect())
}

/// A snapshot of the process's descriptors (see `open_files`).
pub struct OpenFiles(HashMap<i32, Option<(u64, u64)>>);

/// (device, inode) of the regular files opened since `before`, SQLite's side files left out.
fn opened_since(before: &OpenFiles) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (fd, file) in open_files().0 {
        if before.0.get(&fd) == Some(&file) {
            continue;
        }
        let link = PathBuf::from(format!("/proc/self/fd/{fd}"));
        let target = std::fs::read_link(&link).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
        if ["-wal", "-shm", "-journal"].iter().any(|s| target.ends_with(s)) {
            continue;
        }
        if let Some(m) = std::fs::metadata(&link).ok().filter(|m| m.is_file()) {
            out.push((m.dev(), m.ino()));
        }
    }
    out
}

fn stat(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The file `path` names now, when it is one an open since `before` reached: among the files the
/// open added (other threads may have opened files meanwhile), or any when it added none (SQLite
/// reused a descriptor it held). None when the path names something else, or nothing.
fn reached(path: &Path, before: &OpenFiles) -> Option<(u64, u64)> {
    let opened = opened_since(before);
    stat(path).filter(|f| opened.is_empty() || opened.contains(f))
}

pub(super) fn adopt(store: Store, before: &OpenFiles) -> Result<()> {
    let Some(file) = reached(store.path(), before) else {
        bail!("{}: the database file was replaced while it was opened; nothing was done", store.path().display())
    };
    let path = store.path().to_path_buf();
    *PINNED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Pinned { path, file, adopted: Some(store) });
    Ok(())
}

pub(super) fn take_adopted(path: &Path) -> Option<Store> {
    let mut pinned = PINNED.lock().unwrap_or_else(|e| e.into_inner());
    pinned.as_mut().filter(|p| p.path == path).and_then(|p| p.adopted.take())
}

/// After an open of `path`: when the process is pinned to that path, the file SQLite opened must
/// be the pinned one.
pub(super) fn check(path: &Path, before: &OpenFiles) -> Result<()> {
    let pinned = PINNED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(p) = pinned.as_ref().filter(|p| p.path == path) else { return Ok(()) };
    if reached(path, before) != Some(p.file) {
        bail!("{}: the database file is not the one this command started on (replaced or moved meanwhile); nothing was done", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_acts_on_the_connection_identity_was_resolved_on_and_a_swapped_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (real, fake) = (dir.path().join("real.db"), dir.path().join("fake.db"));
        Store::open(&real).unwrap().set_setting("who", "real").unwrap();
        Store::open(&fake).unwrap().set_setting("who", "fake").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let before = open_files();
        let first = Store::open(&link).unwrap();
        first.adopt(&before).unwrap();
        // The symlink now points elsewhere: the adopted connection is still the file checked.
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&fake, &link).unwrap();
        let adopted = Store::open(&link).unwrap();
        assert_eq!(adopted.setting("who").unwrap().as_deref(), Some("real"));
        // A second open reaches the other file: refused.
        let err = Store::open(&link).err().expect("a swapped file is refused").to_string();
        assert!(err.contains("not the one this command started on"), "{err}");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(Store::open(&link).unwrap().setting("who").unwrap().as_deref(), Some("real"));
    }
}
