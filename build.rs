// Embeds a runpath to the libtorch that scripts/setup installed, so the binary runs without
// LD_LIBRARY_PATH. RUNPATH (new dtags) rather than RPATH so that LD_LIBRARY_PATH can still point a
// copied binary at another libtorch (e.g. the CUDA build on a GPU machine).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&dir).join("lib");
        let lib = lib.canonicalize().unwrap_or(lib);
        println!("cargo:rustc-link-arg=-Wl,--enable-new-dtags");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
