//! Property tests of `oodcal::metrics`: ranges, limits, invariances and the
//! temperature-scaling guarantees that hold for every input, not only for the
//! reference fixtures.

use oodcal::bench::metrics::synthetic_predictions;
use oodcal::metrics::{
    bootstrap, fit_temperature, Binning, BootstrapOptions, EceSpec, Logits, MetricKind, Norm,
    Predictions, Scope, Variant,
};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

// ------------------------------------------------------------------ strategies

/// Logits of `n` rows × `k` classes, either continuous or drawn from a few
/// integers (so that probabilities and confidences tie a lot), with labels.
fn logits_strategy(max_rows: usize) -> impl Strategy<Value = (Vec<f64>, usize, Vec<u32>)> {
    (1..max_rows, 1usize..6, any::<bool>()).prop_flat_map(|(n, k, tied)| {
        let value = if tied {
            (-2i32..=2).prop_map(f64::from).boxed()
        } else {
            (-6.0f64..6.0).boxed()
        };
        (
            proptest::collection::vec(value, n * k),
            Just(k),
            proptest::collection::vec(0..k as u32, n),
        )
    })
}

fn predictions_strategy(max_rows: usize) -> impl Strategy<Value = Predictions> {
    logits_strategy(max_rows)
        .prop_map(|(z, k, y)| Predictions::from_logits(z, k, y).expect("valid logits"))
}

fn spec_strategy() -> impl Strategy<Value = EceSpec> {
    let scope = prop_oneof![Just(Scope::TopLabel), Just(Scope::Classwise)];
    let binning = prop_oneof![Just(Binning::EqualWidth), Just(Binning::EqualMass)];
    let norm = prop_oneof![Just(Norm::L1), Just(Norm::L2), Just(Norm::Max)];
    (scope, binning, 1usize..40, norm, any::<bool>()).prop_map(|(s, b, n, norm, debias)| {
        let spec = EceSpec::new(s, b, n, norm).expect("n >= 1");
        if debias && norm == Norm::L2 {
            spec.debiased().expect("L2")
        } else {
            spec
        }
    })
}

fn permuted(preds: &Predictions, seed: u64) -> Predictions {
    let mut rows: Vec<usize> = (0..preds.n_rows()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..rows.len()).rev() {
        rows.swap(i, rng.random_range(0..=i));
    }
    preds.select(&rows)
}

/// Rows whose labels are drawn from their own predicted probabilities
/// (perfect calibration), or from `softmax(z / temper)` when `temper > 1`
/// (over-confidence).
fn sampled(n: usize, k: usize, temper: f64, seed: u64) -> Predictions {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z: Vec<f64> = (0..n * k)
        .map(|_| 3.0 * (rng.random::<f64>() - 0.5) * 2.0)
        .collect();
    let truth = Logits::new(z.clone(), k, vec![0; n])
        .expect("finite")
        .to_predictions(temper);
    let labels = (0..n)
        .map(|i| {
            let u: f64 = rng.random();
            let mut cum = 0.0;
            let row = truth.row(i);
            row.iter()
                .position(|p| {
                    cum += p;
                    u < cum
                })
                .unwrap_or(k - 1) as u32
        })
        .collect();
    Predictions::from_logits(z, k, labels).expect("finite")
}

fn cal(spec: EceSpec) -> Variant {
    Variant::plain(MetricKind::Calibration(spec))
}

// ------------------------------------------------------------------ ranges and orderings

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn every_calibration_error_is_in_the_unit_interval(preds in predictions_strategy(120), spec in spec_strategy()) {
        let e = preds.calibration_error(&spec);
        prop_assert!((0.0..=1.0).contains(&e), "{} = {e}", spec.name());
    }

    #[test]
    fn plug_in_norms_are_ordered_l1_l2_max(preds in predictions_strategy(120), n_bins in 1usize..30, mass in any::<bool>()) {
        let binning = if mass { Binning::EqualMass } else { Binning::EqualWidth };
        let e = |norm| preds.calibration_error(&EceSpec::new(Scope::TopLabel, binning, n_bins, norm).expect("spec"));
        let (l1, l2, max) = (e(Norm::L1), e(Norm::L2), e(Norm::Max));
        prop_assert!(l1 <= l2 + 1e-12 && l2 <= max + 1e-12, "{l1} {l2} {max}");
        let debiased = EceSpec::new(Scope::TopLabel, binning, n_bins, Norm::L2).expect("spec").debiased().expect("L2");
        prop_assert!(preds.calibration_error(&debiased) <= l2 + 1e-12);
    }

    #[test]
    fn accuracy_nll_brier_ranges(preds in predictions_strategy(120)) {
        prop_assert!((0.0..=1.0).contains(&preds.accuracy()));
        prop_assert!(preds.nll() >= 0.0);
        prop_assert!((0.0..=2.0 + 1e-12).contains(&preds.brier()));
    }

    #[test]
    fn reliability_table_accounts_for_every_row(preds in predictions_strategy(120), n_bins in 1usize..25, mass in any::<bool>()) {
        let binning = if mass { Binning::EqualMass } else { Binning::EqualWidth };
        let table = preds.reliability_table(binning, n_bins);
        prop_assert_eq!(table.len(), n_bins);
        prop_assert_eq!(table.iter().map(|r| r.count).sum::<u64>(), preds.n_rows() as u64);
        for row in &table {
            prop_assert!(row.lo <= row.hi);
            match (row.count, row.mean_confidence) {
                (0, c) => prop_assert!(c.is_none()),
                (_, Some(c)) => prop_assert!(c >= row.lo - 1e-12 && c <= row.hi + 1e-12, "{row:?}"),
                (_, None) => prop_assert!(false, "non-empty bin without a mean"),
            }
        }
    }
}

