//! Backend names, selection and device descriptions; a tiny wgpu run (ignored
//! by default: it needs a Vulkan driver, e.g. Mesa's lavapipe, and is slow).

mod train_support;

use burn::tensor::backend::AutodiffBackend;
use oodcal::model::{Family, ModelSpec, Size};
use oodcal::train::{
    dispatch, logits_of_trained, train, BackendError, BackendJob, BackendKind, DeviceInfo,
    OptimizerSpec, TrainConfig,
};
use train_support::{mean, toy_source};

#[test]
fn backend_names_parse_and_print() {
    for name in ["cpu", "wgpu", "cuda", "auto"] {
        assert_eq!(name.parse::<BackendKind>().unwrap().to_string(), name);
    }
    assert!(matches!(
        "tpu".parse::<BackendKind>(),
        Err(BackendError::Unknown(_))
    ));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn without_cuda_auto_means_cpu_and_cuda_is_a_clear_error() {
    assert_eq!(
        oodcal::train::resolve(BackendKind::Auto).unwrap(),
        BackendKind::Cpu
    );
    let err = dispatch(BackendKind::Cuda, TinyRun { steps: 1 })
        .err()
        .unwrap();
    assert_eq!(err, BackendError::CudaNotCompiled);
}

/// Trains ResNet-tiny for a few steps on whatever backend dispatch picks.
struct TinyRun {
    steps: usize,
}

struct TinyRunResult {
    info: DeviceInfo,
    losses: Vec<f32>,
    logits: usize,
}

impl BackendJob for TinyRun {
    type Output = TinyRunResult;

    fn run<B: AutodiffBackend>(self, device: &B::Device, info: &DeviceInfo) -> TinyRunResult {
        let spec = ModelSpec::new(Family::ResNet, Size::Tiny).with_image_size(16);
        let model = spec.build::<B>(4, 1, device).unwrap();
        let config = TrainConfig::pretrain(self.steps, OptimizerSpec::adam(3e-3, 0.0), 1);
        let mut source = toy_source(8, 16, 4);
        let out = train(model, &config, &mut source, |_, _| Ok(()), device).unwrap();
        let images = vec![0.0; 2 * 3 * 16 * 16];
        let logits = logits_of_trained(&out.model, &images, [2, 3, 16, 16], 8, device);
        TinyRunResult {
            info: info.clone(),
            losses: out.losses,
            logits: logits.len(),
        }
    }
}

#[test]
fn cpu_dispatch_runs_the_generic_path_and_describes_the_cpu() {
    let result = dispatch(BackendKind::Cpu, TinyRun { steps: 2 }).unwrap();
    assert_eq!(result.info.backend, BackendKind::Cpu);
    assert!(!result.info.device_name.is_empty());
    assert!(
        result.info.driver.contains("threads"),
        "{}",
        result.info.driver
    );
    assert_eq!(result.losses.len(), 2);
    assert_eq!(result.logits, 2 * 4);
}

/// `cargo test --test train_backend -- --ignored wgpu` (Mesa: apt install mesa-vulkan-drivers).
#[test]
#[ignore = "needs a Vulkan/Metal/DX12 adapter; slow on lavapipe"]
fn wgpu_trains_a_tiny_model() {
    let result = dispatch(BackendKind::Wgpu, TinyRun { steps: 12 }).unwrap();
    eprintln!("wgpu device: {:?}", result.info);
    eprintln!("wgpu losses: {:?}", result.losses);
    assert_eq!(result.info.backend, BackendKind::Wgpu);
    assert!(result.losses.iter().all(|l| l.is_finite()));
    assert!(
        mean(&result.losses[8..]) < mean(&result.losses[..4]),
        "{:?}",
        result.losses
    );
    assert_eq!(result.logits, 2 * 4);
    // Same seed, same first batch: the initial weights are drawn on the host, so
    // the loss before any update agrees with the CPU backend's up to rounding.
    let cpu = dispatch(BackendKind::Cpu, TinyRun { steps: 1 }).unwrap();
    let gap = (result.losses[0] - cpu.losses[0]).abs();
    assert!(
        gap < 1e-4,
        "first loss: wgpu {} vs cpu {}",
        result.losses[0],
        cpu.losses[0]
    );
}
