#!/usr/bin/env bash
# The GPU check (issue 17): oodcal's CUDA and wgpu backends against PyTorch
# CUDA on one NVIDIA GPU, in one go, writing one JSON of figures.
#
#   scripts/gpu-check.sh --pack      here (cargo, PACS, weights, network): build
#                                    oodcal --release --features cuda and pack it
#                                    with what the check reads into .gpu-check/
#   scripts/gpu-check.sh --dry-run   here, no GPU: the same stages on the CPU at
#                                    toy sizes (binary starts, files found, the
#                                    PyTorch peer parses, the study plans); with
#                                    GPU_CHECK_BIN=path/to/oodcal it needs no pack
#                                    and takes the full PACS (tests/gpu_check.rs)
#   scripts/gpu-check.sh             on the GPU machine (no Rust, no network;
#                                    PyTorch there): the figures, at most 9 minutes
#
# Stages, each under its own time limit so one that hangs costs only itself:
# throughput of EfficientNet-Lite0/1/2 at 224 px, batch 96, training and
# evaluation, on burn's cuda backend, PyTorch CUDA and burn's wgpu backend;
# the same 10 SGD steps on cpu and cuda (and wgpu), step by step; then
# experiments/gpu-check.toml (Lite0 pre-trained and from scratch, PACS, 500
# steps) on cuda, and its PyTorch peer (scripts/pacs_lite_peer.py) on the
# same data and GPU. The figures land in $OUT/gpu-check.json (OUT defaults to
# gpu-check-out), beside each stage's raw output and log.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
packed=$repo/.gpu-check
out=${OUT:-$repo/gpu-check-out}
mode=check
case "${1:-}" in
--pack) mode=pack ;;
--dry-run) mode=dry ;;
"") ;;
*)
    echo "usage: $0 [--pack | --dry-run]" >&2
    exit 2
    ;;
esac
lite=efficientnet-lite0,efficientnet-lite1,efficientnet-lite2
zoo=resnet-tiny,vit-tiny,efficientnet-lite0

pack() {
    local target=${CARGO_TARGET_DIR:-$repo/target}
    local weights=${OODCAL_WEIGHTS_DIR:-$HOME/.cache/oodcal/weights}
    local data=${OODCAL_DATA_ROOT:-$repo/../shared/datasets}
    cargo build --release --features cuda --bin oodcal
    rm -rf "$packed" && mkdir -p "$packed/weights" "$packed/wheels"
    xz -T0 -9 -c "$target/release/oodcal" >"$packed/oodcal.xz"
    "$target/release/oodcal" verify efficientnet-lite0 --weights-dir "$weights" --data-root "$data"
    for f in "$weights"/efficientnet-lite0-*.pth; do xz -T0 -9 -c "$f" >"$packed/weights/$(basename "$f").xz"; done
    local scratch
    scratch=$(mktemp -d)
    python3 scripts/downscale_pacs.py "$data/PACS" "$scratch/PACS" 64
    tar -C "$scratch" -cJf "$packed/PACS-64.tar.xz" PACS
    rm -rf "$scratch"
    # The peer's EfficientNet-Lite definitions (pure Python); torch is on the GPU machine.
    python3 -m pip download -q --no-deps -d "$packed/wheels" efficientnet-lite-pytorch==0.1.0
    du -sh "$packed"
}

# Runs stage $1 for at most $2 seconds: stdout to $out/$1.jsonl, stderr to
# $out/$1.log. A stage that fails or times out is recorded, and the check goes on.
stage() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS rc=0
    echo "== $name (limit ${limit}s): $*" >&2
    timeout "$limit" "$@" >"$out/$name.jsonl" 2>"$out/$name.log" || rc=$?
    echo "{\"stage\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - start))}" >>"$out/stages.jsonl"
    echo "   rc $rc in $((SECONDS - start)) s" >&2
    tail -n 3 "$out/$name.log" >&2 || true
}