// ------------------------------------------------------------------ invariances

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Equal-mass bins depend on ranks; the tie rule makes them depend only on
    /// the multiset of scores. Bin contents (counts, hits) must be identical
    /// after any permutation, and the errors equal up to summation order.
    #[test]
    fn invariant_to_row_order(preds in predictions_strategy(150), spec in spec_strategy(), seed in any::<u64>()) {
        let shuffled = permuted(&preds, seed);
        let (a, b) = (preds.calibration_error(&spec), shuffled.calibration_error(&spec));
        prop_assert!((a - b).abs() <= 1e-12, "{}: {a} vs {b}", spec.name());
        if spec.scope() == Scope::TopLabel {
            let counts = |p: &Predictions| -> Vec<(u64, Option<f64>)> {
                p.reliability_table(spec.binning(), spec.n_bins()).iter().map(|r| (r.count, r.accuracy)).collect()
            };
            prop_assert_eq!(counts(&preds), counts(&shuffled));
        }
        prop_assert_eq!(preds.accuracy(), shuffled.accuracy());
        prop_assert!((preds.nll() - shuffled.nll()).abs() <= 1e-12 * preds.nll().max(1.0));
    }

    /// Tie groups are never split: every distinct confidence falls in one bin.
    #[test]
    fn equal_mass_never_splits_a_tie_group(preds in predictions_strategy(150), n_bins in 1usize..30) {
        let top = preds.top_label();
        let bins = oodcal::metrics::Bins::fit(Binning::EqualMass, n_bins, top.confidence());
        let mut seen = std::collections::BTreeMap::new();
        for &c in top.confidence() {
            let b = bins.bin(c);
            prop_assert_eq!(*seen.entry(c.to_bits()).or_insert(b), b);
        }
        // Monotone: a larger score never lands in a lower bin.
        let mut sorted = top.confidence().to_vec();
        sorted.sort_by(f64::total_cmp);
        prop_assert!(sorted.windows(2).all(|w| bins.bin(w[0]) <= bins.bin(w[1])));
    }

    #[test]
    fn variant_names_round_trip(spec in spec_strategy(), percent in any::<bool>()) {
        let parsed: EceSpec = spec.name().parse().expect("canonical name parses");
        prop_assert_eq!(parsed, spec);
        let v = Variant { kind: MetricKind::Calibration(spec), percent };
        prop_assert_eq!(v.name().parse::<Variant>().expect("parses"), v);
        let bare = spec.name().trim_start_matches("ece[").trim_start_matches("ce[").trim_end_matches(']').to_string();
        prop_assert_eq!(bare.parse::<EceSpec>().expect("bare form parses"), spec);
    }
}

#[test]
fn scalar_variant_names_round_trip() {
    for kind in [MetricKind::Accuracy, MetricKind::Nll, MetricKind::Brier] {
        for v in [Variant::plain(kind), Variant::percent(kind)] {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
    }
    for v in Variant::paper().into_iter().chain(Variant::standard()) {
        assert_eq!(v.name().parse::<Variant>(), Ok(v));
    }
}

// ------------------------------------------------------------------ limits

/// With labels drawn from the predicted probabilities the true calibration
/// error is 0, and the binned estimate shrinks towards it as n grows; the
/// same data made over-confident keep a clearly positive error.
#[test]
fn ece_vanishes_for_calibrated_data_in_the_limit() {
    let width = EceSpec::paper(Binning::EqualWidth);
    let mass = EceSpec::paper(Binning::EqualMass);
    let classwise =
        EceSpec::new(Scope::Classwise, Binning::EqualWidth, 10, Norm::L1).expect("spec");
    let big = sampled(200_000, 4, 1.0, 1);
    let small = sampled(500, 4, 1.0, 1);
    for spec in [width, mass, classwise] {
        let (e_big, e_small) = (big.calibration_error(&spec), small.calibration_error(&spec));
        assert!(e_big < 0.006, "{}: {e_big}", spec.name());
        assert!(e_big < e_small, "{}: {e_big} !< {e_small}", spec.name());
    }
    let debiased = EceSpec::new(Scope::TopLabel, Binning::EqualMass, 10, Norm::L2)
        .expect("spec")
        .debiased()
        .expect("L2");
    assert!(big.calibration_error(&debiased) < 0.003);
    let overconfident = sampled(200_000, 4, 2.0, 1);
    assert!(overconfident.calibration_error(&width) > 0.05);
}

// ------------------------------------------------------------------ temperature scaling

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn temperature_one_leaves_nll_unchanged((z, k, y) in logits_strategy(100)) {
        let logits = Logits::new(z.clone(), k, y.clone()).expect("finite");
        let preds = Predictions::from_logits(z, k, y).expect("finite");
        prop_assert_eq!(&logits.to_predictions(1.0), &preds);
        let (a, b) = (logits.nll(1.0), preds.nll());
        prop_assert!((a - b).abs() <= 1e-12 * a.max(1.0), "{a} vs {b}");
    }

    #[test]
    fn fitted_temperature_never_raises_validation_nll((z, k, y) in logits_strategy(100)) {
        let logits = Logits::new(z, k, y).expect("finite");
        let fit = fit_temperature(&logits);
        prop_assert!(fit.temperature > 0.0);
        prop_assert!(fit.nll_after <= fit.nll_before);
        prop_assert!((logits.nll(fit.temperature) - fit.nll_after).abs() <= 1e-12 * fit.nll_after.max(1.0));
        // Global: no temperature on a grid does better (beyond rounding).
        for i in -30..=30 {
            let t = 10f64.powf(i as f64 / 10.0);
            prop_assert!(fit.nll_after <= logits.nll(t) + 1e-9, "T={t}: {} > {}", fit.nll_after, logits.nll(t));
        }
    }
}

