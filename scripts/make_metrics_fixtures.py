#!/usr/bin/env python3
"""Cross-check fixtures for oodcal's metrics module (src/metrics/).

Builds random and adversarial prediction sets and records what three reference
libraries compute on them, so that tests/metrics_fixtures.rs can compare the
Rust implementation against them without Python. Run by humans only:

    python3 -m venv /tmp/venv-metrics
    /tmp/venv-metrics/bin/pip install torch==2.15.0 torchmetrics==1.9.0 netcal==1.4.0 \
        uncertainty-calibration==0.1.4 scikit-learn==1.9.1 scipy==1.17.1 numpy==2.4.6
    /tmp/venv-metrics/bin/python scripts/make_metrics_fixtures.py

Pinned versions the committed fixtures were made with (also written into the
fixture file): Python 3.11.7, numpy 2.4.6, scipy 1.17.1, torch 2.15.0 (the PyPI wheel, 2.15.0+cu132, run on CPU),
torchmetrics 1.9.0, netcal 1.4.0, uncertainty-calibration 0.1.4,
scikit-learn 1.9.1.

Output: tests/fixtures/metrics/reference.json. Every float that must survive
exactly (probabilities, logits, bin edges) is written as Python's shortest
round-trip repr inside a string, and Rust parses it with `str::parse::<f64>`,
which rounds correctly; serde_json's default float parser does not guarantee
that and an edge off by one ulp would move a row to another bin.

Each reference entry holds the library, its version, the exact call, the
oodcal variant name the call corresponds to, the value, the dtype the library
computed in, a tolerance, and, where the library bins, the library's own bins
(`library_bins`: the edges the library itself produced, and the rule it applies
to them), so the Rust test can (a) reproduce the library's value from those bins
through oodcal's per-bin arithmetic and (b) tell a deliberate binning difference
from a bug. `binning_note` says why a library's bins are expected to differ
from oodcal's (the Rust test finds out whether they do); `differs_because`
explains a difference that is not one of binning (a formula, clipping, or
float32 rounding), where oodcal's value is expected to differ.
"""

import json
import math
import os
import sys
import traceback

import numpy as np
import scipy
import scipy.optimize
import sklearn
import sklearn.metrics
import torch
import torch.nn.functional as F
import torchmetrics
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_calibration_error
from torchmetrics.functional.classification.calibration_error import _ce_compute
import netcal
from netcal.metrics import ECE as NetcalECE
from netcal.metrics import MCE as NetcalMCE
import calibration as ucal  # uncertainty-calibration

UCAL_VERSION = "0.1.4"  # the package has no __version__
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics", "reference.json")
F64_TOL = 1e-9

torch.set_num_threads(1)


def r(x):
    """Exact float as a string (shortest repr that round-trips)."""
    return repr(float(x))


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sample_labels(rng, probs):
    cum = probs.cumsum(axis=1)
    u = rng.random((probs.shape[0], 1))
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


# ---------------------------------------------------------------- prediction sets


