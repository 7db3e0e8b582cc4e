//! Cross-checks of `oodcal::metrics` against torchmetrics, netcal,
//! uncertainty-calibration, torch and scikit-learn, through the values that
//! `scripts/make_metrics_fixtures.py` recorded in
//! `tests/fixtures/metrics/reference.json` (library versions are in the file).
//!
//! How a reference value is checked:
//! 1. Where the library bins, the fixture holds the library's *own* bins
//!    (edges it produced and the rule it applies). The library's value must be
//!    reproduced to its tolerance by oodcal's per-bin arithmetic
//!    (`error_from_bins`) on those bins. This proves that any remaining
//!    difference is a binning choice, not an arithmetic one.
//! 2. Where the library's bins partition the rows exactly as oodcal's do, the
//!    two values must agree to 1e-9 (float64 computations).
//! 3. Each deliberate difference has its own test below showing that it exists
//!    and what explains it:
//!    * torchmetrics: a hidden extra bin for confidence exactly 1.0, and
//!      `torch.linspace` edges that are not `i/B` (0.30000000000000004 for 3/10);
//!    * netcal: `np.linspace` edges, quantile edges for adaptive binning, a
//!      two-class input scored as positive-class calibration, crashes on ties;
//!    * uncertainty-calibration: `(lo, hi]` bins, and `get_calibration_error`
//!      switching to one bin per distinct value when scores look discrete;
//!    * scikit-learn's `log_loss` clipping a zero probability.
//!
//! torchmetrics' public function casts to float32; it is compared with its own
//! float64 path (the private `_ce_compute` on float64 inputs) to the tolerance
//! float32 implies: inputs rounded to 2^-24 and per-bin sums accumulated in
//! float32, whose error bound grows like `n * 2^-24`.

use oodcal::metrics::{
    binning::{BinAcc, Bins},
    ece::error_from_bins,
    Binning, EceSpec, Logits, MetricKind, Norm, Predictions, Scope, Variant,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/metrics/reference.json"
);
const F64_TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Doc {
    format: u32,
    versions: BTreeMap<String, String>,
    sets: Vec<Set>,
    temperature: TemperatureFixture,
}

#[derive(Deserialize)]
struct Set {
    name: String,
    n_classes: usize,
    probs: Vec<String>,
    labels: Vec<u32>,
    references: Vec<Reference>,
}

#[derive(Deserialize, Clone)]
struct Reference {
    library: String,
    version: String,
    call: String,
    metric: String,
    dtype: String,
    tolerance: f64,
    class: Option<usize>,
    value: Option<String>,
    error: Option<String>,
    library_bins: Option<LibraryBins>,
    differs_because: Option<String>,
    binning_note: Option<String>,
    float64_twin: Option<usize>,
}

#[derive(Deserialize, Clone)]
struct LibraryBins {
    rule: String,
    edges: Vec<Vec<String>>,
}

#[derive(Deserialize)]
struct TemperatureFixture {
    n_classes: usize,
    val_logits: Vec<String>,
    val_labels: Vec<u32>,
    ood_logits: Vec<String>,
    ood_labels: Vec<u32>,
    temperature: String,
    nll_at_1: String,
    nll_at_temperature: String,
    ood_ece_before: String,
    ood_ece_after: String,
}

// ------------------------------------------------------------------ loading

/// Exact parse: Rust's `f64::from_str` rounds correctly (serde_json's default
/// float parser does not promise that, hence strings in the fixture).
fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("fixture number {s:?}"))
}

fn rows(lines: &[String]) -> Vec<f64> {
    lines.iter().flat_map(|l| l.split(' ').map(num)).collect()
}

fn doc() -> &'static Doc {
    static DOC: OnceLock<Doc> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(FIXTURE).expect("fixture file");
        serde_json::from_str(&text).expect("fixture JSON")
    })
}

fn set(name: &str) -> &'static Set {
    doc()
        .sets
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no set {name}"))
}

