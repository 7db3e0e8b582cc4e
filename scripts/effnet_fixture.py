#!/usr/bin/env python3
"""Parity fixtures for a burn implementation of EfficientNet-Lite0/1/2.

Runs the PyTorch reference implementation of EfficientNet-Lite (PyPI package
`efficientnet-lite-pytorch`, import name `efficientnet_lite_pytorch`) on CPU
with the pinned ImageNet-1k weights and writes what a Rust test needs to check
a burn port without Python:

  tests/fixtures/effnet/lite{0,1,2}.json    logits for two closed-form inputs
                                            (+ architecture, per-block stats)
  tests/fixtures/effnet/keys_lite{0,1,2}.txt every state_dict key of the .pth:
                                            shape, dtype, strides, layout
  tests/fixtures/effnet/photos/*.png        three CC0 / public-domain photos,
                                            resized + centre-cropped to each
                                            model's native resolution
  tests/fixtures/effnet/photos.json         top-5 ImageNet classes per photo
                                            and model
  tests/fixtures/effnet/imagenet_classes.txt the 1000 class names, index order

Run by humans only (CPU, about a minute, one thread):

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.15.0 numpy==2.4.6 pillow==13.0.0 \
        efficientnet-lite-pytorch==0.1.0 scikit-image==0.26.0
    /tmp/torchenv/bin/pip download timm==1.0.31 --no-deps -d /tmp/timm-wheel
    /tmp/torchenv/bin/python scripts/effnet_fixture.py \
        --timm-wheel /tmp/timm-wheel/timm-1.0.31-py3-none-any.whl

The committed fixtures were made with Python 3.11.7, torch 2.15.0 (the PyPI
wheel 2.15.0+cu132, run on CPU), numpy 2.4.6, Pillow 13.0.0, scikit-image
0.26.0, efficientnet-lite-pytorch 0.1.0, timm 1.0.31 (class names only); every
fixture file records the versions it was made with.

Weights: `$OODCAL_WEIGHTS_DIR` (default `$HOME/.cache/oodcal/weights`, as
oodcal's own default), the files `oodcal fetch efficientnet-lite{0,1,2}`
puts there. Each file's SHA-256 is checked against data-manifest.toml before
use; a mismatch is fatal.

The reference model is built with `EfficientNet.from_name(name)` (so its
TF-"SAME" padding is the static padding computed for the native resolution:
224 / 240 / 260) and loaded with `load_state_dict(strict=True)` (the package's
own `from_pretrained` loads with strict=False and only asserts on missing
keys). `local_pooling` is off in the package's Lite config, so the forward is
stem -> 16 (lite0) / 21 (lite1, lite2) MBConv blocks -> head -> global average pool -> dropout ->
linear, in eval mode (BatchNorm uses running statistics, dropout and drop
connect are off).

Synthetic inputs (what the Rust test regenerates): image n in {0, 1}, shape
[1, 3, S, S], value at (n, c, y, x) = float32(1.5 * sin(0.37*x + 0.11*y*(c+1)
+ n)), evaluated in float64 left to right with the libm `sin` (Python's
math.sin, the same function Rust's f64::sin calls) and rounded once to
float32. The JSON holds the exact formula text plus the sum and first values of
each input so that the Rust side can check its input before blaming the model.

Photos: skimage.data.chelsea() (cat), coffee() (cup), rocket(). For each model
resolution S: torchvision-style `Resize(S)` (short side to S, long side
int(S * long / short), PIL bilinear, which antialiases when downscaling), then
`CenterCrop(S)` (offsets int(round((len - S) / 2)), Python rounding), saved as
8-bit RGB PNG. The model input is then exactly ToTensor + Normalize with the
ImageNet mean/std (v / 255 - mean) / std, which is what oodcal's
`Normalize::IMAGENET` does, so the Rust test needs no resampling to reproduce
it.

Logits are written with 9 significant digits (exact float32 values).
"""

import argparse
import hashlib
import io
import json
import math
import os
import platform
import sys
import tomllib
import zipfile

import numpy as np
import PIL
import torch
from PIL import Image