def make_sets():
    rng = np.random.default_rng(20230716)
    sets = []

    def add(name, desc, probs, labels, bins=(10, 15)):
        probs = np.asarray(probs, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        sets.append(dict(name=name, description=desc, probs=probs, labels=labels, bins=list(bins)))

    z = rng.normal(0, 2, (1500, 10))
    p = softmax(z)
    add("calibrated_k10_n1500", "labels sampled from the predicted probabilities", p, sample_labels(rng, p))

    z = rng.normal(0, 1.5, (2500, 5))
    add("overconfident_k5_n2500", "labels sampled from softmax(z/3), probabilities softmax(z)",
        softmax(z), sample_labels(rng, softmax(z / 3)))

    z = rng.normal(0, 1.5, (1001, 3))
    p = softmax(z)
    add("uneven_k3_n1001", "n not a multiple of the bin count", p, sample_labels(rng, p), bins=(7, 10, 15))

    z = rng.normal(0, 1.5, (1000, 4))
    p = softmax(z)
    add("multiple_k4_n1000", "n a multiple of 10 (netcal's quantile bins equal array_split)", p, sample_labels(rng, p))

    z = rng.normal(0, 3, (100, 30))
    p = softmax(z)
    add("many_classes_k30_n100", "30 classes, sparse class-wise columns", p, sample_labels(rng, p))

    z = rng.normal(0, 2, (800, 2))
    p = softmax(z)
    add("binary_k2_n800", "two classes (netcal switches to positive-class calibration)", p, sample_labels(rng, p))

    palette = np.array([[0.6, 0.3, 0.1], [0.8, 0.1, 0.1], [0.45, 0.45, 0.1],
                        [0.55, 0.25, 0.2], [0.9, 0.05, 0.05], [0.65, 0.2, 0.15]])
    idx = rng.integers(0, len(palette), 600)
    add("ties_k3_n600", "600 rows drawn from 6 distinct rows: heavy ties in every score",
        palette[idx], rng.integers(0, 3, 600))

    n = 400
    one_hot = np.eye(4)[rng.integers(0, 4, n // 2)]
    rest = softmax(rng.normal(0, 3, (n // 2, 4)))
    rest[: n // 8, 3] = 0.0
    rest[: n // 8] /= rest[: n // 8].sum(axis=1, keepdims=True)
    probs = np.vstack([one_hot, rest])
    # One-hot rows are right 80% of the time (over-confident); the other rows
    # are always right (under-confident), so merging the two kinds in one bin
    # changes the L1 error.
    labels = np.concatenate([np.where(rng.random(n // 2) < 0.8, one_hot.argmax(axis=1), rng.integers(0, 4, n // 2)),
                             rest.argmax(axis=1)])
    add("one_hot_and_zeros_k4_n400", "half the rows one-hot (confidence exactly 1.0, 80% right), the rest "
        "always right, exact zeros",
        probs, labels)

    p = softmax(rng.normal(0, 1.5, (300, 3)))
    add("single_label_k3_n300", "every label is class 2", p, np.full(300, 2))

    p = softmax(rng.normal(0, 1.5, (4, 3)))
    add("fewer_rows_than_bins_k3_n4", "4 rows, 10 and 15 bins", p, np.array([0, 1, 2, 0]))

    z = rng.normal(0, 1, (500, 10))
    z[np.arange(500), rng.integers(0, 10, 500)] += 9.0
    p = softmax(z)
    add("heavy_overconfidence_k10_n500", "confidence ~0.99, labels uniform (accuracy ~10%)", p,
        rng.integers(0, 10, 500))

    palette = np.array([[0.3, 0.3, 0.2, 0.2], [0.5, 0.5, 0.0, 0.0], [0.6, 0.4, 0.0, 0.0],
                        [0.7, 0.1, 0.1, 0.1], [0.4, 0.2, 0.2, 0.2], [0.8, 0.2, 0.0, 0.0],
                        [0.9, 0.1, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0], [0.6, 0.2, 0.2, 0.0]])
    idx = rng.integers(0, len(palette), 200)
    # Rows with top scores 0.3, 0.6 and 0.9 are always right (under-confident),
    # the others get random labels (over-confident), so that bins on either
    # side of an edge have gaps of different signs and moving a row across the
    # edge changes the L1 error.
    always_right = np.isin(idx, [0, 2, 6, 8])
    labels = np.where(always_right, palette[idx].argmax(axis=1), rng.integers(0, 4, 200))
    add("edge_values_k4_n200", "scores exactly on bin edges i/10 and i/15", palette[idx], labels)

    palette = np.array([[0.4, 0.4, 0.2], [0.2, 0.4, 0.4], [0.45, 0.1, 0.45], [0.5, 0.3, 0.2]])
    idx = rng.integers(0, len(palette), 300)
    labels = rng.integers(0, 3, 300)
    jitter = rng.normal(0, 0.02, (300, 3))
    p = np.where(idx[:, None] == 3, softmax(np.log(palette[idx]) + jitter), palette[idx])
    add("argmax_ties_k3_n300", "two-way ties for the maximum: the first arg-max is the prediction", p, labels)

    palette = softmax(rng.normal(0, 1.5, (40, 3)))
    idx = rng.integers(0, 40, 600)
    add("discrete_k3_n600", "600 rows drawn from 40 distinct rows: fewer than n/4 distinct scores per column",
        palette[idx], sample_labels(rng, softmax(np.log(palette[idx]) / 3)))

    add("single_row_k3_n1", "one row", [[0.2, 0.5, 0.3]], [1])

    add("uniform_k5_n500", "every row uniform (one tie group of all rows)", np.full((500, 5), 0.2),
        rng.integers(0, 5, 500))
    return sets


# ---------------------------------------------------------------- reference calls


def call(entries, library, version, call_text, metric, fn, dtype="float64", tol=F64_TOL,
         bins=None, cls=None, differs_because=None, binning_note=None, **extra):
    entry = dict(id=len(entries), library=library, version=version, call=call_text, metric=metric,
                 dtype=dtype, tolerance=tol)
    if cls is not None:
        entry["class"] = cls
    try:
        value = fn()
        entry["value"] = r(value)
        if bins is not None:
            entry["library_bins"] = bins()
        if differs_because:
            entry["differs_because"] = differs_because
        if binning_note:
            entry["binning_note"] = binning_note
    except Exception as exc:  # recorded: a library refusing an input is a finding too
        entry["error"] = f"{type(exc).__name__}: {exc}".strip()[:300]
    entry.update(extra)
    entries.append(entry)
    return entry


def edges_list(e):
    return [r(x) for x in np.asarray(e, dtype=np.float64).ravel()]


def dedupe(per_class):
    """One list when every class has the same edges (the list then applies to all)."""
    return per_class[:1] if all(e == per_class[0] for e in per_class) else per_class


def torchmetrics_refs(s, entries):
    probs, labels, k = s["probs"], s["labels"], s["probs"].shape[1]
    n = len(labels)
    p32 = torch.tensor(probs, dtype=torch.float32)
    p64 = torch.tensor(probs, dtype=torch.float64)
    y = torch.tensor(labels)
    conf64, pred64 = p64.max(dim=1)
    acc64 = pred64.eq(y).double()
    # float32: inputs rounded to 2^-24 relative and per-bin sums accumulated
    # sequentially in float32 by scatter_add_, whose worst-case error grows like
    # n * 2^-24; that bound is the tolerance.
    tol32 = max(1e-6, n * 2.0 ** -24)
    names = {"l1": "ece[top-label,equal-width,{b},L1]", "l2": "ce[top-label,equal-width,{b},L2]",
             "max": "ce[top-label,equal-width,{b},max]"}
    for b in s["bins"]:
        edges64 = torch.linspace(0, 1, b + 1, dtype=torch.float64)
        edges32 = torch.linspace(0, 1, b + 1, dtype=torch.float32)
        bin64 = torch.bucketize(conf64, edges64, right=True) - 1
        moved = bool((bin64 != torch.bucketize(conf64.float(), edges32, right=True) - 1).any())
        single = bool((torch.bincount(bin64) == 1).any())
        tbins = lambda: dict(rule="torch-bucketize",
                             edges=[edges_list(torch.linspace(0, 1, b + 1, dtype=torch.float64).numpy())])
        for norm, name in names.items():
            twin = call(entries, "torchmetrics", torchmetrics.__version__,
                        f"_ce_compute(*[t.double() for t in (p64.max(dim=1).values, p64.argmax(1).eq(y))], "
                        f"bin_boundaries={b}, norm='{norm}')  # float64 path of multiclass_calibration_error",
                        name.format(b=b), lambda: _ce_compute(conf64, acc64, b, norm=norm).item(), bins=tbins)
            call(entries, "torchmetrics", torchmetrics.__version__,
                 f"multiclass_calibration_error(torch.tensor(probs, dtype=torch.float32), y, num_classes={k}, "
                 f"n_bins={b}, norm='{norm}')",
                 name.format(b=b), lambda: multiclass_calibration_error(p32, y, num_classes=k, n_bins=b,
                                                                       norm=norm).item(),
                 dtype="float32", tol=tol32, float64_twin=twin["id"],
                 differs_because="float32 rounding moves scores that sit on a bin edge" if moved else None)
        call(entries, "torchmetrics", torchmetrics.__version__,
             f"_ce_compute(conf64, acc64, bin_boundaries={b}, norm='l2', debias=True)",
             f"ce[top-label,equal-width,{b},L2,debiased]",
             lambda: float(_ce_compute(conf64, acc64, b, norm="l2", debias=True)), bins=tbins,
             differs_because=("torchmetrics keeps the plug-in squared gap of a single-row bin (its "
                              "correction is 0/0 -> 0 there); uncertainty-calibration and oodcal drop "
                              "such bins") if single else None)
    call(entries, "torchmetrics", torchmetrics.__version__,
         f"multiclass_accuracy(torch.tensor(probs, dtype=torch.float64), y, num_classes={k}, average='micro')",
         "accuracy", lambda: multiclass_accuracy(p64, y, num_classes=k, average="micro").item(),
         dtype="float32", tol=1e-7)
    call(entries, "torch", torch.__version__, "F.nll_loss(torch.log(torch.tensor(probs, dtype=torch.float64)), y)",
         "nll", lambda: F.nll_loss(torch.log(p64), y).item())


def netcal_refs(s, entries):
    probs, labels, k = s["probs"], s["labels"], s["probs"].shape[1]
    binary = k == 2
    for b in s["bins"]:
        for equal, binning in ((True, "equal-width"), (False, "equal-mass")):
            for cls, norm, metric in ((NetcalECE, "L1", "ece"), (NetcalMCE, "max", "ce")):
                inst = cls(bins=b, equal_intervals=equal)

                def bins(inst=inst):
                    x, _, _, bounds, _ = inst.prepare(probs, labels)
                    return dict(rule="numpy-histogram", edges=[edges_list(bounds[0][0])])

                scope = "classwise" if binary else "top-label"
                note = None
                if not equal:
                    note = ("netcal's adaptive bins are np.quantile edges (linear interpolation) with "
                            "[lo, hi) bins, not array_split rank groups")
                call(entries, "netcal", netcal.__version__,
                     f"{cls.__name__}(bins={b}, equal_intervals={equal}).measure(probs, labels)",
                     f"{metric}[{scope},{binning},{b},{norm}]", lambda inst=inst: inst.measure(probs, labels),
                     bins=bins, cls=1 if binary else None, binning_note=note)


def ucal_refs(s, entries):
    probs, labels, k = s["probs"], s["labels"], s["probs"].shape[1]
    conf = ucal.get_top_probs(probs)
    cols = [probs[:, c] for c in range(k)]
    right = "right-closed"

    def top_bins(scheme, b):
        return lambda: dict(rule=right, edges=[edges_list(scheme(conf, num_bins=b))])

    def class_bins(scheme, b):
        return lambda: dict(rule=right, edges=dedupe([edges_list(scheme(c, num_bins=b)) for c in cols]))

    for b in s["bins"]:
        calls = [
            (f"get_ece(probs, labels, num_bins={b})", f"ece[top-label,equal-width,{b},L1]",
             lambda: ucal.get_ece(probs, labels, num_bins=b), top_bins(ucal.get_equal_prob_bins, b)),
            (f"get_ece_em(probs, labels, num_bins={b})", f"ece[top-label,equal-mass,{b},L1]",
             lambda: ucal.get_ece_em(probs, labels, num_bins=b), top_bins(ucal.get_equal_bins, b)),
            (f"get_ece(probs, labels, num_bins={b}, mode='marginal')", f"ece[classwise,equal-width,{b},L1]",
             lambda: ucal.get_ece(probs, labels, num_bins=b, mode="marginal"),
             class_bins(ucal.get_equal_prob_bins, b)),
            (f"get_ece_em(probs, labels, num_bins={b}, mode='marginal')", f"ece[classwise,equal-mass,{b},L1]",
             lambda: ucal.get_ece_em(probs, labels, num_bins=b, mode="marginal"),
             class_bins(ucal.get_equal_bins, b)),
            (f"lower_bound_scaling_ce(probs, labels, p=2, debias=False, num_bins={b}, "
             f"binning_scheme=get_equal_bins, mode='top-label')", f"ce[top-label,equal-mass,{b},L2]",
             lambda: ucal.lower_bound_scaling_ce(probs, labels, p=2, debias=False, num_bins=b,
                                                 binning_scheme=ucal.get_equal_bins, mode="top-label"),
             top_bins(ucal.get_equal_bins, b)),
            (f"lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins={b}, "
             f"binning_scheme=get_equal_bins, mode='top-label')", f"ce[top-label,equal-mass,{b},L2,debiased]",
             lambda: ucal.lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins=b,
                                                 binning_scheme=ucal.get_equal_bins, mode="top-label"),
             top_bins(ucal.get_equal_bins, b)),
            (f"lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins={b}, "
             f"binning_scheme=get_equal_prob_bins, mode='top-label')", f"ce[top-label,equal-width,{b},L2,debiased]",
             lambda: ucal.lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins=b,
                                                 binning_scheme=ucal.get_equal_prob_bins, mode="top-label"),
             top_bins(ucal.get_equal_prob_bins, b)),
            (f"lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins={b}, "
             f"binning_scheme=get_equal_bins, mode='marginal')", f"ce[classwise,equal-mass,{b},L2,debiased]",
             lambda: ucal.lower_bound_scaling_ce(probs, labels, p=2, debias=True, num_bins=b,
                                                 binning_scheme=ucal.get_equal_bins, mode="marginal"),
             class_bins(ucal.get_equal_bins, b)),
        ]
        for text, metric, fn, bins in calls:
            call(entries, "uncertainty-calibration", UCAL_VERSION, text, metric, fn, bins=bins)

    discrete = ucal.is_discrete(probs)
    why = ("get_calibration_error judged the scores discrete (is_discrete) and bins by unique value "
           "(get_discrete_bins), not 15 equal-mass bins") if discrete else None
    scheme = (lambda x: ucal.get_discrete_bins(x)) if discrete else (lambda x: ucal.get_equal_bins(x, num_bins=15))
    call(entries, "uncertainty-calibration", UCAL_VERSION, "get_calibration_error(probs, labels, mode='top-label')",
         "ce[top-label,equal-mass,15,L2,debiased]",
         lambda: ucal.get_calibration_error(probs, labels, mode="top-label"),
         bins=lambda: dict(rule=right, edges=[edges_list(scheme(conf))]), binning_note=why)
    call(entries, "uncertainty-calibration", UCAL_VERSION, "get_calibration_error(probs, labels)",
         "ce[classwise,equal-mass,15,L2,debiased]", lambda: ucal.get_calibration_error(probs, labels),
         bins=lambda: dict(rule=right, edges=dedupe([edges_list(scheme(c)) for c in cols])), binning_note=why)


def sklearn_refs(s, entries):
    probs, labels, k = s["probs"], s["labels"], s["probs"].shape[1]
    zero = bool((probs[np.arange(len(labels)), labels] == 0).any())
    call(entries, "scikit-learn", sklearn.__version__, f"log_loss(labels, probs, labels=range({k}))", "nll",
         lambda: sklearn.metrics.log_loss(labels, probs, labels=list(range(k))),
         differs_because="log_loss clips probabilities to [eps, 1-eps]: a zero on the label gives "
                         "-ln(eps) instead of inf" if zero else None)
    call(entries, "scikit-learn", sklearn.__version__,
         f"brier_score_loss(labels, probs, labels=range({k}), scale_by_half=False)", "brier[multiclass]",
         lambda: sklearn.metrics.brier_score_loss(labels, probs, labels=list(range(k)), scale_by_half=False))


def encode_set(s, entries):
    return dict(name=s["name"], description=s["description"], n_classes=int(s["probs"].shape[1]),
                probs=[" ".join(r(x) for x in row) for row in s["probs"]],
                labels=[int(x) for x in s["labels"]], bins=s["bins"], references=entries)


# ---------------------------------------------------------------- temperature scaling


def temperature_fixture():
    """Temperature fitted by scipy's bounded Brent on log T over torch's float64
    cross-entropy, and uncertainty-calibration's ECE on an OOD set before and after."""
    rng = np.random.default_rng(7)
    k = 5
    base = rng.normal(0, 1.5, (600, k))
    val_logits = 2.5 * base  # over-confident: labels follow softmax(base)
    val_labels = sample_labels(rng, softmax(base))
    ood_base = rng.normal(0, 1.0, (300, k))
    ood_logits = 2.5 * ood_base
    ood_labels = sample_labels(rng, softmax(ood_base))

    zt = torch.tensor(val_logits, dtype=torch.float64)
    yt = torch.tensor(val_labels)

    def nll(log_t):
        return F.cross_entropy(zt / math.exp(log_t), yt).item()

    res = scipy.optimize.minimize_scalar(nll, bounds=(math.log(1e-3), math.log(1e3)), method="bounded",
                                         options=dict(xatol=1e-12, maxiter=500))
    t = math.exp(res.x)
    ece = lambda logits, temp: ucal.get_ece(softmax(logits / temp), ood_labels, num_bins=10)
    return dict(
        call=("scipy.optimize.minimize_scalar(lambda u: F.cross_entropy(z / exp(u), y).item(), "
              "bounds=(log 1e-3, log 1e3), method='bounded', options=dict(xatol=1e-12))"),
        versions=dict(scipy=scipy.__version__, torch=torch.__version__, uncertainty_calibration=UCAL_VERSION),
        n_classes=k,
        val_logits=[" ".join(r(x) for x in row) for row in val_logits], val_labels=[int(x) for x in val_labels],
        ood_logits=[" ".join(r(x) for x in row) for row in ood_logits], ood_labels=[int(x) for x in ood_labels],
        temperature=r(t), nll_at_1=r(nll(0.0)), nll_at_temperature=r(nll(res.x)),
        ood_ece_call="get_ece(softmax(ood_logits / T), ood_labels, num_bins=10)",
        ood_ece_before=r(ece(ood_logits, 1.0)), ood_ece_after=r(ece(ood_logits, t)),
    )


def main():
    sets = []
    for s in make_sets():
        entries = []
        for fn in (torchmetrics_refs, netcal_refs, ucal_refs, sklearn_refs):
            if fn is torchmetrics_refs and s["probs"].shape[1] < 2:
                continue
            fn(s, entries)
        sets.append(encode_set(s, entries))
        print(f"{s['name']}: {len(entries)} references, "
              f"{sum('error' in e for e in entries)} library errors", file=sys.stderr)
    doc = dict(
        format=1,
        generator="scripts/make_metrics_fixtures.py",
        versions=dict(python=sys.version.split()[0], numpy=np.__version__, scipy=scipy.__version__,
                      torch=torch.__version__, torchmetrics=torchmetrics.__version__, netcal=netcal.__version__,
                      uncertainty_calibration=UCAL_VERSION, scikit_learn=sklearn.__version__),
        bin_rules=dict(
            **{"torch-bucketize": "bin = #{edges <= s} - 1 (torch.bucketize(right=True) - 1): B+1 bins, "
                                  "a score of exactly 1.0 in the extra bin B",
               "numpy-histogram": "[e_i, e_i+1), last bin closed; duplicate edges give empty bins and a tie "
                                  "at a duplicated edge goes up (np.digitize / histogramdd)",
               "right-closed": "edges are upper bounds u_1..u_m; bin = #{u < s} (np.searchsorted side='left')"}),
        sets=sets,
        temperature=temperature_fixture(),
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
