"""The structure of the paper's 91 timm models, without their weights.

For every tag of the authors' model list this builds timm's model on PyTorch's
`meta` device (shapes only: nothing is allocated, nothing is downloaded) with
the tag's own pretrained configuration (so its head: 1000 classes, 21,843, or
none for MAE and DINO), and writes

* the structure (`structure.tsv.gz`): one line per state-dict tensor, `tag  key  shape`, in
  state-dict order (parameters and buffers, as `model.state_dict()` has them);
* the table (`timm_models.tsv`, embedded by `src/model/registry.rs`): one line per tag: parameter count, tensors, head classes,
  native input size, and the forward pass's FLOPs per image at that size and
  at 224 px, the paper's resolution (torch's FlopCounterMode, which counts a
  multiply-add as 2 FLOPs).

These are what a burn port of each architecture must reproduce key for key and
shape for shape, and what `plan` can size GPU hours from.

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.15.0 timm==1.0.31
    /tmp/torchenv/bin/python scripts/timm_structure.py \
        --models ../shared/paper-data/authors_timm_model_list.csv \
        --structure tests/fixtures/timm/structure.tsv.gz \
        --table src/model/timm_models.tsv
"""

import argparse
import csv
import gzip

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode


def build(tag):
    with torch.device("meta"):
        return timm.create_model(tag, pretrained=False)


def flops_per_image(model, input_size):
    x = torch.empty((1, *input_size), device="meta")
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True, help="authors_timm_model_list.csv")
    ap.add_argument("--structure", required=True, help="the key and shape listing (.tsv.gz)")
    ap.add_argument("--table", required=True, help="the per-tag table (.tsv) the registry embeds")
    args = ap.parse_args()
    with open(args.models, newline="") as f:
        tags = [row["timm_name"] for row in csv.DictReader(f)]
    # gzip with a fixed mtime and no name, so the same listing gives the same bytes.
    with open(args.structure, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0
    ) as gz, open(args.table, "w") as models:
        models.write(
            f"# timm {timm.__version__}, torch {torch.__version__}; made by scripts/timm_structure.py\n"
        )
        models.write("tag\tparams\ttensors\tnum_classes\tinput_size\tflops\tflops_224\n")
        for tag in tags:
            model = build(tag).eval()
            state = model.state_dict()
            for key, t in state.items():
                gz.write(f"{tag}\t{key}\t{','.join(map(str, t.shape))}\n".encode())
            params = sum(p.numel() for p in model.parameters())
            size = model.pretrained_cfg["input_size"]
            flops = flops_per_image(model, size)
            flops_224 = flops_per_image(model, (3, 224, 224))
            models.write(
                f"{tag}\t{params}\t{len(state)}\t{model.num_classes}\t"
                f"{'x'.join(map(str, size))}\t{flops}\t{flops_224}\n"
            )
            print(f"{tag}: {params / 1e6:.2f} M, {len(state)} tensors, {flops / 1e9:.2f} GFLOPs")


if __name__ == "__main__":
    main()