# The binary, PACS and weights: from the pack, or (a dry run without one)
# from $GPU_CHECK_BIN, the data root and the weights folder of this machine.
unpack() {
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/weights"
    if [[ -n ${GPU_CHECK_BIN:-} && $dry == 1 ]]; then
        bin=$GPU_CHECK_BIN
        pacs=${OODCAL_DATA_ROOT:-$repo/../shared/datasets}/PACS
        weights=${OODCAL_WEIGHTS_DIR:-$HOME/.cache/oodcal/weights}
        cp "$weights"/efficientnet-lite0-*.pth "$work/weights/"
    else
        for f in oodcal.xz PACS-64.tar.xz; do
            [[ -f $packed/$f ]] || { echo "missing $packed/$f: run $0 --pack first" >&2; exit 1; }
        done
        xz -dc "$packed/oodcal.xz" >"$work/oodcal" && chmod +x "$work/oodcal"
        bin=$work/oodcal
        tar -C "$work" -xJf "$packed/PACS-64.tar.xz"
        pacs=$work/PACS
        for f in "$packed"/weights/*.xz; do xz -dc "$f" >"$work/weights/$(basename "$f" .xz)"; done
    fi
    "$bin" --version
    if ! python3 -c 'import efficientnet_lite_pytorch' 2>/dev/null && [[ -d $packed/wheels ]]; then
        python3 -m pip install -q --no-index --no-deps --target "$work/site" "$packed"/wheels/*.whl
        export PYTHONPATH=$work/site${PYTHONPATH:+:$PYTHONPATH}
    fi
    # A throwaway copy of the data manifest with PACS unpinned, so that the
    # downscaled copy is pinned under its own digest there and never here.
    mkdir -p "$work/study/experiments" "$work/data"
    python3 - "$repo/data-manifest.toml" "$work/study/data-manifest.toml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
start = text.index('name = "PACS"')
end = text.index("[[input]]", start)
block = re.sub(r"(?m)^(listing|tree_sha256) = .*\n", "", text[start:end])
open(sys.argv[2], "w").write(text[:start] + block + text[end:])
PY
    cp "$repo/experiments/gpu-check.toml" "$work/study/experiments/"
    study=(--manifest "$work/study/data-manifest.toml" --data-root "$work/data" --weights-dir "$work/weights")
    "$bin" "${study[@]}" fetch PACS --from "$pacs" --pin
}

# burn's CUDA backend loads the driver and NVRTC (its kernel compiler) at run
# time by their sonames; where the loader's cache lacks NVRTC, point it at the
# CUDA toolkit's copy or PyTorch's.
cuda_libs() {
    ldconfig -p | grep -q 'libnvrtc\.so' && return 0
    local lib
    lib=$(find /usr/local /opt /usr/lib -name 'libnvrtc.so*' 2>/dev/null | head -n 1)
    [[ -n $lib ]] && export LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "NVRTC: ${lib:-not found}"
}

# Whether the PyTorch peers run, or (a dry run) are only byte-compiled: they
# run on the GPU machine always; in a dry run only where everything they import
# is installed and GPU_CHECK_PEERS is not "compile" (tests/gpu_check.rs sets
# it, so that the Rust tests never depend on this machine's Python packages).
peers_run() {
    [[ $1 == 0 ]] && return 0
    [[ ${GPU_CHECK_PEERS:-} == compile ]] && return 1
    python3 -c 'import torch, torchvision, efficientnet_lite_pytorch' 2>/dev/null
}

check() {
    local dry=$1 gpu=cuda size=224 batch=96 warmup=3 steps=20
    if [[ $dry == 1 ]]; then
        gpu=cpu size=32 batch=4 warmup=0 steps=1
    fi
    rm -rf "$out" && mkdir -p "$out"
    unpack
    {
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
        [[ $dry == 1 ]] || cuda_libs
    } >"$out/device.txt"
    local bench=(bench train --models "$lite" --image-size "$size" --batch "$batch" --warmup "$warmup" --steps "$steps")
    stage burn-cuda 100 "$bin" "${bench[@]}" --backend "$gpu"
    if ! peers_run "$dry"; then
        stage torch-cuda 30 python3 -m py_compile benches/train_peer.py
    else
        stage torch-cuda 60 python3 benches/train_peer.py --models "$lite" --image-size "$size" \
            --batch "$batch" --warmup "$warmup" --steps "$steps" --device "$gpu"
    fi
    stage agree-cuda 45 "$bin" bench agree --models "$zoo" --backend "$gpu" --steps $((dry ? 2 : 10))
    if [[ $dry == 1 ]]; then
        stage study 60 "$bin" "${study[@]}" plan "$work/study/experiments/gpu-check.toml"
    else
        stage study 150 "$bin" "${study[@]}" run "$work/study/experiments/gpu-check.toml" --backend cuda --jobs 1
    fi
    if ! peers_run "$dry"; then
        stage torch-study 30 python3 -m py_compile scripts/pacs_lite_peer.py
    else
        stage torch-study 90 python3 scripts/pacs_lite_peer.py --pacs "$work/PACS" --device "$gpu" \
            --weights "$work"/weights/efficientnet-lite0-*.pth --seed 0 --size 64 --batch 32 \
            --steps $((dry ? 2 : 500)) --lr 0.003 --threads 8
    fi
    stage burn-wgpu 60 "$bin" "${bench[@]}" --backend "$([[ $dry == 1 ]] && echo cpu || echo wgpu)"
    stage agree-wgpu 30 "$bin" bench agree --models "$zoo" --backend "$([[ $dry == 1 ]] && echo cpu || echo wgpu)" --steps $((dry ? 2 : 10))
    python3 scripts/gpu_check_summary.py "$out" "$work/study/runs/gpu-check" >"$out/gpu-check.json"
    cat "$out/gpu-check.json"
}

case $mode in
pack) pack ;;
dry) check 1 ;;
check) check 0 ;;
esac