/// Logits scaled by a known factor are recovered: labels follow
/// `softmax(base)` but the model reports `softmax(3 base)`, so T ≈ 3.
#[test]
fn temperature_recovers_a_known_scale() {
    let (n, k) = (40_000, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let base: Vec<f64> = (0..n * k)
        .map(|_| 2.0 * (rng.random::<f64>() - 0.5))
        .collect();
    let labels = sampled_labels(&base, k, &mut rng);
    let scaled: Vec<f64> = base.iter().map(|v| 3.0 * v).collect();
    let fit = fit_temperature(&Logits::new(scaled, k, labels).expect("finite"));
    assert!((fit.temperature - 3.0).abs() < 0.15, "{}", fit.temperature);
    assert!(!fit.at_bound);
}

fn sampled_labels(z: &[f64], k: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let probs = Logits::new(z.to_vec(), k, vec![0; z.len() / k])
        .expect("finite")
        .to_predictions(1.0);
    (0..probs.n_rows())
        .map(|i| {
            let u: f64 = rng.random();
            let mut cum = 0.0;
            probs
                .row(i)
                .iter()
                .position(|p| {
                    cum += p;
                    u < cum
                })
                .unwrap_or(k - 1) as u32
        })
        .collect()
}

// ------------------------------------------------------------------ determinism

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

#[test]
fn bootstrap_is_identical_for_any_thread_count() {
    let preds = synthetic_predictions(3_000, 4, 5);
    let options = BootstrapOptions {
        resamples: 200,
        seed: 42,
        level: 0.9,
    };
    let variant = cal(EceSpec::paper(Binning::EqualMass));
    let one = in_pool(1, || preds.bootstrap(&variant, &options)).expect("interval");
    let four = in_pool(4, || preds.bootstrap(&variant, &options)).expect("interval");
    assert_eq!(one, four);
    assert!(one.lower < one.upper);
    assert!(
        one.lower <= one.estimate && one.estimate <= one.upper,
        "{one:?}"
    );
    let other_seed = preds
        .bootstrap(
            &variant,
            &BootstrapOptions {
                seed: 43,
                ..options
            },
        )
        .expect("interval");
    assert_ne!(one, other_seed);
}

#[test]
fn bootstrap_interval_narrows_with_more_rows() {
    let options = BootstrapOptions {
        resamples: 300,
        seed: 1,
        level: 0.95,
    };
    let width = |n| {
        let preds = synthetic_predictions(n, 3, 2);
        let top = preds.top_label();
        let iv = bootstrap(n, &options, |rows| top.select(rows).accuracy()).expect("interval");
        iv.upper - iv.lower
    };
    let (narrow, wide) = (width(8_000), width(500));
    assert!(narrow < wide / 2.0, "{narrow} vs {wide}");
}

#[test]
fn metrics_are_bit_identical_for_any_thread_count_on_multi_chunk_inputs() {
    let preds = synthetic_predictions(150_000, 3, 11);
    let variants = Variant::standard();
    let one = in_pool(1, || preds.report(&variants));
    let three = in_pool(3, || preds.report(&variants));
    assert_eq!(one, three);
}

#[test]
fn report_matches_the_individual_metrics_exactly() {
    let preds = synthetic_predictions(70_000, 6, 3);
    let report = preds.report(&Variant::standard());
    for (variant, (name, value)) in Variant::standard().iter().zip(&report) {
        assert_eq!(&variant.name(), name);
        assert_eq!(
            oodcal::metrics::evaluate(&preds, variant).to_bits(),
            value.to_bits(),
            "{name}"
        );
    }
    let paper = preds.report(&Variant::paper());
    let ece = preds.calibration_error(&EceSpec::paper(Binning::EqualWidth));
    assert_eq!(
        paper[1],
        (
            "ece[top-label,equal-width,10,L1,x100]".to_string(),
            100.0 * ece
        )
    );
}
