//! Backend selection: `--backend cpu|wgpu|cuda|auto` onto one generic code path.
//!
//! Rust cannot pass a generic function as a value, so work that must run on
//! "whichever backend was chosen" implements [`BackendJob`], and [`dispatch`]
//! instantiates its `run::<B>` for the chosen backend.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::OnceLock;

use burn::backend::wgpu::{graphics::AutoGraphicsApi, init_setup, RuntimeOptions, WgpuDevice};
use burn::backend::{Autodiff, Flex, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// burn's pure-Rust CPU backend (multi-threaded gemm through rayon).
pub type CpuBackend = Autodiff<Flex>;
/// Any Vulkan/Metal/DX12 GPU, or Mesa's software Vulkan (lavapipe).
pub type WgpuBackend = Autodiff<Wgpu>;
/// NVIDIA GPUs through CUDA, loaded at run time (cargo feature `cuda`).
#[cfg(feature = "cuda")]
pub type CudaBackend = Autodiff<burn::backend::Cuda>;
/// burn's other CPU backend, built only to benchmark it against flex (cargo
/// feature `ndarray`; `tests/train_bench.rs`): flex trains faster here, so
/// `--backend cpu` is flex.
#[cfg(feature = "ndarray")]
pub type NdArrayBackend = Autodiff<burn::backend::NdArray>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Cpu,
    Wgpu,
    Cuda,
    /// CUDA when compiled in and a device answers, otherwise CPU.
    Auto,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
            BackendKind::Auto => "auto",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            BackendKind::Cpu,
            BackendKind::Wgpu,
            BackendKind::Cuda,
            BackendKind::Auto,
        ]
        .into_iter()
        .find(|kind| kind.name() == s)
        .ok_or_else(|| BackendError::Unknown(s.to_string()))
    }
}

/// What ran a computation, for the run record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The backend that ran: `cpu`, `wgpu` or `cuda` (never `auto`).
    pub backend: BackendKind,
    /// CPU model, GPU adapter name, or CUDA device.
    pub device_name: String,
    /// Thread count (CPU), driver and graphics API (wgpu), driver version (CUDA).
    pub driver: String,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BackendError {
    #[error("unknown backend `{0}` (expected cpu, wgpu, cuda or auto)")]
    Unknown(String),
    #[error("this build has no CUDA support: rebuild with `--features cuda`")]
    CudaNotCompiled,
    #[error("the {kind} backend is not available here: {reason}")]
    Unavailable { kind: BackendKind, reason: String },
}

/// Work generic over the training backend.
pub trait BackendJob {
    type Output;
    fn run<B: AutodiffBackend>(self, device: &B::Device, info: &DeviceInfo) -> Self::Output;
}

/// Runs `job` on the backend `kind` names (resolving `auto`).
pub fn dispatch<J: BackendJob>(kind: BackendKind, job: J) -> Result<J::Output, BackendError> {
    match resolve(kind)? {
        BackendKind::Wgpu => {
            let info = wgpu_info()?;
            Ok(job.run::<WgpuBackend>(&WgpuDevice::DefaultDevice, &info))
        }
        BackendKind::Cuda => run_cuda(job),
        _ => Ok(job.run::<CpuBackend>(&Default::default(), &cpu_info())),
    }
}

/// The concrete backend `kind` stands for here.
pub fn resolve(kind: BackendKind) -> Result<BackendKind, BackendError> {
    match kind {
        BackendKind::Auto if cuda_info().is_ok() => Ok(BackendKind::Cuda),
        BackendKind::Auto => Ok(BackendKind::Cpu),
        other => Ok(other),
    }
}

/// Describes the device `kind` would run on, initialising it if needed.
pub fn describe(kind: BackendKind) -> Result<DeviceInfo, BackendError> {
    match resolve(kind)? {
        BackendKind::Wgpu => wgpu_info(),
        BackendKind::Cuda => cuda_info(),
        _ => Ok(cpu_info()),
    }
}

/// The CPU backend as patched (`patches/`): conv2d's forward pass and
/// gradients are oodcal's own since issue 17, and sum in another order than
/// burn-flex's; GELU's erf is a polynomial instead of libm's. A record says
/// which kernels made it, so `verify` never holds runs of two engines to the
/// exact tolerance.
const CPU_ENGINE: &str = "burn-flex 0.21.0 + oodcal conv2d, gelu";

