"""Numeric parity fixtures: timm's own model classes at reduced sizes.

For each architecture class of the paper's 91 models this instantiates timm's
class (the same code paths as the published models: same blocks, same
normalisation, same padding) with fewer blocks and narrower widths, draws
every tensor of its state dict from a seeded generator (timm's own init zeroes
heads and BatchNorm scales, which would hide mistakes), and writes

* `<name>.safetensors`: the state dict, exactly as timm names and shapes it
  (what `oodcal` loads through the same loader as real timm weights);
* `<name>.io.safetensors`: fixed inputs and timm's logits for them, in
  evaluation mode (BatchNorm's running statistics) and in training mode
  (batch statistics), computed in float64 and stored as float32; and
  `photo.eval`, the evaluation logits of
* `<name>.photo.png`: a crop of a CC0 photograph at the model's first input
  side (exact pixels, no resampling), normalised as timm normalises for
  ImageNet, for `oodcal predict`'s test.

The Rust test `tests/model_timm_parity.rs` builds the same reduced
configurations and must match the logits within 1e-4.

    /tmp/torchenv/bin/pip install torch==2.15.0 timm==1.0.31 safetensors
    /tmp/torchenv/bin/python scripts/timm_parity_fixture.py tests/fixtures/timm_parity
"""

import json
import math
import sys
from pathlib import Path

import timm
import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from timm.layers import ClassifierHead
from timm.models.convnext import ConvNeXt
from timm.models.efficientnet import _gen_efficientnet, _gen_efficientnet_lite
from timm.models.mlp_mixer import MlpMixer
from timm.models.regnet import RegNet, RegNetCfg
from timm.models.resnet import Bottleneck, ResNet
from timm.models.vgg import VGG, ConvMlp
from timm.models.vision_transformer import VisionTransformer

CLASSES = 10
PHOTO = Path(__file__).resolve().parent.parent / "tests/fixtures/effnet/photos/chelsea_224.png"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def photo_crop(side):
    """A side x side crop of the photograph, and its normalised CHW tensor."""
    crop = Image.open(PHOTO).convert("RGB").crop((80, 60, 80 + side, 60 + side))
    x = torch.from_numpy(np.asarray(crop, dtype=np.float64) / 255.0).permute(2, 0, 1)
    x = (x - torch.tensor(MEAN, dtype=torch.float64)[:, None, None]) / torch.tensor(
        STD, dtype=torch.float64
    )[:, None, None]
    return crop, x[None]


def vgg():
    model = VGG(cfg=[8, "M", 16, "M", 16, 16, "M"], num_classes=CLASSES)
    # timm fixes VGG's hidden width at 4096 (a 7x7 convolution: 100 MB at
    # any input width), so the reduced model narrows it with the same class.
    model.pre_logits = ConvMlp(16, 24, 7, drop_rate=0.0)
    model.head = ClassifierHead(24, CLASSES, pool_type="avg")
    return model


# name -> (constructor, input sides); each side is one case of inputs.
MODELS = {
    "resnet": (
        lambda: ResNet(
            Bottleneck, (1, 2, 1, 1), channels=(8, 16, 24, 32), stem_width=8, num_classes=CLASSES
        ),
        [48],
    ),
    "vit": (
        lambda: VisionTransformer(
            img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=CLASSES
        ),
        [32],
    ),
    "convnext": (
        lambda: ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32), num_classes=CLASSES),
        [48],
    ),
    "mixer": (
        lambda: MlpMixer(
            num_classes=CLASSES, img_size=32, patch_size=8, num_blocks=2, embed_dim=32
        ),
        [32],
    ),
    # 56 px reaches the 7x7 head convolution exactly; 40 px (5x5) takes
    # ConvMlp's adaptive pooling up to 7x7, as small fine-tuning inputs do.
    "vgg": (vgg, [56, 40]),
    "regnety": (
        lambda: RegNet(
            RegNetCfg(depth=6, w0=8, wa=12.0, wm=2.0, group_size=8, se_ratio=0.25, stem_width=8),
            num_classes=CLASSES,
        ),
        [64],
    ),
    # 66 px: odd sizes after the stride-2 layers, so TensorFlow's SAME
    # padding is asymmetric on both kinds of side.
    "tf_efficientnet": (
        lambda: _gen_efficientnet(
            "tf_efficientnet_b0",
            channel_multiplier=0.25,
            depth_multiplier=0.5,
            bn_eps=1e-3,
            pad_type="same",
            num_classes=CLASSES,
        ),
        [66],
    ),
    "tf_efficientnet_lite": (
        lambda: _gen_efficientnet_lite(
            "tf_efficientnet_lite0",
            channel_multiplier=0.25,
            depth_multiplier=0.5,
            bn_eps=1e-3,
            pad_type="same",
            num_classes=CLASSES,
        ),
        [66],
    ),
}


def randomise(model, generator):
    """Every tensor drawn afresh: weights at unit gain, norms near one."""
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
            elif key.endswith("running_mean") or (t.ndim == 1 and key.endswith("bias")):
                t.copy_(torch.randn(t.shape, generator=generator) * 0.1)
            elif t.ndim == 1:  # norm scales, ConvNeXt's layer scale
                t.copy_(1.0 + torch.randn(t.shape, generator=generator) * 0.1)
            elif key.endswith(("cls_token", "pos_embed")):
                t.copy_(torch.randn(t.shape, generator=generator) * 0.1)
            else:
                fan_in = math.prod(t.shape[1:])
                t.copy_(torch.randn(t.shape, generator=generator) / math.sqrt(fan_in))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for index, (name, (build, sides)) in enumerate(MODELS.items()):
        generator = torch.Generator().manual_seed(1000 + index)
        torch.manual_seed(index)
        model = build()
        randomise(model, generator)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(out / f"{name}.safetensors"), metadata={"timm": timm.__version__})
        io = {}
        model = model.double()
        for case, side in enumerate(sides):
            x = torch.randn((2, 3, side, side), generator=generator, dtype=torch.float64)
            model.eval()
            with torch.no_grad():
                logits_eval = model(x)
            # Training mode on a copy, so the running statistics stay as saved.
            copy = build().double()
            copy.load_state_dict(model.state_dict())
            copy.train()
            with torch.no_grad():
                logits_train = copy(x)
            io[f"case{case}.input"] = x.float().contiguous()
            io[f"case{case}.eval"] = logits_eval.float().contiguous()
            io[f"case{case}.train"] = logits_train.float().contiguous()
        crop, x = photo_crop(sides[0])
        crop.save(out / f"{name}.photo.png")
        model.eval()
        with torch.no_grad():
            io["photo.eval"] = model(x).float().contiguous()
        save_file(io, str(out / f"{name}.io.safetensors"), metadata={"timm": timm.__version__})
        params = sum(v.numel() for v in state.values())
        print(json.dumps({"name": name, "tensors": len(state), "numbers": params, "sides": sides}))


if __name__ == "__main__":
    main()
