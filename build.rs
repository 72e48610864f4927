// Embeds a runpath to the libtorch that scripts/setup installed, so the binary runs without
// LD_LIBRARY_PATH. RUNPATH (new dtags) rather than RPATH so that LD_LIBRARY_PATH can still point a
// copied binary at another libtorch (e.g. the CUDA build on a GPU machine).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=MEDCODER_LINK_TORCH_CUDA");
    let mut version = "unknown".to_string();
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let root = std::path::Path::new(&dir);
        let lib = root.join("lib");
        let lib = lib.canonicalize().unwrap_or(lib);
        println!("cargo:rustc-link-arg=-Wl,--enable-new-dtags");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
        // The wheel's version.py: `__version__ = '2.11.0+cu130'`.
        if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
            if let Some(v) = text.lines().find_map(|l| l.strip_prefix("__version__ = ")) {
                version = v.trim().trim_matches('\'').trim_matches('"').to_string();
            }
        }
        // Opt-in hard link against libtorch_cuda for machines that have the full CUDA stack at
        // build time; by default the binary dlopens it at start-up (src/torch_env.rs) so one build
        // runs on CPU-only machines too.
        if std::env::var("MEDCODER_LINK_TORCH_CUDA").is_ok_and(|v| v == "1") && lib.join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-ltorch_cuda");
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
        }
    }
    println!("cargo:rustc-env=MEDCODER_LIBTORCH_VERSION={version}");
}
