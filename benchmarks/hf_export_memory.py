#!/usr/bin/python3
"""Hugging Face export memory: `behemoth convert --to-hf` of a checkpoint far larger than any one
tensor, with the converter's peak resident memory (the kernel's ru_maxrss of the child, an
independent meter) against the model's bytes and against the same converter on a tiny checkpoint
(the executable's own footprint: LibTorch loaded).

A GPT of --layers blocks of width --width (vocabulary 256) trains one step at dp 2 under ZeRO-2
(each rank saves half of every optimizer state) and saves its final checkpoint; the converter then
writes it as fp32 safetensors. Peak memory near the tiny run's plus the largest tensor means the
model was never gathered; peak memory near the model's bytes would mean it was.

    /usr/bin/python3 benchmarks/hf_export_memory.py --bin build/bin/behemoth

Standard library only. Prints a table; writes JSON (default benchmarks/results/hf_export_memory-DATE.json).
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile


def project(out_dir, layers, width):
    return {"name": "export-memory",
            "model": {"arch": "gpt", "n_layer": layers, "n_head": 8, "d_model": width, "seq_len": 32, "vocab_size": 256},
            "data": {"corpus": "builtin", "global_batch_size": 2},
            "devices": {"kind": "cpu", "count": 2},
            "parallel": {"dp": 2, "zero": 2},
            "train": {"steps": 1, "log_every": 1, "out_dir": out_dir, "checkpoint_async": False}}


def measure(binary, work, layers, width):
    out = os.path.join(work, f"run-{layers}x{width}")
    with open(out + ".json", "w") as f:
        json.dump(project(out, layers, width), f)
    subprocess.run([binary, "run", out + ".json", "--nproc", "2", "--no-history"], check=True, stdout=subprocess.DEVNULL)
    target = os.path.join(work, f"hf-{layers}x{width}")
    # A fresh interpreter measures each conversion alone (ru_maxrss of children only grows).
    code = ("import resource, subprocess, sys, time; s = time.monotonic(); subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); print(time.monotonic() - s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
    line = subprocess.run([sys.executable, "-c", code, binary, "convert", out, "--to-hf", target],
                          check=True, capture_output=True, text=True).stdout.split()
    seconds, peak = float(line[0]), int(line[1])
    weights = sum(os.path.getsize(os.path.join(target, f)) for f in os.listdir(target) if f.endswith(".safetensors"))
    checkpoint = 0
    for root, _, files in os.walk(os.path.join(out, "checkpoints")):
        checkpoint += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    largest = 4 * max(width * 4 * width, 3 * width * width, 256 * width)
    return {"layers": layers, "width": width, "weights_bytes": weights, "checkpoint_bytes": checkpoint,
            "largest_tensor_bytes": largest, "convert_s": seconds, "peak_rss_bytes": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="build/bin/behemoth")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--out")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hf-export-memory-")
    try:
        rows = [measure(args.bin, work, 1, 64), measure(args.bin, work, args.layers, args.width)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'model':>12} {'weights MB':>11} {'checkpoint MB':>14} {'largest tensor MB':>18} {'convert s':>10} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['layers']:>4} x {r['width']:<5} {r['weights_bytes'] / 1e6:>11.1f} {r['checkpoint_bytes'] / 1e6:>14.1f} "
              f"{r['largest_tensor_bytes'] / 1e6:>18.1f} {r['convert_s']:>10.2f} {r['peak_rss_bytes'] / 1e6:>12.1f}")
    out = args.out or f"benchmarks/results/hf_export_memory-{datetime.date.today()}.json"
    with open(out, "w") as f:
        json.dump({"date": str(datetime.date.today()), "rows": rows}, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