impl Set {
    fn predictions(&self) -> Predictions {
        Predictions::from_probabilities(rows(&self.probs), self.n_classes, self.labels.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    fn reference(&self, library: &str, call: &str) -> &Reference {
        self.references
            .iter()
            .find(|r| r.library == library && r.call == call)
            .unwrap_or_else(|| panic!("{}: no {library} call {call}", self.name))
    }
}

impl Reference {
    fn value(&self) -> f64 {
        num(self
            .value
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no value", self.call)))
    }

    fn variant(&self) -> Variant {
        self.metric
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", self.metric))
    }

    fn spec(&self) -> EceSpec {
        match self.variant().kind {
            MetricKind::Calibration(spec) => spec,
            _ => panic!("{} is not a calibration error", self.metric),
        }
    }
}

// ------------------------------------------------------------------ scored columns

/// The (score, hit) columns a reference is about: the top-label view, every
/// class column (class-wise), or one class column (netcal's two-class mode).
fn columns(preds: &Predictions, r: &Reference) -> Vec<(Vec<f64>, Vec<bool>)> {
    let class_column = |c: usize| {
        let k = preds.n_classes();
        let scores = preds
            .probabilities()
            .iter()
            .skip(c)
            .step_by(k)
            .copied()
            .collect();
        let hits = preds.labels().iter().map(|&l| l as usize == c).collect();
        (scores, hits)
    };
    match (r.class, r.spec().scope()) {
        (Some(c), _) => vec![class_column(c)],
        (None, Scope::TopLabel) => {
            let top = preds.top_label();
            vec![(top.confidence().to_vec(), top.correct().to_vec())]
        }
        (None, Scope::Classwise) => (0..preds.n_classes()).map(class_column).collect(),
    }
}

/// Bin of `score` under a library's rule and edges (see `bin_rules` in the fixture).
fn library_bin(rule: &str, edges: &[f64], score: f64) -> usize {
    match rule {
        // torch.bucketize(right=True) - 1: B + 1 bins, 1.0 alone in bin B.
        "torch-bucketize" => edges.partition_point(|&e| e <= score) - 1,
        // numpy histogram: [e_i, e_{i+1}), the last bin closed.
        "numpy-histogram" => edges[1..edges.len() - 1].partition_point(|&e| e <= score),
        // searchsorted(upper_edges, s, side='left').
        "right-closed" => edges.partition_point(|&e| e < score),
        other => panic!("unknown bin rule {other}"),
    }
}

fn library_bin_count(rule: &str, edges: &[f64]) -> usize {
    match rule {
        "torch-bucketize" => edges.len(),
        "numpy-histogram" => edges.len() - 1,
        _ => edges.len(),
    }
}

fn accumulate(
    scores: &[f64],
    hits: &[bool],
    n_bins: usize,
    bin: impl Fn(f64) -> usize,
) -> Vec<BinAcc> {
    let mut acc = vec![BinAcc::default(); n_bins];
    for (&s, &h) in scores.iter().zip(hits) {
        let a = &mut acc[bin(s)];
        a.count += 1;
        a.sum_score += s;
        a.hits += h as u64;
    }
    acc
}

/// The edges that apply to column `c` (one list may serve every class).
fn edges_for(bins: &LibraryBins, c: usize) -> Vec<f64> {
    let list = bins.edges.get(c).unwrap_or(&bins.edges[0]);
    list.iter().map(|e| num(e)).collect()
}

/// Combines per-column errors as the class-wise aggregate: `(mean CE^p)^(1/p)`.
fn aggregate(per_column: &[f64], norm: Norm) -> f64 {
    let k = per_column.len() as f64;
    match norm {
        Norm::L1 => per_column.iter().sum::<f64>() / k,
        Norm::L2 => (per_column.iter().map(|e| e * e).sum::<f64>() / k).sqrt(),
        Norm::Max => per_column.iter().copied().fold(0.0, f64::max),
    }
}

/// The library's value recomputed with oodcal's arithmetic on the library's bins.
fn reproduce_from_library_bins(preds: &Predictions, r: &Reference) -> f64 {
    let bins = r.library_bins.as_ref().expect("library bins");
    let spec = r.spec();
    let per_column: Vec<f64> = columns(preds, r)
        .iter()
        .enumerate()
        .map(|(c, (scores, hits))| {
            let edges = edges_for(bins, c);
            let n_bins = library_bin_count(&bins.rule, &edges);
            let acc = accumulate(scores, hits, n_bins, |s| library_bin(&bins.rule, &edges, s));
            if r.library == "torchmetrics" && spec.is_debiased() {
                torchmetrics_debiased_l2(&acc)
            } else {
                error_from_bins(&acc, spec.norm(), spec.is_debiased())
            }
        })
        .collect();
    aggregate(&per_column, spec.norm())
}

/// torchmetrics' debiased L2: the Kumar et al. correction
/// `a (a - 1) p_b / (p_b n - 1)` is 0/0, replaced by 0, in a single-row bin,
/// whose plug-in term `p_b (a - c)^2` is kept (oodcal and uncertainty-calibration
/// drop single-row bins).
fn torchmetrics_debiased_l2(bins: &[BinAcc]) -> f64 {
    let n: u64 = bins.iter().map(|b| b.count).sum();
    let squared: f64 = bins
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| {
            let (w, a, g) = (
                b.count as f64 / n as f64,
                b.accuracy().unwrap_or(0.0),
                b.gap().unwrap_or(0.0),
            );
            let correction = if b.count > 1 {
                a * (a - 1.0) / (b.count as f64 - 1.0)
            } else {
                0.0
            };
            w * (g * g + correction)
        })
        .sum();
    if squared > 0.0 {
        squared.sqrt()
    } else {
        0.0
    }
}

/// Whether the library's bins split the rows of every column exactly as
/// oodcal's do (the same groups of rows, whatever the bins are numbered).
fn same_partition(preds: &Predictions, r: &Reference) -> bool {
    let bins = r.library_bins.as_ref().expect("library bins");
    let spec = r.spec();
    columns(preds, r)
        .iter()
        .enumerate()
        .all(|(c, (scores, _))| {
            let ours = Bins::fit(spec.binning(), spec.n_bins(), scores);
            let edges = edges_for(bins, c);
            let mut forward = BTreeMap::new();
            let mut backward = BTreeMap::new();
            scores.iter().all(|&s| {
                let (a, b) = (ours.bin(s), library_bin(&bins.rule, &edges, s));
                *forward.entry(a).or_insert(b) == b && *backward.entry(b).or_insert(a) == a
            })
        })
}

/// oodcal's value for a reference (per-class error when the library scored one class).
fn ours(preds: &Predictions, r: &Reference) -> f64 {
    let variant = r.variant();
    match (r.class, variant.kind) {
        (Some(c), MetricKind::Calibration(spec)) => preds.class_calibration_error(c, &spec),
        _ => oodcal::metrics::evaluate(preds, &variant),
    }
}

fn float64_refs() -> impl Iterator<Item = (&'static Set, &'static Reference)> {
    doc()
        .sets
        .iter()
        .flat_map(|s| s.references.iter().map(move |r| (s, r)))
        .filter(|(_, r)| r.dtype == "float64" && r.value.is_some())
}

// ------------------------------------------------------------------ generic checks

/// The fixture was made with the versions the generating script pins: a
/// fixture regenerated with other library versions (or a script whose pins
/// moved without regenerating it) fails here.
#[test]
fn fixture_versions_are_the_generating_scripts_pins() {
    let d = doc();
    assert_eq!(d.format, 1);
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/make_metrics_fixtures.py"
    ))
    .unwrap();
    let pins: BTreeMap<String, String> = script
        .split_whitespace()
        .filter_map(|w| w.split_once("=="))
        .map(|(name, v)| (name.replace('-', "_"), v.to_string()))
        .collect();
    for key in [
        "torch",
        "torchmetrics",
        "netcal",
        "uncertainty_calibration",
        "scikit_learn",
        "numpy",
    ] {
        let pinned = pins.get(key).unwrap_or_else(|| panic!("{key} not pinned"));
        let recorded = d
            .versions
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing"));
        // torch's wheel reports its build as a local version (`+cu132`).
        assert_eq!(recorded.split('+').next(), Some(pinned.as_str()), "{key}");
    }
    for s in &d.sets {
        for r in &s.references {
            let pinned = &pins[&r.library.replace('-', "_")];
            assert_eq!(
                r.version.split('+').next(),
                Some(pinned.as_str()),
                "{}: {}",
                s.name,
                r.call
            );
        }
    }
}

