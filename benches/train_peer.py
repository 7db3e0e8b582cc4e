#!/usr/bin/env python3
"""PyTorch peer of oodcal's training and evaluation throughput benchmark.

Builds the same zoo architectures as src/model/ (ResNet-style CNN and small ViT,
tiny/small/base; EfficientNet-Lite0/1/2 from the reference package
efficientnet-lite-pytorch, which oodcal's parity test matches; any timm
architecture by its timm name, which oodcal's timm parity tests match), times forward + cross-entropy + backward + SGD(momentum 0.9,
weight decay 1e-4) steps on a fixed random batch, and (unless --no-eval) the
forward pass alone in eval mode under no_grad, and prints one JSON line per
model and phase with images/second. --device cuda times the same on a GPU.
With --burn FILE (the JSON lines of `oodcal bench train`), it also prints
burn/PyTorch throughput ratios.

Parameter counts are printed the way burn counts them (parameters plus
BatchNorm running mean and variance) so the architectures can be checked
against burn's `num_params`.

    pip install torch efficientnet-lite-pytorch==0.1.0 timm==1.0.31   # CPU is enough
    python benches/train_peer.py --steps 5 [--device cuda] [--burn burn.jsonl]
"""
import argparse
import json
import os
import platform
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Must match ModelSpec::backbone in src/model/zoo.rs.
RESNET = {"tiny": (8, [1, 1, 1]), "small": (16, [1, 1, 1]), "base": (32, [1, 1, 1])}
VIT = {"tiny": (32, 2, 2), "small": (64, 4, 4), "base": (96, 4, 4)}
VIT_GRID = 8
MLP_RATIO = 4


class ConvBn(nn.Sequential):
    def __init__(self, c_in, c_out, stride, kernel):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = ConvBn(c_in, c_out, stride, 3)
        self.conv2 = ConvBn(c_out, c_out, 1, 3)
        needs_projection = stride != 1 or c_in != c_out
        self.shortcut = ConvBn(c_in, c_out, stride, 1) if needs_projection else None

    def forward(self, x):
        residual = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(self.conv2(F.relu(self.conv1(x))) + residual)


class ResNet(nn.Module):
    def __init__(self, width, blocks, classes):
        super().__init__()
        self.stem = ConvBn(3, width, 1, 3)
        layers, channels = [], width
        for stage, count in enumerate(blocks):
            out = width << stage
            for i in range(count):
                layers.append(BasicBlock(channels, out, 2 if stage > 0 and i == 0 else 1))
                channels = out
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(channels, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))


class Attention(nn.Module):
    """Separate q/k/v/output projections with biases, as burn's MultiHeadAttention."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.output = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        context = F.scaled_dot_product_attention(q, k, v)
        return self.output(context.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, dim * MLP_RATIO), nn.Linear(dim * MLP_RATIO, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Vit(nn.Module):
    def __init__(self, dim, depth, heads, image_size, classes, patch=None, pool="cls"):
        super().__init__()
        patch = patch or image_size // VIT_GRID
        grid = image_size // patch
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + (pool == "cls"), dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(*(Block(dim, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        if self.cls_token is None:
            return self.head(self.norm(self.blocks(x + self.pos_embed)).mean(1))
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def build(name, image_size, classes, vit_shape=(None, "cls")):
    if "-" not in name:  # a timm architecture (`resnet50`, `vit_tiny_patch16_224`)
        import timm

        kwargs = {"img_size": image_size} if name.startswith(("vit_", "mixer_")) else {}
        return timm.create_model(name.split(".")[0], pretrained=False, num_classes=classes, **kwargs)
    if name.startswith("efficientnet-lite"):
        # Imported here so the zoo benchmark needs only torch.
        from efficientnet_lite_pytorch import EfficientNet

        return EfficientNet.from_name(name, num_classes=classes)
    family, size = name.split("-")
    if family == "resnet":
        return ResNet(*RESNET[size], classes)
    return Vit(*VIT[size], image_size, classes, *vit_shape)


def burn_style_param_count(model):
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    return sum(p.numel() for p in model.parameters()) + buffers


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def record(name, phase, model, device, batch, image_size, steps, seconds):
    return {
        "model": name,
        "phase": phase,
        "params": burn_style_param_count(model),
        "framework": f"torch {torch.__version__}",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "batch": batch,
        "image_size": image_size,
        "steps": steps,
        "seconds": seconds,
        "images_per_sec": batch * steps / seconds,
    }


def throughput(name, batch, image_size, classes, warmup, steps, device, vit_shape):
    torch.manual_seed(0)
    model = build(name, image_size, classes, vit_shape).to(device)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    images = (torch.rand(batch, 3, image_size, image_size) - 0.5).to(device)
    labels = torch.randint(0, classes, (batch,)).to(device)
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        optim.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optim.step()
        loss.item()  # oodcal reads every step's loss back, so the peer does too
    sync(device)
    return record(name, "train", model, device, batch, image_size, steps, time.perf_counter() - start)


def eval_throughput(name, batch, image_size, classes, warmup, steps, device, vit_shape):
    torch.manual_seed(0)
    model = build(name, image_size, classes, vit_shape).to(device)
    model.eval()
    images = torch.rand(batch, 3, image_size, image_size) - 0.5
    with torch.no_grad():
        for i in range(warmup + steps):
            if i == warmup:
                sync(device)
                start = time.perf_counter()
            # Host to device and back, as oodcal's evaluation moves each batch.
            model(images.to(device)).cpu()
    return record(name, "eval", model, device, batch, image_size, steps, time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(f"{f}-{s}" for f in ("resnet", "vit") for s in RESNET))
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--vit-patch", type=int, help="the zoo ViTs' patch side (default: an 8x8 grid)")
    parser.add_argument("--vit-pool", choices=["cls", "mean"], default="cls")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-eval", action="store_true", help="training figures only")
    parser.add_argument("--burn", help="JSON lines from the burn benchmark, to print ratios")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    vit_shape = (args.vit_patch, args.vit_pool)
    shape = (args.batch, args.image_size, args.classes, args.warmup, args.steps, device, vit_shape)
    results = {}
    for name in args.models.split(","):
        timed = [throughput] + ([] if args.no_eval else [eval_throughput])
        for measure in timed:
            r = measure(name, *shape)
            results[(name, r["phase"])] = r
            print(json.dumps(r), flush=True)

    if args.burn:
        with open(args.burn) as f:
            burn = [json.loads(line) for line in f if line.startswith("{")]
        print(f"{'model':<20}{'phase':<7}{'params burn/torch':>22}{'burn img/s':>12}{'torch img/s':>13}{'burn/torch':>12}")
        for b in burn:
            t = results.get((b["model"], b.get("phase", "train")))
            if t is None:
                continue
            ratio = b["images_per_sec"] / t["images_per_sec"]
            params = f"{b['params']}/{t['params']}"
            print(f"{b['model']:<20}{t['phase']:<7}{params:>22}{b['images_per_sec']:>12.1f}{t['images_per_sec']:>13.1f}{ratio:>12.2f}")


if __name__ == "__main__":
    main()
