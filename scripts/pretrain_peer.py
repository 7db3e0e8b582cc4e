#!/usr/bin/env python3
"""PyTorch peer of `oodcal pretrain` for one quick-zoo ResNet on a glyph corpus,
to tell a difference of framework from the spread over pre-training seeds.

The recipe of `src/run/pretrain.rs` with recipe `baseline`: AdamW (weight decay
0.05, epsilon 1e-8), linear warm-up over the first twentieth of the steps then
cosine decay, minibatches drawn uniformly with replacement from the whole corpus,
RandomResizedCrop of the 32 px image to `--size` (area `--crop-scale`-1, aspect
3/4-4/3, antialiased bilinear as PIL) and a horizontal flip with probability
1/2, ImageNet normalisation. The architecture is benches/train_peer.py's replica
of src/model/resnet.rs, with oodcal's initialisation (PyTorch's default for
convolutions, a normal truncated at 2 standard deviations of 0.02 for the head).

It is a peer, not a replica of the random streams (its batches, crops and
initial weights differ from oodcal's), so compare the spread over seeds: it
prints, per seed, the mean training loss of the last tenth of the steps, the
figure `oodcal pretrain` prints as "final loss".

    pip install torch numpy pillow
    cargo run -- generate glyph-corpus-8k --export --data-root /tmp/corpus
    python scripts/pretrain_peer.py --corpus /tmp/corpus/glyph-corpus-8k --seeds 0 1 2
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches"))
from train_peer import RESNET, ResNet  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
WEIGHT_DECAY = 0.05


def load_corpus(root):
    """Images `[n, 3, h, w]` in [0, 1] and labels, from DomainBed's layout
    (`<domain>/<class>/<index>.png`); classes are numbered in sorted order."""
    files = sorted(glob.glob(os.path.join(root, "*", "*", "*.png")))
    if not files:
        sys.exit(f"{root}: no <domain>/<class>/*.png files (export the corpus first)")
    classes = sorted({f.split(os.sep)[-2] for f in files})
    index = {c: i for i, c in enumerate(classes)}
    pixels = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    labels = torch.tensor([index[f.split(os.sep)[-2]] for f in files])
    return images, labels, len(classes)


def lr_at(step, steps, lr):
    """Linear warm-up over steps/20, then cosine decay (oodcal's LrSchedule::Cosine)."""
    warmup = steps // 20
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))


def crop_flip(image, size, scale, g):
    """torchvision's RandomResizedCrop sampling (10 tries, then the whole image)
    with an antialiased bilinear resize, then a flip with probability 1/2."""
    _, h, w = image.shape
    box = (0, 0, w, h)
    for _ in range(10):
        area = h * w * float(torch.empty(1).uniform_(scale, 1.0, generator=g))
        ratio = math.exp(float(torch.empty(1).uniform_(math.log(3 / 4), math.log(4 / 3), generator=g)))
        cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            x0 = int(torch.randint(0, w - cw + 1, (1,), generator=g))
            y0 = int(torch.randint(0, h - ch + 1, (1,), generator=g))
            box = (x0, y0, cw, ch)
            break
    x0, y0, cw, ch = box
    region = image[None, :, y0:y0 + ch, x0:x0 + cw]
    out = F.interpolate(region, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    return out.flip(2) if float(torch.rand(1, generator=g)) < 0.5 else out


def pretrain(images, labels, classes, args, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = ResNet(*RESNET[args.size_name], classes)
    torch.nn.init.trunc_normal_(model.head.weight, std=0.02, a=-0.04, b=0.04)
    torch.nn.init.zeros_(model.head.bias)
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY, eps=1e-8)
    model.train()
    losses = []
    for step in range(args.steps):
        picked = torch.randint(0, len(labels), (args.batch,), generator=g)
        x = torch.stack([crop_flip(images[i], args.size, args.crop_scale, g) for i in picked])
        for group in optim.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr)
        loss = F.cross_entropy(model((x - MEAN) / STD), labels[picked])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        losses.append(loss.item())
    window = max(args.steps // 10, 1)
    return sum(losses[-window:]) / window


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True, help="an exported glyph corpus (DomainBed layout)")
    p.add_argument("--model", default="resnet-tiny", choices=[f"resnet-{s}" for s in RESNET])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--size", type=int, default=16, help="the study's resolution")
    p.add_argument("--crop-scale", type=float, default=0.35, help="smallest crop area fraction")
    p.add_argument("--threads", type=int, default=1, help="oodcal pre-trains on one thread")
    args = p.parse_args()
    args.size_name = args.model.split("-")[1]
    torch.set_num_threads(args.threads)
    images, labels, classes = load_corpus(args.corpus)
    for seed in args.seeds:
        start = time.perf_counter()
        final_loss = pretrain(images, labels, classes, args, seed)
        print(json.dumps({
            "framework": "pytorch", "torch": torch.__version__, "model": args.model,
            "corpus": os.path.basename(os.path.normpath(args.corpus)), "seed": seed,
            "steps": args.steps, "batch": args.batch, "lr": args.lr,
            "final_loss": round(final_loss, 4), "seconds": round(time.perf_counter() - start, 1),
        }), flush=True)


if __name__ == "__main__":
    main()