#[test]
fn every_metric_name_in_the_fixture_parses_and_round_trips() {
    for (_, r) in float64_refs() {
        assert_eq!(r.variant().name(), r.metric);
    }
}

#[test]
fn library_values_are_reproduced_from_the_libraries_own_bins() {
    let mut checked = 0;
    for (s, r) in float64_refs().filter(|(_, r)| r.library_bins.is_some()) {
        let preds = s.predictions();
        let got = reproduce_from_library_bins(&preds, r);
        assert!(
            (got - r.value()).abs() <= r.tolerance,
            "{} / {}: library {} vs reproduced {got}",
            s.name,
            r.call,
            r.value()
        );
        checked += 1;
    }
    assert!(checked > 400, "only {checked} binned references");
}

#[test]
fn values_agree_to_1e9_wherever_the_bins_agree() {
    let (mut agreed, mut binned_differently) = (0, 0);
    for (s, r) in float64_refs() {
        let preds = s.predictions();
        if r.library_bins.is_some() && !same_partition(&preds, r) {
            eprintln!(
                "binned differently: {} / {} {} ({})",
                s.name, r.library, r.call, r.metric
            );
            binned_differently += 1;
            continue;
        }
        if r.differs_because.is_some() {
            continue;
        }
        let (want, got) = (r.value(), ours(&preds, r));
        let same_infinity = want.is_infinite() && want == got;
        assert!(
            same_infinity || (got - want).abs() <= r.tolerance.max(F64_TOLERANCE),
            "{} / {} {}: library {want} vs oodcal {got}",
            s.name,
            r.library,
            r.call
        );
        agreed += 1;
    }
    eprintln!("{agreed} references agree to 1e-9; {binned_differently} binned differently");
    assert!(
        agreed > 450,
        "only {agreed} agreeing references ({binned_differently} binned differently)"
    );
    assert!(
        binned_differently < agreed / 4,
        "{binned_differently} differently binned"
    );
}

