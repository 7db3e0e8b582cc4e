#!/usr/bin/env python3
"""DomainBed's in/out splits of an image-folder dataset, written as a fixture.

    python3 scripts/domainbed_split_lists.py ../shared/datasets/PACS \
        --trials 0 1 > tests/fixtures/pacs_split_lists.json

Follows DomainBed's published code step by step (DomainBed is not on PyPI, so
the few lines involved are restated here, not imported):

* environments: `MultipleEnvironmentImageFolder` takes the sub-folders of the
  root, sorted by name; environment i is the i-th of them;
* images of an environment: torchvision's `ImageFolder` order, i.e.
  `DatasetFolder.find_classes` (class folders sorted by name) and
  `make_dataset` (for each class in order, `sorted(os.walk(...))`, file names
  sorted, kept when the lower-cased path ends with one of `IMG_EXTENSIONS`);
* `train.py`: `out, in_ = misc.split_dataset(env, int(len(env) *
  holdout_fraction), misc.seed_hash(trial_seed, env_i))`;
* `misc.seed_hash(*args)`: `int(md5(str(args)).hexdigest(), 16) % 2**31`;
* `misc.split_dataset(dataset, n, seed)`: `keys = list(range(len(dataset)))`,
  `np.random.RandomState(seed).shuffle(keys)`, the first n keys are `out`,
  the rest `in`.

For each trial and domain the fixture keeps the numpy seed, the split sizes,
the SHA-256 of each list (paths relative to the root, '/'-separated, one per
line, each line ending in a newline) and its first three paths, so the Rust
test (tests/cli_splits.rs) checks every list without a 400 KB fixture.
Needs numpy only (through scripts/numpy_split_fixture.py).
"""
import argparse
import hashlib
import json
import os

# DomainBed's misc.seed_hash and misc.split_dataset (on keys), as restated once
# for the numpy fixture beside this script.
from numpy_split_fixture import seed_hash, split as split_dataset

# torchvision.datasets.folder.IMG_EXTENSIONS
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def image_folder(directory):
    """Paths of torchvision's ImageFolder(directory), in its order."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    paths = []
    for target_class in classes:
        target_dir = os.path.join(directory, target_class)
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if path.lower().endswith(IMG_EXTENSIONS):
                    paths.append(path)
    return paths


def digest(paths):
    return hashlib.sha256("".join(p + "\n" for p in paths).encode("utf-8")).hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--trials", type=int, nargs="+", default=[0])
    p.add_argument("--holdout-fraction", type=float, default=0.2)
    a = p.parse_args()
    environments = sorted(f.name for f in os.scandir(a.root) if f.is_dir())
    relative = {}
    for env in environments:
        full = image_folder(os.path.join(a.root, env))
        relative[env] = [os.path.relpath(f, a.root).replace(os.sep, "/") for f in full]
    trials = []
    for trial in a.trials:
        domains = []
        for env_i, env in enumerate(environments):
            files = relative[env]
            seed = seed_hash(trial, env_i)
            out, in_ = split_dataset(len(files), a.holdout_fraction, seed)
            lists = {"in": [files[k] for k in in_], "out": [files[k] for k in out]}
            row = {"domain": env, "seed": seed}
            for split in ("in", "out"):
                row[f"n_{split}"] = len(lists[split])
                row[f"{split}_sha256"] = digest(lists[split])
                row[f"{split}_head"] = lists[split][:3]
            domains.append(row)
        trials.append({"trial_seed": trial, "domains": domains})
    json.dump({"holdout_fraction": a.holdout_fraction, "trials": trials}, os.sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