import efficientnet_lite_pytorch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite_pytorch.utils import efficientnet_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "effnet")
MODELS = {
    "lite0": "efficientnet-lite0",
    "lite1": "efficientnet-lite1",
    "lite2": "efficientnet-lite2",
}
PHOTOS = ["chelsea", "coffee", "rocket"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FORMULA = "float32(1.5 * sin(0.37*x + 0.11*y*(c+1) + n))"
FORMULA_EVAL = (
    "x, y, c, n are the integer column, row, channel and image indices converted to float64; "
    "t = ((0.37*x) + ((0.11*y)*(c+1))) + n in float64, left to right; v = 1.5 * sin(t) in float64 "
    "with libm sin; the stored value is v rounded once to float32 (round to nearest even)"
)
N_INPUTS = 2
TIMM_WHEEL = "timm-1.0.31-py3-none-any.whl"
CLASS_SOURCE = (
    f"{TIMM_WHEEL}: for each WordNet id of timm/data/_info/imagenet_synsets.txt (the standard ImageNet-1k "
    "class order), its lemmas from timm/data/_info/imagenet_synset_to_lemma.txt"
)
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def g9(v):
    """A float32 value with 9 significant digits (round-trips float32)."""
    return float(f"{float(v):.9g}")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions():
    import skimage

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "scikit-image": skimage.__version__,
        "efficientnet-lite-pytorch": efficientnet_lite_pytorch.__version__,
    }


# ------------------------------------------------------------------ weights


def weights_dir():
    d = os.environ.get("OODCAL_WEIGHTS_DIR")
    if d:
        return d
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "oodcal", "weights")


def manifest_entry(name):
    with open(os.path.join(ROOT, "data-manifest.toml"), "rb") as f:
        manifest = tomllib.load(f)
    for entry in manifest["input"]:
        if entry["name"] == name:
            return entry
    sys.exit(f"data-manifest.toml has no input named {name}")


def pth_format(path):
    """'zip' (torch >= 1.6 default) or 'legacy' (torch < 1.6 sequential pickles)."""
    if zipfile.is_zipfile(path):
        return "zip"
    import pickle

    with open(path, "rb") as f:
        magic = pickle.load(f)
        proto = pickle.load(f)
        sys_info = pickle.load(f)
    if magic != LEGACY_MAGIC:
        sys.exit(f"{path}: neither a zip archive nor a legacy torch file")
    return f"legacy (non-zip pickle; protocol_version {proto}; sys_info {sys_info})"


def hwio_strides(shape):
    """Strides of a [O, I, kh, kw] tensor stored as TensorFlow's HWIO ([kh][kw][I][O])."""
    o, i, kh, kw = shape
    return (1, o, kw * i * o, i * o)


def same_strides(a, b, shape):
    return all(x == y for x, y, n in zip(a, b, shape) if n > 1)


def layout_of(t):
    shape = tuple(t.shape)
    stride = tuple(t.stride())
    if t.is_contiguous():
        return "contiguous"
    if t.dim() == 4 and same_strides(stride, hwio_strides(shape), shape):
        return "HWIO"
    if t.dim() == 2 and same_strides(stride, (1, shape[0]), shape):
        return "transposed"
    return "other"


def load_weights(key):
    name = MODELS[key]
    entry = manifest_entry(name)
    path = os.path.join(weights_dir(), entry["path"])
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        sys.exit(f"{path}: sha256 {digest} != data-manifest.toml {entry['sha256']}")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    return path, digest, pth_format(path), sd


