#!/usr/bin/python3
"""Causal attention, forward and backward, side by side at sequence lengths 1k, 4k and 16k: the
engine's blockwise attention (model.attention blockwise), its dense attention, and PyTorch 1.13's
softmax attention written as PyTorch users write it (q k^T / sqrt(d), masked_fill of the future,
softmax, times v; grouped-query heads by repeat_interleave). One thread each, the same shapes; every
configuration in a fresh process, best of --reps forward+backward times and the growth of the
peak resident set over the step (the same meter for both). A run whose dense scores would not fit
under --memory-cap-gb is not started and reported as such.

  /usr/bin/python3 benchmarks/attention_speed.py --bin build/bin --json out.json
"""
import argparse
import json
import os
import subprocess
import sys

TORCH_STEP = r"""
import json, resource, sys, time, torch
T, B, H, HKV, D, reps = map(int, sys.argv[1:7])
torch.set_num_threads(1)
torch.manual_seed(0)
q = torch.randn(B, H, T, D, requires_grad=True)
k = torch.randn(B, HKV, T, D, requires_grad=True)
v = torch.randn(B, HKV, T, D, requires_grad=True)
d_out = torch.randn(B, H, T, D)
future = torch.ones(T, T, dtype=torch.bool).triu(1)
def step():
    keys = k.repeat_interleave(H // HKV, 1)
    values = v.repeat_interleave(H // HKV, 1)
    scores = (q @ keys.transpose(-2, -1)) / D ** 0.5
    probabilities = torch.softmax(scores.masked_fill(future, float("-inf")), -1)
    out = probabilities @ values
    torch.autograd.grad(out, (q, k, v), d_out)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
step()
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
best = 1e30
for _ in range(reps):
    start = time.perf_counter(); step(); best = min(best, time.perf_counter() - start)
print(json.dumps({"kind": "pytorch", "T": T, "seconds": best, "peak_rss_growth": growth}))
"""


def dense_bytes(T, B, H):
    """What dense attention holds at once: about four [B, H, T, T] float32 matrices."""
    return 4 * B * H * T * T * 4


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["exit %d" % result.returncode])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="build/bin")
    parser.add_argument("--lengths", default="1024,4096,16384")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--memory-cap-gb", type=float, default=16.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    shape = [str(args.batch), str(args.heads), str(args.kv_heads), str(args.head_dim)]
    rows = []
    for T in [int(x) for x in args.lengths.split(",")]:
        reps = args.reps if T <= 4096 else 1
        row = {"T": T}
        row["blockwise"] = run([os.path.join(args.bin, "attention_bench"), "blockwise", str(T)] + shape +
                               [str(args.block), str(reps)])
        fits = dense_bytes(T, args.batch, args.heads) <= args.memory_cap_gb * 2**30
        skipped = {"error": "not run: dense scores need about %.0f GB" % (dense_bytes(T, args.batch, args.heads) / 2**30)}
        row["dense"] = run([os.path.join(args.bin, "attention_bench"), "dense", str(T)] + shape +
                           [str(args.block), str(reps)]) if fits else skipped
        row["pytorch"] = run([sys.executable, "-c", TORCH_STEP, str(T)] + shape + [str(reps)]) if fits else skipped
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n%7s %24s %24s %24s %10s" % ("T", "blockwise s / peak MB", "engine dense s / MB", "PyTorch s / MB",
                                        "PT/block"))
    for row in rows:
        cells = []
        for kind in ("blockwise", "dense", "pytorch"):
            r = row[kind]
            cells.append(r["error"][:24] if "error" in r else "%.3f / %.0f" % (r["seconds"], r["peak_rss_growth"] / 1e6))
        ratio = ""
        if "seconds" in row["pytorch"] and "seconds" in row["blockwise"]:
            ratio = "%.2fx" % (row["pytorch"]["seconds"] / row["blockwise"]["seconds"])
        print("%7d %24s %24s %24s %10s" % (row["T"], cells[0], cells[1], cells[2], ratio))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": {"batch": args.batch, "heads": args.heads, "kv_heads": args.kv_heads,
                                 "head_dim": args.head_dim, "block": args.block, "threads": 1}, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
