#!/usr/bin/env python3
"""PyTorch peer of one pacs-lite fine-tuning run (CPU preset), to set beside
oodcal's numbers: same data, splits, protocol and weights, another framework.

DomainBed's protocol as experiments/pacs-lite.toml sets it: PACS, test domain
art_painting, each domain split 80/20 with DomainBed's seed_hash + numpy
shuffle (the split oodcal reproduces), one minibatch of `--batch` images per
training domain per step (sampled with replacement, as DomainBed's infinite
loaders do), SGD with momentum 0.9, the ImageNet head kept and a linear layer
to the 7 classes added. Images are decoded and resized to `--size` once, then
augmented at that size (RandomResizedCrop scale 0.7-1, flip, ColorJitter 0.3,
grayscale p 0.1), as oodcal's cached pipeline does. The model is the
reference package efficientnet-lite-pytorch 0.1.0 with the pinned weights.

With `--trainable-blocks N` (the CPU preset's `trainable_blocks`), only the
last N blocks, the head conv and the classifiers train: the stem and the blocks
below are frozen, kept in evaluation mode (BatchNorm running statistics), and
no image is augmented, training or ID validation (oodcal computes the frozen
layers once per image; here they run every step, which changes the time, not
the arithmetic's meaning).

It is a peer, not a replica of the random streams: the sampled batches and
augmentations differ from oodcal's, so compare means over seeds, not runs.

    pip install torch torchvision efficientnet-lite-pytorch==0.1.0 pillow
    python scripts/pacs_lite_peer.py --pacs ../shared/datasets/PACS \\
        --weights ~/.cache/oodcal/weights/efficientnet-lite0-57934424.pth --seed 0
"""
import argparse
import hashlib
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

DOMAINS = ["art_painting", "cartoon", "photo", "sketch"]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def seed_hash(*args):
    """DomainBed's misc.seed_hash."""
    return int(hashlib.md5(str(args).encode("utf-8")).hexdigest(), 16) % (2**31)


def load_domain(root, size):
    """ImageFolder order (sorted classes, sorted files), resized once to size x size."""
    classes = sorted(os.listdir(root))
    images, labels = [], []
    for label, c in enumerate(classes):
        for name in sorted(os.listdir(os.path.join(root, c))):
            img = Image.open(os.path.join(root, c, name)).convert("RGB")
            images.append(img.resize((size, size), Image.BILINEAR))
            labels.append(label)
    return images, np.array(labels)


def split(n, holdout, seed):
    """DomainBed's misc.split_dataset: the first int(n * holdout) shuffled keys are `out`."""
    keys = list(range(n))
    np.random.RandomState(seed).shuffle(keys)
    k = int(n * holdout)
    return keys[k:], keys[:k]  # in, out


def ece(probs, labels, bins=10):
    """Top-label ECE, equal-width bins [lo, hi), confidence 1.0 in the last bin, x100."""
    conf, pred = probs.max(1)
    correct = (pred == labels).float()
    idx = torch.clamp((conf * bins).long(), max=bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.float().sum() * (conf[m].mean() - correct[m].mean()).abs()
    return float(100 * total / len(labels))


PLAIN = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


def evaluate(model, images, labels, idx, transform=PLAIN):
    model.eval()
    device = next(model.parameters()).device
    # 256 images a pass: a whole split at once needs ~13 GB at 160 px.
    with torch.no_grad():
        probs = torch.cat([
            F.softmax(model(torch.stack([transform(images[i]) for i in part]).to(device)), dim=1).cpu()
            for part in (idx[k:k + 256] for k in range(0, len(idx), 256))
        ])
    y = torch.tensor(labels[idx])
    return float(100 * (probs.argmax(1) == y).float().mean()), ece(probs, y)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pacs", required=True)
    p.add_argument("--weights", help="the pinned .pth; omit for a from-scratch run")
    p.add_argument("--model", default="efficientnet-lite0")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--trainable-blocks", type=int, default=0,
                   help="train only the last N blocks (0: the whole network)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.RandomState(a.seed)

    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(a.model)
    if a.weights:
        net.load_state_dict(torch.load(a.weights, map_location="cpu"))
    model = nn.Sequential(net, nn.Linear(1000, 7)).to(a.device)
    frozen = []
    if a.trainable_blocks:
        frozen = [net._conv_stem, net._bn0, *net._blocks[: len(net._blocks) - a.trainable_blocks]]
        for module in frozen:
            module.requires_grad_(False)

    data = {d: load_domain(os.path.join(a.pacs, d), a.size) for d in DOMAINS}
    splits = {d: split(len(data[d][1]), 0.2, seed_hash(a.seed, i)) for i, d in enumerate(DOMAINS)}
    train_domains = [d for d in DOMAINS if d != "art_painting"]
    aug = transforms.Compose([
        transforms.RandomResizedCrop(a.size, scale=(0.7, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(0.3, 0.3, 0.3, 0.3),
        transforms.RandomGrayscale(),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    if a.trainable_blocks:
        aug = PLAIN
    trained = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(trained, lr=a.lr, momentum=0.9, weight_decay=a.wd)
    start = time.perf_counter()
    for _ in range(a.steps):
        model.train()
        for module in frozen:
            module.eval()
        xs, ys = [], []
        for d in train_domains:
            images, labels = data[d]
            pick = rng.choice(splits[d][0], a.batch)
            xs += [aug(images[i]) for i in pick]
            ys += list(labels[pick])
        x, y = torch.stack(xs).to(a.device), torch.tensor(ys).to(a.device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if a.device != "cpu":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - start

    # ID validation: the out splits of the training domains, pooled, seen
    # through the training augmentation (DomainBed's quirk, augment_id_validation).
    id_correct, id_n = 0.0, 0
    for d in train_domains:
        acc, _ = evaluate(model, *data[d], splits[d][1], aug)
        id_correct += acc * len(splits[d][1])
        id_n += len(splits[d][1])
    ood = [evaluate(model, *data["art_painting"], s) for s in splits["art_painting"]]
    print(json.dumps({
        "framework": f"torch {torch.__version__}",
        "model": a.model + ("" if a.weights else "-scratch"),
        "seed": a.seed, "lr": a.lr, "steps": a.steps, "size": a.size,
        "trainable_blocks": a.trainable_blocks or "all",
        "id_accuracy": id_correct / id_n,
        "ood_accuracy": (ood[0][0] + ood[1][0]) / 2,
        "ood_ece": (ood[0][1] + ood[1][1]) / 2,
        "train_seconds": train_s,
        "device": a.device,
    }))


if __name__ == "__main__":
    main()