def write_keys(key, path, digest, fmt, sd):
    counts = {}
    lines = [
        f"# state_dict of {os.path.basename(path)} (sha256 {digest}), in file order",
        f"# format: {fmt}",
        "# columns (tab-separated): key, shape, dtype, strides, storage_offset, storage_numel, layout",
        "# layout: contiguous = row-major; HWIO = storage holds [kh][kw][in][out] (TensorFlow order) for the",
        "#   logical PyTorch shape [out, in, kh, kw]; transposed = 2-D [out, in] stored as [in][out].",
        "# Each tensor has its own storage (no sharing) of exactly numel elements at offset 0.",
    ]
    for k, v in sd.items():
        lay = layout_of(v)
        counts[lay] = counts.get(lay, 0) + 1
        storage_numel = v.untyped_storage().nbytes() // v.element_size()
        lines.append(
            "\t".join(
                [
                    k,
                    "[" + ",".join(str(s) for s in v.shape) + "]",
                    str(v.dtype).replace("torch.", ""),
                    "(" + ",".join(str(s) for s in v.stride()) + ")",
                    str(v.storage_offset()),
                    str(storage_numel),
                    lay,
                ]
            )
        )
        if lay == "other":
            sys.exit(f"{k}: unexpected strides {v.stride()} for shape {tuple(v.shape)}")
        if v.storage_offset() != 0 or storage_numel != v.numel():
            sys.exit(f"{k}: storage offset/size not the simple case")
    lines.insert(
        2,
        f"# {len(sd)} tensors; layouts: "
        + ", ".join(f"{n} {lay}" for lay, n in sorted(counts.items())),
    )
    with open(os.path.join(OUT, f"keys_{key}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return counts


# ------------------------------------------------------------------ model


def build(key, sd):
    name = MODELS[key]
    model = EfficientNet.from_name(name)
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model


def pad_of(conv):
    p = getattr(conv, "static_padding", None)
    if p is None or not hasattr(p, "padding"):
        return [0, 0, 0, 0]
    left, right, top, bottom = p.padding
    return [top, left, bottom, right]


def architecture(model):
    gp = model._global_params
    blocks = []
    for i, b in enumerate(model._blocks):
        a = b._block_args
        stride = a.stride[0] if isinstance(a.stride, (list, tuple)) else a.stride
        blocks.append(
            {
                "index": i,
                "in": a.input_filters,
                "out": a.output_filters,
                "expand_ratio": a.expand_ratio,
                "hidden": a.input_filters * a.expand_ratio,
                "kernel": a.kernel_size,
                "stride": stride,
                "skip": bool(a.id_skip and stride == 1 and a.input_filters == a.output_filters),
                "has_expand_conv": hasattr(b, "_expand_conv"),
                "depthwise_padding_tlbr": pad_of(b._depthwise_conv),
            }
        )
    return {
        "width_coefficient": gp.width_coefficient,
        "depth_coefficient": gp.depth_coefficient,
        "image_size": gp.image_size,
        "dropout_rate": gp.dropout_rate,
        "drop_connect_rate": gp.drop_connect_rate,
        "batch_norm_epsilon": gp.batch_norm_epsilon,
        "batch_norm_momentum_tf": gp.batch_norm_momentum,
        "batch_norm_momentum_torch": model._bn0.momentum,
        "activation": "relu6" if gp.relu_fn == "relu6" else gp.relu_fn,
        "fix_head_stem": gp.fix_head_stem,
        "squeeze_excite": any(hasattr(b, "_se_reduce") for b in model._blocks),
        "stem": {
            "in": 3,
            "out": model._conv_stem.out_channels,
            "kernel": 3,
            "stride": 2,
            "bias": model._conv_stem.bias is not None,
            "padding_tlbr": pad_of(model._conv_stem),
        },
        "blocks": blocks,
        "head": {"in": model._conv_head.in_channels, "out": model._conv_head.out_channels, "kernel": 1},
        "classifier": {"in": model._fc.in_features, "out": model._fc.out_features, "bias": True},
        "padding_note": "padding_tlbr = [top, left, bottom, right] zeros added before the conv "
        "(TensorFlow SAME: total = max((ceil(i/s)-1)*s + k - i, 0), start = total // 2, end = total - start)",
    }


def synthetic_input(n, s):
    x = np.empty((1, 3, s, s), dtype=np.float32)
    for c in range(3):
        for yy in range(s):
            base = 0.11 * float(yy) * float(c + 1)
            row = x[0, c, yy]
            for xx in range(s):
                t = 0.37 * float(xx) + base + float(n)
                row[xx] = np.float32(1.5 * math.sin(t))
    return torch.from_numpy(x)


def stats(t):
    a = t.detach().double()
    return {
        "shape": list(t.shape),
        "mean": float(f"{a.mean().item():.9g}"),
        "std": float(f"{a.std(unbiased=False).item():.9g}"),
        "abs_max": float(f"{a.abs().max().item():.9g}"),
        "first": [g9(v) for v in t.flatten()[:4].tolist()],
    }


def intermediates(model, x):
    """Per-stage statistics (stem, every block, head features) for input x."""
    out = []
    with torch.no_grad():
        h = model._swish(model._bn0(model._conv_stem(x)))
        out.append({"after": "stem (conv, bn, relu6)", **stats(h)})
        for i, b in enumerate(model._blocks):
            h = b(h, drop_connect_rate=None)
            out.append({"after": f"block {i}", **stats(h)})
        h = model._swish(model._bn1(model._conv_head(h)))
        out.append({"after": "head (conv 1x1, bn, relu6)", **stats(h)})
        pooled = h.mean(dim=(2, 3))
        out.append({"after": "global average pool", **stats(pooled)})
    return out


def top5(logits):
    idx = torch.topk(logits, 5).indices.tolist()
    return idx


def model_fixture(key, ver):
    name = MODELS[key]
    path, digest, fmt, sd = load_weights(key)
    layouts = write_keys(key, path, digest, fmt, sd)
    model = build(key, sd)
    s = model._global_params.image_size
    _, _, res, _ = efficientnet_params(name)
    assert s == res

    model64 = build(key, sd).double()
    outputs = []
    worst = 0.0
    inter = None
    for n in range(N_INPUTS):
        x = synthetic_input(n, s)
        with torch.no_grad():
            logits = model(x)[0]
            logits64 = model64(x.double())[0]
        worst = max(worst, (logits.double() - logits64).abs().max().item())
        outputs.append(
            {
                "n": n,
                "input_sum": float(f"{x.double().sum().item():.12g}"),
                "input_first": [g9(v) for v in x.flatten()[:8].tolist()],
                "input_at": {
                    "n,c,y,x": [[n, 2, s - 1, s - 1], [n, 1, 17, 5]],
                    "values": [g9(x[0, 2, s - 1, s - 1]), g9(x[0, 1, 17, 5])],
                },
                "top5": top5(logits),
                "logits": [g9(v) for v in logits.tolist()],
            }
        )
        if n == 0:
            inter = intermediates(model, x)

    fixture = {
        "model": name,
        "generated_by": "scripts/effnet_fixture.py",
        "versions": ver,
        "reference": "efficientnet_lite_pytorch.EfficientNet.from_name(model) + load_state_dict(strict=True), eval(), CPU, float32, torch.no_grad()",
        "weights": {
            "file": os.path.basename(path),
            "sha256": digest,
            "matches_data_manifest": True,
            "format": fmt,
            "tensors": len(sd),
            "layouts": layouts,
        },
        "native_resolution": s,
        "input": {
            "count": N_INPUTS,
            "shape": [1, 3, s, s],
            "dtype": "float32",
            "formula": FORMULA,
            "evaluation": FORMULA_EVAL,
            "indices": "n = image (0..count), c = channel (0..3), y = row (0..S), x = column (0..S); NCHW",
        },
        "float32_vs_float64_max_abs_logit_diff": float(f"{worst:.3g}"),
        "outputs": outputs,
        "intermediates_input0": inter,
        "architecture": architecture(model),
    }
    with open(os.path.join(OUT, f"{key}.json"), "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"{name}: S={s} top5 n0={outputs[0]['top5']} n1={outputs[1]['top5']} f32-vs-f64 {worst:.2e}")
    return model, s


# ------------------------------------------------------------------ photos


def class_names(timm_wheel):
    path = os.path.join(OUT, "imagenet_classes.txt")
    if timm_wheel:
        if os.path.basename(timm_wheel) != TIMM_WHEEL:
            sys.exit(f"expected {TIMM_WHEEL}, got {timm_wheel}")
        with zipfile.ZipFile(timm_wheel) as z:
            synsets = z.read("timm/data/_info/imagenet_synsets.txt").decode().split()
            lemma = {}
            for line in z.read("timm/data/_info/imagenet_synset_to_lemma.txt").decode().splitlines():
                wnid, text = line.split("\t", 1)
                lemma[wnid] = text.strip()
        assert len(synsets) == 1000
        names = [lemma[w] for w in synsets]
        with open(path, "w") as f:
            f.write("\n".join(names) + "\n")
    with open(path) as f:
        names = f.read().splitlines()
    assert len(names) == 1000, "imagenet_classes.txt must have 1000 lines (pass --timm-wheel)"
    return names


def torchvision_resize_center_crop(img, s):
    """torchvision Resize(s) (PIL bilinear) then CenterCrop(s), re-implemented on PIL."""
    w, h = img.size
    if w <= h:
        ow, oh = s, int(s * h / w)
    else:
        ow, oh = int(s * w / h), s
    img = img.resize((ow, oh), Image.BILINEAR)
    top = int(round((oh - s) / 2.0))
    left = int(round((ow - s) / 2.0))
    return img.crop((left, top, left + s, top + s)), (ow, oh), (top, left)


def to_input(rgb):
    a = np.asarray(rgb, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(IMAGENET_MEAN, dtype=np.float32)
    std = np.asarray(IMAGENET_STD, dtype=np.float32)
    a = (a - mean) / std
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def photos(models, names, ver):
    import skimage.data

    os.makedirs(os.path.join(OUT, "photos"), exist_ok=True)
    sources = {
        "chelsea": ("skimage.data.chelsea()", "Chelsea the cat", "CC0 (photographer Stefan van der Walt), per skimage.data.chelsea's docstring"),
        "coffee": ("skimage.data.coffee()", "coffee cup", "CC0 (photographer Rachel Michetti), per skimage.data.coffee's docstring"),
        "rocket": ("skimage.data.rocket()", "Falcon 9 rocket on the launch pad", "public domain (released by SpaceX), per skimage.data.rocket's docstring"),
    }
    out = {
        "generated_by": "scripts/effnet_fixture.py",
        "versions": ver,
        "preprocessing": {
            "resize": "torchvision Resize(S) semantics: short side -> S, long side -> int(S * long / short), PIL Image.resize(..., Image.BILINEAR) on the 8-bit RGB image",
            "crop": "torchvision CenterCrop(S): top = int(round((H - S) / 2)), left = int(round((W - S) / 2))",
            "stored": "the S x S crop, 8-bit RGB PNG, photos/<photo>_<S>.png (S = the model's native resolution)",
            "to_tensor": "v / 255 (float32), HWC -> CHW",
            "normalize": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        },
        "class_names": "imagenet_classes.txt (line i = class i)",
        "class_names_source": CLASS_SOURCE,
        "photos": {},
    }
    alt = {}
    for p in PHOTOS:
        src, what, lic = sources[p]
        img = Image.fromarray(getattr(skimage.data, p)()).convert("RGB")
        entry = {"source": src, "content": what, "licence": lic, "original_size_wh": list(img.size), "models": {}}
        for key, (model, s) in models.items():
            crop, resized, (top, left) = torchvision_resize_center_crop(img, s)
            fname = f"photos/{p}_{s}.png"
            fpath = os.path.join(OUT, fname)
            if not os.path.exists(fpath) or np.asarray(Image.open(fpath).convert("RGB")).tobytes() != crop.tobytes():
                crop.save(fpath, optimize=True)
            # what the Rust side will read back
            back = Image.open(fpath).convert("RGB")
            assert np.array_equal(np.asarray(back), np.asarray(crop))
            with torch.no_grad():
                logits = model(to_input(back))[0]
                probs = torch.softmax(logits.double(), 0)
                # TensorFlow EfficientNet-Lite's own preprocessing, (v - 127) / 128, for comparison only
                tf_in = torch.from_numpy(((np.asarray(back, dtype=np.float32) - 127.0) / 128.0).transpose(2, 0, 1).copy())[None]
                tf_probs = torch.softmax(model(tf_in)[0].double(), 0)
            idx = torch.topk(logits, 5).indices.tolist()
            entry["models"][MODELS[key]] = {
                "input": fname,
                "input_sha256": sha256_file(fpath),
                "resized_wh": list(resized),
                "crop_top_left": [top, left],
                "top5": [
                    {"index": i, "name": names[i], "prob": float(f"{probs[i].item():.6g}"), "logit": g9(logits[i])}
                    for i in idx
                ],
            }
            tf_idx = torch.topk(tf_probs, 5).indices.tolist()
            alt[(p, key)] = [(i, names[i].split(",")[0], round(tf_probs[i].item(), 4)) for i in tf_idx]
            print(f"{p} {MODELS[key]}: " + "; ".join(f"{i} {names[i].split(',')[0]} {probs[i].item():.3f}" for i in idx))
        out["photos"][p] = entry
    with open(os.path.join(OUT, "photos.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("for comparison, TF-style (v-127)/128 inputs:")
    for (p, key), v in alt.items():
        print(f"  {p} {key}: {v}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timm-wheel", help="timm wheel to take the ImageNet class names from (rewrites imagenet_classes.txt)")
    ap.add_argument("--skip-photos", action="store_true")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    ver = versions()
    models = {}
    for key in MODELS:
        models[key] = model_fixture(key, ver)
    if not args.skip_photos:
        names = class_names(args.timm_wheel)
        photos(models, names, ver)


if __name__ == "__main__":
    main()