#[test]
fn binning_differences_only_arise_in_the_adversarial_sets_or_documented_cases() {
    let random = [
        "calibrated_k10_n1500",
        "overconfident_k5_n2500",
        "multiple_k4_n1000",
        "many_classes_k30_n100",
        "heavy_overconfidence_k10_n500",
    ];
    for (s, r) in float64_refs()
        .filter(|(s, r)| random.contains(&s.name.as_str()) && r.library_bins.is_some())
    {
        let preds = s.predictions();
        // netcal's quantile edges are the one rule that differs on tie-free data.
        let quantile = r.library == "netcal" && r.spec().binning() == Binning::EqualMass;
        if !quantile {
            assert!(
                same_partition(&preds, r),
                "{} / {}: bins differ",
                s.name,
                r.call
            );
        }
    }
}

/// torchmetrics' public function casts to float32: oodcal's arithmetic on
/// the library's own bins, with the inputs and the bin edges rounded to
/// float32 as that cast rounds them, reproduces it to the tolerance float32
/// accumulation implies.
#[test]
fn torchmetrics_float32_path_is_reproduced_from_float32_inputs() {
    let mut checked = 0;
    for s in &doc().sets {
        for r in s.references.iter().filter(|r| r.float64_twin.is_some()) {
            if r.differs_because.is_some() {
                // Scores exactly on an edge change bin when rounded to float32.
                let b = r.spec().n_bins();
                let on_edge = |c: f64| (1..b).any(|i| c == i as f64 / b as f64);
                assert!(
                    s.predictions()
                        .top_label()
                        .confidence()
                        .iter()
                        .any(|&c| on_edge(c)),
                    "{}",
                    r.call
                );
                continue;
            }
            // The twin's bins with edges and scores rounded as float32 rounds them.
            let mut twin = s.references[r.float64_twin.unwrap_or_default()].clone();
            for list in twin
                .library_bins
                .iter_mut()
                .flat_map(|b| b.edges.iter_mut())
            {
                for e in list.iter_mut() {
                    *e = format!("{:?}", num(e) as f32 as f64);
                }
            }
            let rounded: Vec<f64> = rows(&s.probs).iter().map(|&p| p as f32 as f64).collect();
            let preds32 = Predictions::from_probabilities(rounded, s.n_classes, s.labels.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let ours = reproduce_from_library_bins(&preds32, &twin);
            assert!(
                (ours - r.value()).abs() <= r.tolerance,
                "{} / {}: oodcal on float32 inputs {ours}, torchmetrics float32 {}",
                s.name,
                r.call,
                r.value()
            );
            checked += 1;
        }
    }
    assert!(checked > 80);
}

/// Where netcal refuses an input (two-class problems, tied quantile edges),
/// oodcal computes the same variant: a finite value within its bounds.
#[test]
fn oodcal_scores_what_netcal_refuses() {
    let mut checked = 0;
    for s in &doc().sets {
        for r in s.references.iter().filter(|r| r.error.is_some()) {
            let e = r.error.as_deref().unwrap_or_default();
            let known = e.contains("smallest edge difference is numerically 0")
                || e.contains("Asserted binary classification problem");
            assert!(
                known && r.library == "netcal",
                "{} / {}: {e}",
                s.name,
                r.call
            );
            let value = ours(&s.predictions(), r);
            assert!(
                value.is_finite() && (0.0..=1.0).contains(&value),
                "{} / {}: oodcal gives {value}",
                s.name,
                r.call
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

// ------------------------------------------------------------------ documented differences

/// torchmetrics bins with `bucketize(right=True) - 1` on `linspace(0, 1, B+1)`:
/// a confidence of exactly 1.0 lands in a hidden bin `B` of its own instead of
/// the last bin. Its value is oodcal's on the other rows plus that bin.
#[test]
fn torchmetrics_hidden_bin_for_confidence_one() {
    let s = set("one_hot_and_zeros_k4_n400");
    let preds = s.predictions();
    let r = s.reference(
        "torchmetrics",
        "_ce_compute(*[t.double() for t in (p64.max(dim=1).values, p64.argmax(1).eq(y))], bin_boundaries=10, norm='l1')  # float64 path of multiclass_calibration_error",
    );
    let spec = EceSpec::paper(Binning::EqualWidth);
    let ece = preds.calibration_error(&spec);
    assert!(
        (ece - r.value()).abs() > 1e-3,
        "the extra bin should matter here"
    );

    let top = preds.top_label();
    let (ones, rest): (Vec<usize>, Vec<usize>) =
        (0..preds.n_rows()).partition(|&i| top.confidence()[i] == 1.0);
    let n = preds.n_rows() as f64;
    let wrong_ones = ones.iter().filter(|&&i| !top.correct()[i]).count() as f64;
    let rest_ece = preds.select(&rest).calibration_error(&spec);
    let explained = rest.len() as f64 / n * rest_ece + wrong_ones / n;
    assert!(
        (explained - r.value()).abs() < F64_TOLERANCE,
        "{explained} vs {}",
        r.value()
    );
}

/// `torch.linspace(0, 1, 11)[3]` is 0.30000000000000004, so torchmetrics puts
/// a confidence of exactly 0.3 into bin 2; oodcal's edge is `3/10 = 0.3`.
#[test]
fn torchmetrics_linspace_edge_moves_a_score_of_exactly_point_three() {
    let s = set("edge_values_k4_n200");
    let preds = s.predictions();
    let r = s
        .references
        .iter()
        .find(|r| {
            r.library == "torchmetrics"
                && r.metric == "ece[top-label,equal-width,10,L1]"
                && r.dtype == "float64"
        })
        .expect("torchmetrics reference");
    let edges = edges_for(r.library_bins.as_ref().expect("bins"), 0);
    assert!(edges[3] > 0.3, "torch edge 3 is {}", edges[3]);
    assert!(preds.top_label().confidence().contains(&0.3));
    assert!(!same_partition(&preds, r));
    assert!(
        (preds.calibration_error(&EceSpec::paper(Binning::EqualWidth)) - r.value()).abs() > 1e-3
    );
}

/// uncertainty-calibration's bins are `(lo, hi]` (`searchsorted` left on the
/// upper edges). That is oodcal's `[lo, hi)` applied to every score moved down
/// by one ulp, which reproduces its value exactly.
#[test]
fn uncertainty_calibration_right_closed_bins() {
    let s = set("edge_values_k4_n200");
    let preds = s.predictions();
    for (call, spec) in [
        (
            "get_ece(probs, labels, num_bins=10)",
            "ece[top-label,equal-width,10,L1]",
        ),
        (
            "get_ece(probs, labels, num_bins=10, mode='marginal')",
            "ece[classwise,equal-width,10,L1]",
        ),
    ] {
        let r = s.reference("uncertainty-calibration", call);
        let spec: EceSpec = spec.parse().expect("spec");
        let plain = preds.calibration_error(&spec);
        assert!(
            (plain - r.value()).abs() > 1e-3,
            "{call}: edges should matter here"
        );
        let nudged: Vec<f64> = preds
            .probabilities()
            .iter()
            .map(|&p| {
                if p > 0.0 {
                    f64::from_bits(p.to_bits() - 1)
                } else {
                    p
                }
            })
            .collect();
        let nudged =
            Predictions::from_probabilities(nudged, preds.n_classes(), preds.labels().to_vec())
                .expect("valid");
        let explained = nudged.calibration_error(&spec);
        assert!(
            (explained - r.value()).abs() < F64_TOLERANCE,
            "{call}: {explained} vs {}",
            r.value()
        );
    }
}

/// uncertainty-calibration's `get_equal_bins` de-duplicates boundaries when
/// ties straddle them (fewer bins). Because its boundaries sit at the last
/// score of each group and are searched with `side='left'`, a tie group stays
/// in the bin of its first member, as in oodcal, and the dropped bins were
/// empty: the collapse does not change the value.
#[test]
fn uncertainty_calibration_collapsed_equal_mass_bins_agree_on_ties() {
    let s = set("ties_k3_n600");
    let preds = s.predictions();
    for b in [10, 15] {
        let r = s.reference(
            "uncertainty-calibration",
            &format!("get_ece_em(probs, labels, num_bins={b})"),
        );
        let edges = edges_for(r.library_bins.as_ref().expect("bins"), 0);
        assert!(
            edges.len() < b,
            "expected collapsed bins, got {} edges",
            edges.len()
        );
        let spec = EceSpec::new(Scope::TopLabel, Binning::EqualMass, b, Norm::L1).expect("spec");
        assert!((preds.calibration_error(&spec) - r.value()).abs() < F64_TOLERANCE);
    }
}

/// `get_calibration_error` calls scores "discrete" when every class column has
/// fewer than n/4 distinct values, and then bins by distinct value instead of
/// 15 equal-mass bins; oodcal always bins as its name says.
#[test]
fn uncertainty_calibration_discrete_switch_on_tied_scores() {
    let s = set("discrete_k3_n600");
    let preds = s.predictions();
    let r = s.reference(
        "uncertainty-calibration",
        "get_calibration_error(probs, labels, mode='top-label')",
    );
    assert!(r.binning_note.is_some());
    assert!(!same_partition(&preds, r));
    assert!((ours(&preds, r) - r.value()).abs() > 1e-6);
    // On continuous scores the same call is the 15-bin equal-mass debiased error.
    let s = set("calibrated_k10_n1500");
    let r = s.reference(
        "uncertainty-calibration",
        "get_calibration_error(probs, labels, mode='top-label')",
    );
    assert!(r.binning_note.is_none());
    assert!((ours(&s.predictions(), r) - r.value()).abs() < F64_TOLERANCE);
}

/// torchmetrics' debiased L2 keeps the plug-in term of single-row bins,
/// where uncertainty-calibration (whose definition oodcal follows) drops them.
#[test]
fn torchmetrics_debiased_l2_keeps_single_row_bins() {
    let s = set("fewer_rows_than_bins_k3_n4");
    let preds = s.predictions();
    let r = s.reference(
        "torchmetrics",
        "_ce_compute(conf64, acc64, bin_boundaries=10, norm='l2', debias=True)",
    );
    assert!(r.differs_because.is_some());
    assert_eq!(
        ours(&preds, r),
        0.0,
        "four single-row bins: nothing to debias with"
    );
    assert!(r.value() > 0.1);
    let ucal = s.reference(
        "uncertainty-calibration",
        "lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins=10, binning_scheme=get_equal_prob_bins, mode='top-label')",
    );
    assert_eq!(ucal.value(), 0.0);
}

/// netcal's adaptive bins are `np.quantile` edges with linear interpolation.
/// With `n` a multiple of `B` and no ties they cut the sorted scores exactly
/// where `array_split` does; otherwise they cut elsewhere.
#[test]
fn netcal_quantile_bins_match_only_when_groups_are_even() {
    let even = set("multiple_k4_n1000");
    let r = even.reference(
        "netcal",
        "ECE(bins=10, equal_intervals=False).measure(probs, labels)",
    );
    assert!((ours(&even.predictions(), r) - r.value()).abs() < F64_TOLERANCE);
    let uneven = set("uneven_k3_n1001");
    let r = uneven.reference(
        "netcal",
        "ECE(bins=10, equal_intervals=False).measure(probs, labels)",
    );
    let preds = uneven.predictions();
    assert!(!same_partition(&preds, r));
    assert!((ours(&preds, r) - r.value()).abs() > 1e-9);
}

/// With two classes netcal scores the probability of class 1 against
/// `label == 1` (binary calibration), not the top label: it equals oodcal's
/// per-class error of class 1 and differs from the top-label ECE.
#[test]
fn netcal_two_classes_is_positive_class_calibration() {
    let s = set("binary_k2_n800");
    let preds = s.predictions();
    let r = s.reference(
        "netcal",
        "ECE(bins=10, equal_intervals=True).measure(probs, labels)",
    );
    assert_eq!(r.class, Some(1));
    let spec = r.spec();
    assert!((preds.class_calibration_error(1, &spec) - r.value()).abs() < F64_TOLERANCE);
    let top = preds.calibration_error(&EceSpec::paper(Binning::EqualWidth));
    assert!((top - r.value()).abs() > 1e-3);
}

/// netcal refuses tied scores in adaptive mode (scipy's zero-width bins) and
/// more than two columns when the labels hold two or fewer distinct values;
/// oodcal computes both.
#[test]
fn netcal_refusals_are_computed_here() {
    let ties = set("ties_k3_n600");
    let r = ties.reference(
        "netcal",
        "ECE(bins=10, equal_intervals=False).measure(probs, labels)",
    );
    assert!(r.error.is_some());
    assert!(ours(&ties.predictions(), r).is_finite());
    let single = set("single_label_k3_n300");
    let r = single.reference(
        "netcal",
        "ECE(bins=10, equal_intervals=True).measure(probs, labels)",
    );
    assert!(r.error.is_some());
    let ece = single
        .predictions()
        .calibration_error(&EceSpec::paper(Binning::EqualWidth));
    assert!((0.0..=1.0).contains(&ece));
}

/// `sklearn.metrics.log_loss` clips probabilities to `[eps, 1 - eps]`, so a
/// zero on the label costs `-ln(eps) ≈ 36` instead of infinity.
#[test]
fn sklearn_log_loss_clips_zero_probabilities() {
    let s = set("one_hot_and_zeros_k4_n400");
    let r = s.reference("scikit-learn", "log_loss(labels, probs, labels=range(4))");
    assert!(r.differs_because.is_some());
    assert!(r.value().is_finite());
    assert_eq!(s.predictions().nll(), f64::INFINITY);
    let torch = s.reference(
        "torch",
        "F.nll_loss(torch.log(torch.tensor(probs, dtype=torch.float64)), y)",
    );
    assert_eq!(
        torch.value(),
        f64::INFINITY,
        "torch agrees with the unclipped value"
    );
}

// ------------------------------------------------------------------ temperature scaling

fn logits(lines: &[String], k: usize, labels: &[u32]) -> Logits {
    Logits::new(rows(lines), k, labels.to_vec()).expect("valid logits")
}

/// The fitted temperature matches scipy's bounded Brent on torch's float64
/// cross-entropy. A minimiser that only compares function values locates the
/// minimum to about `sqrt(eps) ≈ 1.5e-8` relative, so T is compared to 1e-6;
/// the NLL at the optimum is flat in T and is compared to 1e-9.
#[test]
fn temperature_matches_scipy_and_ece_before_after_matches_uncertainty_calibration() {
    let t = &doc().temperature;
    let val = logits(&t.val_logits, t.n_classes, &t.val_labels);
    let fit = oodcal::metrics::fit_temperature(&val);
    let t_ref = num(&t.temperature);
    assert!(
        (fit.temperature / t_ref - 1.0).abs() < 1e-6,
        "{} vs {t_ref}",
        fit.temperature
    );
    assert!((fit.nll_before - num(&t.nll_at_1)).abs() < F64_TOLERANCE);
    assert!((fit.nll_after - num(&t.nll_at_temperature)).abs() < F64_TOLERANCE);
    assert!(fit.nll_after <= num(&t.nll_at_temperature) + 1e-12);

    let ood = logits(&t.ood_logits, t.n_classes, &t.ood_labels);
    let spec = EceSpec::paper(Binning::EqualWidth);
    // `get_ece` is (lo, hi] binning; on continuous scores no score sits on an edge.
    let before = ood.to_predictions(1.0).calibration_error(&spec);
    let after = ood.to_predictions(t_ref).calibration_error(&spec);
    assert!((before - num(&t.ood_ece_before)).abs() < F64_TOLERANCE);
    assert!((after - num(&t.ood_ece_after)).abs() < F64_TOLERANCE);
    assert!(
        after < before,
        "over-confident logits: scaling should help OOD ECE too"
    );
}
