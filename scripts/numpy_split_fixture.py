#!/usr/bin/env python3
"""Reference values for oodcal's reimplementation of DomainBed's splits.

DomainBed splits environment `env_i` of `n` images with
    misc.split_dataset(env, int(n * holdout_fraction), misc.seed_hash(trial_seed, env_i))
which shuffles list(range(n)) with np.random.RandomState(seed).shuffle and
takes the first int(n * holdout_fraction) keys as `out`, the rest as `in`.

This script recomputes those with numpy and writes a small JSON fixture that
tests/data_split.rs compares against (src/data/split.rs, numpy_rng.rs,
seed_hash.rs). Usage (numpy required):

    python3 scripts/numpy_split_fixture.py > tests/fixtures/data_numpy_split.json
"""
import hashlib
import json

import numpy as np


def seed_hash(*args):
    """DomainBed's misc.seed_hash, verbatim."""
    args_str = str(args)
    return int(hashlib.md5(args_str.encode("utf-8")).hexdigest(), 16) % (2**31)


def split(n, holdout_fraction, seed):
    """DomainBed's misc.split_dataset on keys only: (out, in)."""
    keys = list(range(n))
    np.random.RandomState(seed).shuffle(keys)
    k = int(n * holdout_fraction)
    return keys[:k], keys[k:]


def digest(keys):
    """SHA-256 of the keys written as comma-separated decimals."""
    return hashlib.sha256(",".join(map(str, keys)).encode()).hexdigest()


def main():
    cases = []
    # PACS environment sizes in DomainBed order (art_painting, cartoon, photo,
    # sketch), plus small and edge sizes.
    sizes = [2048, 2344, 1670, 3929]
    for trial_seed in (0, 1, 2):
        for env_i, n in enumerate(sizes):
            seed = seed_hash(trial_seed, env_i)
            out, in_ = split(n, 0.2, seed)
            cases.append({
                "trial_seed": trial_seed, "env_i": env_i, "n": n,
                "holdout_fraction": 0.2, "seed": seed,
                "out_len": len(out), "out_head": out[:12], "in_head": in_[:12],
                "out_sha256": digest(out), "in_sha256": digest(in_),
            })
    shuffles = []
    for n, seed in [(0, 0), (1, 7), (2, 0), (10, 0), (17, 123), (1000, 2**31 - 1), (300, 4294967295)]:
        keys = list(range(n))
        np.random.RandomState(seed).shuffle(keys)
        shuffles.append({"n": n, "seed": seed, "keys": keys if n <= 20 else keys[:20],
                         "sha256": digest(keys)})
    out = {
        "generator": "scripts/numpy_split_fixture.py",
        "numpy": np.__version__,
        "seed_hash": [{"args": [a, b], "value": seed_hash(a, b)} for a in (0, 1, 5, 123) for b in range(6)],
        "shuffles": shuffles,
        "splits": cases,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
