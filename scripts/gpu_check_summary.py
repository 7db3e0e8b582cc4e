#!/usr/bin/env python3
"""Gathers the stages of scripts/gpu-check.sh into one JSON of figures.

    python3 scripts/gpu_check_summary.py OUT_DIR RUNS_DIR > OUT_DIR/gpu-check.json

Throughput lines are paired by (model, phase) into burn/PyTorch ratios; the
agreement lines are kept as they are; each run record of the training stage
is reduced to its final metrics and wall time.
"""
import json
import os
import sys


def lines(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def ratios(burn, torch):
    peer = {(t["model"], t["phase"]): t for t in torch}
    table = []
    for b in burn:
        t = peer.get((b["model"], b["phase"]))
        row = {
            "model": b["model"],
            "phase": b["phase"],
            "image_size": b["image_size"],
            "batch": b["batch"],
            "backend": b["device"]["backend"],
            "burn_images_per_sec": round(b["images_per_sec"], 1),
        }
        if t is not None:
            row["torch_images_per_sec"] = round(t["images_per_sec"], 1)
            row["ratio"] = round(b["images_per_sec"] / t["images_per_sec"], 3)
        table.append(row)
    return table


def runs(folder):
    found = []
    if not os.path.isdir(folder):
        return found
    for run_id in sorted(os.listdir(folder)):
        path = os.path.join(folder, run_id, "record.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            record = json.load(f)
        final = record.get("final_metrics") or {}
        at = final.get("at", {})
        found.append({
            "run_id": run_id[:12],
            "model": record["model"]["label"],
            "backend": record["device"]["backend"],
            "device": record["device"]["device_name"],
            "steps": at.get("step"),
            "wall_seconds": round(record["wall_seconds"], 1),
            "id_accuracy": at.get("id_accuracy"),
            "ood_accuracy": at.get("ood_accuracy"),
            "ood_ece": at.get("ood_ece"),
            "ood_nll": final.get("ood_nll"),
        })
    return found


def main():
    out, runs_dir = sys.argv[1], sys.argv[2]
    with open(os.path.join(out, "device.txt")) as f:
        device = f.read().strip()
    torch = lines(os.path.join(out, "torch-cuda.jsonl"))
    summary = {
        "device": device,
        "stages": lines(os.path.join(out, "stages.jsonl")),
        "throughput": ratios(lines(os.path.join(out, "burn-cuda.jsonl")), torch)
        + ratios(lines(os.path.join(out, "burn-wgpu.jsonl")), torch),
        "torch": torch,
        "agreement": lines(os.path.join(out, "agree-cuda.jsonl")) + lines(os.path.join(out, "agree-wgpu.jsonl")),
        "runs": runs(runs_dir),
        "torch_runs": lines(os.path.join(out, "torch-study.jsonl")),
    }
    json.dump(summary, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
