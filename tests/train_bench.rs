//! Training throughput of every zoo model, EfficientNet-Lite included, on
//! the CPU backend (ignored by default; `oodcal bench train` is the command
//! for figures). `OODCAL_BENCH_MODELS` picks models
//! by name (`resnet-tiny,efficientnet-lite0`, or timm architectures such as
//! `resnet50`), `OODCAL_BENCH_SIZE` the input side.
//!
//! `cargo test --test train_bench -- --ignored --nocapture`
//! prints one JSON line per model; compare with `python benches/train_peer.py`.
//! With `--features ndarray`, `cpu_backends_compared` sets burn's two CPU
//! backends side by side (flex, the default, against ndarray).

mod train_support;

use oodcal::bench::train::{bench_models_named, BenchJob};
use oodcal::train::{dispatch, BackendKind};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The zoo (and EfficientNet-Lite) at `OODCAL_BENCH_SIZE`, filtered by `OODCAL_BENCH_MODELS`.
fn bench_job() -> BenchJob {
    let names: Vec<String> = std::env::var("OODCAL_BENCH_MODELS")
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    BenchJob {
        models: bench_models_named(&names, env_or("OODCAL_BENCH_SIZE", 32)).unwrap(),
        batch: 96,
        classes: 100,
        warmup: 2,
        steps: env_or("OODCAL_BENCH_STEPS", 5),
        eval: false,
    }
}

#[test]
#[ignore = "benchmark: minutes of CPU"]
fn cpu_training_throughput() {
    for result in dispatch(BackendKind::Cpu, bench_job()).unwrap() {
        println!("{}", serde_json::to_string(&result).unwrap());
        assert!(result.images_per_sec > 0.0);
    }
}

/// burn-flex against burn-ndarray: same models, batch, steps and thread pool.
/// Prints each backend's JSON line, then the flex/ndarray ratio.
#[cfg(feature = "ndarray")]
#[test]
#[ignore = "benchmark: minutes of CPU"]
fn cpu_backends_compared() {
    use oodcal::train::{cpu_info, ndarray_info, BackendJob, CpuBackend, NdArrayBackend};
    let job = bench_job();
    let flex = job
        .clone()
        .run::<CpuBackend>(&Default::default(), &cpu_info());
    let ndarray = job.run::<NdArrayBackend>(&Default::default(), &ndarray_info());
    for (f, n) in flex.iter().zip(&ndarray) {
        println!("{}", serde_json::to_string(f).unwrap());
        println!("{}", serde_json::to_string(n).unwrap());
        println!(
            "{}: flex {:.1} img/s, ndarray {:.1} img/s, flex/ndarray {:.2}",
            f.model,
            f.images_per_sec,
            n.images_per_sec,
            f.images_per_sec / n.images_per_sec
        );
    }
}

/// A backend is only worth timing if it trains correctly: the same model,
/// initialised from the same seed, takes the same first SGD steps on flex
/// and on ndarray (up to float reordering).
#[cfg(feature = "ndarray")]
#[test]
fn ndarray_and_flex_take_the_same_steps() {
    use oodcal::model::ModelSpec;
    use oodcal::train::{CpuBackend, NdArrayBackend};
    use train_support::synthetic_losses;

    for spec in ModelSpec::all()
        .into_iter()
        .filter(|s| s.name().ends_with("-tiny"))
    {
        let spec = spec.with_image_size(16);
        let (flex, ndarray) = (
            synthetic_losses::<CpuBackend>(&spec, 10, 16, 0, 4),
            synthetic_losses::<NdArrayBackend>(&spec, 10, 16, 0, 4),
        );
        assert!(flex[3] < flex[0], "{spec}: flex did not learn: {flex:?}");
        for (f, n) in flex.iter().zip(&ndarray) {
            assert!(
                (f - n).abs() < 1e-3 * f.abs().max(1.0),
                "{spec}: flex {flex:?}, ndarray {ndarray:?}"
            );
        }
    }
}
