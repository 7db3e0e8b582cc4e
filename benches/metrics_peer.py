#!/usr/bin/env python3
"""Peer benchmark for oodcal's metrics: torchmetrics' top-label ECE on CPU.

Times `multiclass_calibration_error(preds, target, num_classes=K, n_bins=10,
norm='l1')` on N x K float32 probabilities (float32 is what torchmetrics
computes in), the paper's ECE preset, and prints the time and the process's
peak RSS. oodcal's counterpart is `oodcal::metrics::bench::time_paper_preset`,
which computes more (the ECE under both binnings, accuracy and NLL) in f64.

Run by humans only (not by the Rust tests):

    /tmp/venv-metrics/bin/python benches/metrics_peer.py                  # 10,000,000 x 10
    /tmp/venv-metrics/bin/python benches/metrics_peer.py --rows 1000000 --threads 2

Versions used for the numbers in the report: torch 2.15.0 (PyPI wheel 2.15.0+cu132, on CPU), torchmetrics
1.9.0, Python 3.11.7.
"""

import argparse
import json
import resource
import time

import torch
import torchmetrics
from torchmetrics.functional.classification import multiclass_calibration_error


def synthetic(rows, classes, seed):
    """Softmax of uniform logits with a boost on the label, as oodcal's
    `bench::synthetic_predictions` builds them (same shape and value ranges,
    not the same numbers)."""
    gen = torch.Generator().manual_seed(seed)
    preds = torch.empty(rows, classes, dtype=torch.float32)
    target = torch.empty(rows, dtype=torch.int64)
    step = 1 << 20  # in chunks, so that generation does not set the peak RSS
    for start in range(0, rows, step):
        m = min(step, rows - start)
        logits = 4.0 * torch.rand(m, classes, generator=gen)
        y = torch.randint(0, classes, (m,), generator=gen)
        logits[torch.arange(m), y] += 4.0 * torch.rand(m, generator=gen)
        preds[start:start + m] = torch.softmax(logits, dim=1)
        target[start:start + m] = y
    return preds, target


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--bins", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rss_after_import = peak_rss_mib()
    t0 = time.perf_counter()
    preds, target = synthetic(args.rows, args.classes, 0)
    gen_s = time.perf_counter() - t0
    rss_after_data = peak_rss_mib()

    runs = []
    for validate in (True, False):
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ece = multiclass_calibration_error(preds, target, num_classes=args.classes, n_bins=args.bins,
                                               norm="l1", validate_args=validate)
            runs.append(dict(validate_args=validate, seconds=time.perf_counter() - t0, ece=float(ece)))

    print(json.dumps(dict(
        library="torchmetrics", version=torchmetrics.__version__, torch=torch.__version__,
        threads=torch.get_num_threads(), rows=args.rows, classes=args.classes, n_bins=args.bins,
        dtype=str(preds.dtype), generate_s=gen_s,
        best_s={str(v): min(r["seconds"] for r in runs if r["validate_args"] == v) for v in (True, False)},
        runs=runs, peak_rss_mib=peak_rss_mib(), peak_rss_after_import_mib=rss_after_import,
        peak_rss_after_data_mib=rss_after_data,
    ), indent=1))


if __name__ == "__main__":
    main()