/// CPU model from /proc/cpuinfo with the SIMD instructions the kernels may
/// use, and the size of the thread pool flex computes on.
pub fn cpu_info() -> DeviceInfo {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    DeviceInfo {
        backend: BackendKind::Cpu,
        device_name: format!("{model} ({})", simd_features()),
        driver: format!("{CPU_ENGINE}, {} threads", rayon::current_num_threads()),
    }
}

/// The vector instruction sets burn-flex's kernels (gemm, macerator) choose
/// between at run time. Two CPUs that differ here compute different bits
/// (another summation order), and a virtual machine's model name alone may
/// not tell them apart ("AMD EPYC" with and without AVX-512 was seen here).
fn simd_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let detected = [
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx512bw", std::arch::is_x86_feature_detected!("avx512bw")),
            ("avx512vl", std::arch::is_x86_feature_detected!("avx512vl")),
        ];
        let names: Vec<&str> = detected.iter().filter(|f| f.1).map(|f| f.0).collect();
        match names.is_empty() {
            true => "x86-64, no AVX2".to_string(),
            false => names.join(" "),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_string()
    }
}

/// [`cpu_info`] for the ndarray backend.
#[cfg(feature = "ndarray")]
pub fn ndarray_info() -> DeviceInfo {
    DeviceInfo {
        driver: format!(
            "burn-ndarray 0.21.0, {} threads",
            rayon::current_num_threads()
        ),
        ..cpu_info()
    }
}

/// Initialises the default wgpu device once and reports its adapter.
///
/// wgpu panics when no adapter exists; that becomes an error here. The result is
/// cached because cubecl lets a device be set up only once per process.
pub fn wgpu_info() -> Result<DeviceInfo, BackendError> {
    static INFO: OnceLock<Result<DeviceInfo, BackendError>> = OnceLock::new();
    INFO.get_or_init(|| {
        let setup = catch_unwind(AssertUnwindSafe(|| {
            init_setup::<AutoGraphicsApi>(&WgpuDevice::DefaultDevice, RuntimeOptions::default())
        }));
        let setup = setup.map_err(|panic| BackendError::Unavailable {
            kind: BackendKind::Wgpu,
            reason: panic_message(panic.as_ref()),
        })?;
        let adapter = setup.adapter.get_info();
        Ok(DeviceInfo {
            backend: BackendKind::Wgpu,
            device_name: adapter.name.clone(),
            driver: format!(
                "{} {} ({:?})",
                adapter.driver, adapter.driver_info, adapter.backend
            ),
        })
    })
    .clone()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "initialisation panicked".to_string(),
    }
}

#[cfg(feature = "cuda")]
fn run_cuda<J: BackendJob>(job: J) -> Result<J::Output, BackendError> {
    let info = cuda_info()?;
    Ok(job.run::<CudaBackend>(&Default::default(), &info))
}

#[cfg(not(feature = "cuda"))]
fn run_cuda<J: BackendJob>(_job: J) -> Result<J::Output, BackendError> {
    Err(BackendError::CudaNotCompiled)
}

/// Probes CUDA device 0 with a one-element round trip (cudarc loads the driver
/// at run time and panics when there is none).
#[cfg(feature = "cuda")]
pub fn cuda_info() -> Result<DeviceInfo, BackendError> {
    use burn::prelude::*;
    static INFO: OnceLock<Result<DeviceInfo, BackendError>> = OnceLock::new();
    INFO.get_or_init(|| {
        type B = burn::backend::Cuda;
        let device = burn::backend::cuda::CudaDevice::default();
        catch_unwind(AssertUnwindSafe(|| {
            let _ = Tensor::<B, 1>::zeros([1], &device).into_data();
        }))
        .map_err(|panic| BackendError::Unavailable {
            kind: BackendKind::Cuda,
            reason: panic_message(panic.as_ref()),
        })?;
        let driver = std::fs::read_to_string("/proc/driver/nvidia/version")
            .ok()
            .and_then(|text| text.lines().next().map(str::to_string))
            .unwrap_or_else(|| "unknown driver".to_string());
        Ok(DeviceInfo {
            backend: BackendKind::Cuda,
            device_name: format!("{} device 0", <B as Backend>::name(&device)),
            driver,
        })
    })
    .clone()
}

#[cfg(not(feature = "cuda"))]
pub fn cuda_info() -> Result<DeviceInfo, BackendError> {
    Err(BackendError::CudaNotCompiled)
}
