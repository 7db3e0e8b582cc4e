#!/usr/bin/env python3
"""Writes a copy of PACS (or any DomainBed image folder) downscaled to SIZE x SIZE.

For scripts/gpu-check.sh only: the GPU machine a session is lent receives at
most 64 MiB per call, and PACS is 192 MB. pacs-lite decodes every image to
64 x 64 before training (src/data/cache.rs), so a copy resized the same way
(PIL bilinear, as oodcal's resizer follows), JPEGs re-encoded at quality 95
and PNGs (the sketches) kept lossless, trains on nearly the same pixels. The copy is pinned on the GPU
machine under its own digest; it is never a stand-in for the pinned PACS.

    python3 scripts/downscale_pacs.py ../shared/datasets/PACS /tmp/PACS 64
"""
import os
import sys

from PIL import Image


def main():
    src, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = 0
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), src)
            out = os.path.join(dst, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with Image.open(os.path.join(src, rel)) as im:
                small = im.convert("RGB").resize((size, size), Image.BILINEAR)
            if name.lower().endswith(".png"):
                small.save(out, "PNG", optimize=True)
            else:
                small.save(out, "JPEG", quality=95)
            count += 1
    print(f"{count} images written to {dst} at {size} px")


if __name__ == "__main__":
    main()
