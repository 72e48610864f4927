//! The libtorch the process runs on: its version, where it was loaded from, and CUDA.
//!
//! The linker drops libtorch_cuda (nothing references its symbols), and without it loaded libtorch
//! reports no CUDA. Linking it hard would make the binary need the whole CUDA stack (cuBLAS,
//! cuDNN, ...) even on CPU machines, so it is dlopen'ed at start-up instead: on a GPU machine its
//! static initialisers register the CUDA backend; on a CPU machine the load fails and is ignored.

use std::path::PathBuf;
use std::sync::OnceLock;

pub const BUILT_AGAINST: &str = env!("MEDCODER_LIBTORCH_VERSION");

static CUDA_LOAD: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Directory of the libtorch_cpu.so mapped into this process.
pub fn loaded_libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| PathBuf::from(p).parent().map(PathBuf::from))
}

/// Loads libtorch_cuda beside the loaded libtorch_cpu, once. Ok(path) when it loaded.
pub fn init_cuda() -> &'static Result<PathBuf, String> {
    CUDA_LOAD.get_or_init(|| {
        // Touch libtorch so that it is mapped before we look for its directory.
        let _ = tch::utils::has_mkl();
        let dir = loaded_libtorch_dir().ok_or_else(|| "libtorch_cpu.so is not mapped".to_string())?;
        let path = dir.join("libtorch_cuda.so");
        if !path.exists() {
            return Err(format!("{} does not exist (CPU-only libtorch)", path.display()));
        }
        // SAFETY: loading a shared library runs its initialisers; libtorch_cuda's only register
        // the CUDA backend with the libtorch_cpu already loaded from the same directory.
        let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL;
        #[allow(unsafe_code)]
        match unsafe { libloading::os::unix::Library::open(Some(&path), flags) } {
            Ok(lib) => {
                // Kept loaded for the life of the process.
                std::mem::forget(lib);
                Ok(path)
            }
            Err(e) => Err(e.to_string()),
        }
    })
}

/// The device models run on: CUDA when available, else CPU.
pub fn device() -> tch::Device {
    let _ = init_cuda();
    tch::Device::cuda_if_available()
}

/// Why models do not run on CUDA, or None when they do.
pub fn cuda_off_reason() -> Option<String> {
    let load = init_cuda();
    if tch::Cuda::is_available() {
        return None;
    }
    Some(match load {
        Err(why) => format!("libtorch_cuda did not load: {why}"),
        Ok(path) => format!(
            "{} loaded but libtorch sees no CUDA device (NVIDIA driver missing or older than this CUDA build, or no device visible to this process: check CUDA_VISIBLE_DEVICES)",
            path.display()
        ),
    })
}

/// A warning for standard error when an NVIDIA GPU is visible but models will run on the CPU:
/// a training run that silently takes the CPU recipe costs hours.
pub fn gpu_unused_warning() -> Option<String> {
    let reason = cuda_off_reason()?;
    let visible = std::path::Path::new("/dev/nvidiactl").exists() || std::path::Path::new("/dev/nvidia0").exists();
    let names = gpu_names();
    if !visible && names.is_empty() {
        return None;
    }
    let which = if names.is_empty() { "an NVIDIA GPU".to_string() } else { names.join(", ") };
    Some(format!("warning: {which} is visible but CUDA is not used, models run on the CPU: {reason}. See `medcoder doctor`."))
}

/// GPU names from nvidia-smi, when it exists.
pub fn gpu_names() -> Vec<String> {
    std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
        .unwrap_or_default()
}
