//! Learning-rate schedules and optimizer presets.

use oodcal::train::{LrSchedule, OptimizerKind, OptimizerSpec};

#[test]
fn the_paper_preset_is_sgd_with_momentum_at_a_constant_rate() {
    let spec = OptimizerSpec::sgd(5e-5, 1e-4);
    assert_eq!(spec.kind, OptimizerKind::Sgd);
    assert_eq!(spec.momentum, 0.9);
    assert!((0..5001)
        .step_by(500)
        .all(|step| spec.lr_at(step, 5001) == 5e-5));
}

#[test]
fn cosine_warms_up_linearly_then_decays_to_zero() {
    let spec =
        OptimizerSpec::adamw(1e-3, 0.05).with_schedule(LrSchedule::Cosine { warmup_steps: 10 });
    let lr = |step| spec.lr_at(step, 110);
    assert!(
        (lr(0) - 1e-4).abs() < 1e-12,
        "first warm-up step: {}",
        lr(0)
    );
    assert!((lr(9) - 1e-3).abs() < 1e-12, "end of warm-up: {}", lr(9));
    assert!((lr(10) - 1e-3).abs() < 1e-12, "start of decay: {}", lr(10));
    assert!((lr(60) - 5e-4).abs() < 1e-12, "half-way: {}", lr(60));
    assert!(lr(109) > 0.0 && lr(109) < 1e-6, "last step: {}", lr(109));
    assert!((10..109).all(|s| lr(s + 1) < lr(s)), "decay is monotone");
}
