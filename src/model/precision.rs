//! Mixed precision: the forward pass under libtorch's per-device autocast (fp16 matrix products on
//! CUDA, bf16 on the CPU; softmax, norms and losses stay fp32).
//!
//! `tch::autocast` goes through the device-less `at::autocast::set_enabled`, deprecated since
//! libtorch 2.4: it logs a warning on every call, several lines per training step on CUDA, and it
//! is entered even when mixed precision is off. The per-device functions that replace it do not
//! warn; tch does not bind them, so they are looked up in the libtorch_cpu this process is linked
//! against, once.

use std::str::FromStr;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Result};
use tch::Device;

/// The arithmetic models run in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// fp32 throughout (the default; what accuracy figures were measured with unless they say).
    #[default]
    Fp32,
    /// Autocast: fp16 on CUDA, bf16 on the CPU.
    Half,
}

impl FromStr for Precision {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Precision> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "float" | "full" => Ok(Precision::Fp32),
            "half" | "fp16" | "bf16" | "mixed" => Ok(Precision::Half),
            other => bail!("unknown precision {other:?}: use fp32 or half"),
        }
    }
}

impl Precision {
    pub fn name(self, device: Device) -> &'static str {
        match (self, device.is_cuda()) {
            (Precision::Fp32, _) => "fp32",
            (Precision::Half, true) => "fp16 autocast",
            (Precision::Half, false) => "bf16 autocast",
        }
    }

    /// Fails when mixed precision is asked for but this libtorch lacks the autocast functions.
    pub fn check(self) -> Result<()> {
        if self == Precision::Half {
            api().map_err(|e| anyhow!("half precision is not available: {e}"))?;
        }
        Ok(())
    }
}

// c10::DeviceType and c10::ScalarType are `enum class : int8_t`.
const DEVICE_CPU: i8 = 0;
const DEVICE_CUDA: i8 = 1;
const SCALAR_HALF: i8 = 5;
const SCALAR_BFLOAT16: i8 = 15;

struct Api {
    is_enabled: extern "C" fn(i8) -> bool,
    set_enabled: extern "C" fn(i8, bool),
    get_dtype: extern "C" fn(i8) -> i8,
    set_dtype: extern "C" fn(i8, i8),
    increment_nesting: extern "C" fn() -> i32,
    decrement_nesting: extern "C" fn() -> i32,
    clear_cache: extern "C" fn(),
}

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(|| {
        let this = libloading::os::unix::Library::this();
        // SAFETY: the symbols are at::autocast functions of the libtorch this binary is linked
        // against (2.11, checked by the build); their C++ signatures take and return only the
        // int8 enums, bool and int declared here, which the C calling convention passes alike.
        #[allow(unsafe_code)]
        unsafe {
            macro_rules! sym {
                ($name:literal) => {
                    *this.get($name).map_err(|e| format!("{}: {e}", String::from_utf8_lossy(&$name[..$name.len() - 1])))?
                };
            }
            let api = Api {
                is_enabled: sym!(b"_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE\0"),
                set_enabled: sym!(b"_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb\0"),
                get_dtype: sym!(b"_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE\0"),
                set_dtype: sym!(b"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE\0"),
                increment_nesting: sym!(b"_ZN2at8autocast17increment_nestingEv\0"),
                decrement_nesting: sym!(b"_ZN2at8autocast17decrement_nestingEv\0"),
                clear_cache: sym!(b"_ZN2at8autocast11clear_cacheEv\0"),
            };
            std::mem::forget(this);
            Ok(api)
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Restores the previous autocast state of a device when dropped (also on a panic).
struct Guard {
    api: &'static Api,
    device: i8,
    was_enabled: bool,
    was_dtype: i8,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if (self.api.decrement_nesting)() == 0 {
            (self.api.clear_cache)();
        }
        (self.api.set_dtype)(self.device, self.was_dtype);
        (self.api.set_enabled)(self.device, self.was_enabled);
    }
}

/// Runs `f` under autocast on `device` when `precision` is `Half`; otherwise just runs it.
pub fn autocast<T>(device: Device, precision: Precision, f: impl FnOnce() -> T) -> T {
    let api = match (precision, api()) {
        (Precision::Half, Ok(api)) => api,
        // `check` reported a missing API when the precision was chosen.
        _ => return f(),
    };
    let (dev, dtype) = if device.is_cuda() { (DEVICE_CUDA, SCALAR_HALF) } else { (DEVICE_CPU, SCALAR_BFLOAT16) };
    let _guard = Guard { api, device: dev, was_enabled: (api.is_enabled)(dev), was_dtype: (api.get_dtype)(dev) };
    (api.set_dtype)(dev, dtype);
    (api.set_enabled)(dev, true);
    (api.increment_nesting)();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn half_runs_matrix_products_in_bf16_on_the_cpu_and_restores_fp32() {
        Precision::Half.check().unwrap();
        let a = Tensor::ones([2, 3], (Kind::Float, Device::Cpu));
        let b = Tensor::ones([3, 2], (Kind::Float, Device::Cpu));
        let inside = autocast(Device::Cpu, Precision::Half, || a.matmul(&b).kind());
        assert_eq!(inside, Kind::BFloat16);
        assert_eq!(a.matmul(&b).kind(), Kind::Float, "autocast left on after the closure");
        assert_eq!(autocast(Device::Cpu, Precision::Fp32, || a.matmul(&b).kind()), Kind::Float);
    }

    #[test]
    fn autocast_state_is_restored_after_a_panic() {
        let a = Tensor::ones([2, 2], (Kind::Float, Device::Cpu));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| autocast(Device::Cpu, Precision::Half, || panic!("boom"))));
        assert!(r.is_err());
        assert_eq!(a.matmul(&a).kind(), Kind::Float);
    }

    #[test]
    fn precision_parses_its_names() {
        assert_eq!("fp32".parse::<Precision>().unwrap(), Precision::Fp32);
        assert_eq!("HALF".parse::<Precision>().unwrap(), Precision::Half);
        assert!("int8".parse::<Precision>().is_err());
    }
}
