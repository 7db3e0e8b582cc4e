#!/usr/bin/env python3
"""burn against PyTorch on this machine's CPU, in one run: the ratio table.

For each model and thread count it runs `oodcal bench train` (training steps
and evaluation passes, one model per process so that its peak resident
memory is the model's) and `benches/train_peer.py` with the same model,
resolution, batch, steps and threads, then prints two Markdown tables:

* the ratio table: burn and PyTorch images/s for training and evaluation,
  their ratio, and burn's peak resident memory;
* thread use: one run on 2 threads against two runs side by side on one
  thread each (the choice `oodcal run --jobs` makes), training images/s.

    pip install torch efficientnet-lite-pytorch==0.1.0
    cargo build --release
    python benches/cpu_table.py --oodcal target/release/oodcal > table.md
    python benches/cpu_table.py --timm --steps 2 > timm-table.md   # pip install timm==1.0.31
"""
import argparse
import json
import os
import subprocess
import sys

# (models, resolution, batch): the quick zoo at the quick study's resolution,
# EfficientNet-Lite at pacs-lite's (batch 24 = 3 domains x 8) and at 128 px.
CONFIGS = [
    ("resnet-tiny,resnet-small,resnet-base", 16, 96),
    ("vit-tiny,vit-small,vit-base", 16, 96),
    ("efficientnet-lite0,efficientnet-lite1,efficientnet-lite2", 64, 24),
    ("efficientnet-lite0", 128, 24),
]
# The quick study's ViTs (experiments/quick.toml): 4 px patches, mean pooling.
VIT_SHAPE = ["--vit-patch", "4", "--vit-pool", "mean"]
# --timm (issue 20): the smallest tag of each of the paper's families, at the
# paper's resolution, batch 32, two threads.
TIMM_CONFIGS = [
    ("resnet50,vgg11,regnety_002,tf_efficientnet_b0,tf_efficientnet_lite0,"
     "convnext_tiny,vit_tiny_patch16_224,mixer_b16_224", 224, 32),
]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def burn(args, model, size, batch, threads, eval_too=True):
    cmd = [args.oodcal, "bench", "train", "--models", model, "--image-size", str(size),
           "--batch", str(batch), "--warmup", str(args.warmup), "--steps", str(args.steps),
           *VIT_SHAPE]
    if not eval_too:
        cmd.append("--no-eval")
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)


def torch(args, model, size, batch, threads):
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(here, "train_peer.py"), "--models", model,
           "--image-size", str(size), "--batch", str(batch), "--warmup", str(args.warmup),
           "--steps", str(args.steps), "--threads", str(threads), *VIT_SHAPE]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {r["phase"]: r for r in json_lines(out)}


def measure(args, model, size, batch):
    rows, thread_use = [], None
    if args.timm:  # two threads only: the 224 px steps take seconds each
        b = {r["phase"]: r for r in json_lines(burn(args, model, size, batch, 2).communicate()[0])}
        return [(2, b, torch(args, model, size, batch, 2))], None
    for threads in (2, 1):
        b = {r["phase"]: r for r in json_lines(burn(args, model, size, batch, threads).communicate()[0])}
        t = torch(args, model, size, batch, threads)
        rows.append((threads, b, t))
    # Two side-by-side runs of one thread each, training only.
    pair = [burn(args, model, size, batch, 1, eval_too=False) for _ in range(2)]
    together = sum(json_lines(p.communicate()[0])[0]["images_per_sec"] for p in pair)
    one, two = rows[1][1]["train"]["images_per_sec"], rows[0][1]["train"]["images_per_sec"]
    thread_use = (model, size, batch, one, two, together)
    return rows, thread_use


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--oodcal", default="target/release/oodcal")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--only", help="models to keep (comma-separated)")
    p.add_argument("--timm", action="store_true",
                   help="the paper's families at 224 px (needs timm) instead of the CPU presets")
    args = p.parse_args()
    keep = set(args.only.split(",")) if args.only else None

    table, threads_table = [], []
    for models, size, batch in TIMM_CONFIGS if args.timm else CONFIGS:
        for model in models.split(","):
            if keep and model not in keep:
                continue
            rows, thread_use = measure(args, model, size, batch)
            if thread_use:
                threads_table.append(thread_use)
            for threads, b, t in rows:
                table.append((model, size, batch, threads, b, t))
            print(f"measured {model} at {size} px", file=sys.stderr, flush=True)

    ratio = lambda b, t, phase: b[phase]["images_per_sec"] / t[phase]["images_per_sec"]
    print("| model | px | batch | threads | burn train img/s | torch train img/s | ratio | "
          "burn eval img/s | torch eval img/s | ratio | burn peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for model, size, batch, threads, b, t in table:
        print(f"| {model} | {size} | {batch} | {threads} | {b['train']['images_per_sec']:.1f} | "
              f"{t['train']['images_per_sec']:.1f} | {ratio(b, t, 'train'):.2f} | "
              f"{b['eval']['images_per_sec']:.1f} | {t['eval']['images_per_sec']:.1f} | "
              f"{ratio(b, t, 'eval'):.2f} | {b['eval']['peak_rss_mib']:.0f} |")
    if not threads_table:
        return
    print()
    print("| model | px | batch | 1 thread | 2 threads | 2 runs x 1 thread | best |")
    print("|---|---|---|---|---|---|---|")
    for model, size, batch, one, two, together in threads_table:
        best = "2 runs x 1 thread" if together > two else "1 run x 2 threads"
        print(f"| {model} | {size} | {batch} | {one:.1f} | {two:.1f} | {together:.1f} | {best} |")


if __name__ == "__main__":
    main()
