//! Training throughput of every zoo model, EfficientNet-Lite included, on
//! the CPU backend (ignored by default). `OODCAL_BENCH_MODELS` picks models
//! by name (`resnet-tiny,efficientnet-lite0`), `OODCAL_BENCH_SIZE` the input side.
//!
//! `cargo test --release --test train_bench -- --ignored --nocapture`
//! prints one JSON line per model; compare with `python benches/train_peer.py`.

use oodcal::model::{LiteVariant, ModelSpec};
use oodcal::train::{dispatch, BackendKind, BenchJob};

#[test]
#[ignore = "benchmark: minutes of CPU"]
fn cpu_training_throughput() {
    let steps = std::env::var("OODCAL_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("OODCAL_BENCH_MODELS").ok();
    let size = std::env::var("OODCAL_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let specs = ModelSpec::all()
        .into_iter()
        .chain(LiteVariant::ALL.map(ModelSpec::lite))
        .map(|spec| spec.with_image_size(size))
        .filter(|spec| {
            only.as_deref()
                .is_none_or(|list| list.split(',').any(|m| m == spec.name()))
        })
        .collect();
    let job = BenchJob {
        specs,
        batch: 96,
        classes: 100,
        warmup: 2,
        steps,
    };
    for result in dispatch(BackendKind::Cpu, job).unwrap() {
        println!("{}", serde_json::to_string(&result).unwrap());
        assert!(result.images_per_sec > 0.0);
    }
}
