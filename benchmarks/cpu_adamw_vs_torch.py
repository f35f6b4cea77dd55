#!/usr/bin/python3
"""The engine's CPU AdamW (kernels/cpu_adamw.h) against PyTorch's Python torch.optim.AdamW.

Times torch.optim.AdamW (single-tensor, and foreach=True where this PyTorch has it) on one fp32
tensor of 1M and 8M parameters with one thread, runs build/bin/cpu_adamw_bench (the engine's
kernel, one thread, same sizes, best of several steps) and prints nanoseconds per parameter and
the ratio torch / ours (above 1: ours is faster). Correctness against torch's AdamW is tested in
C++ (tests/kernels).

  /usr/bin/python3 benchmarks/cpu_adamw_vs_torch.py [--bench build/bin/cpu_adamw_bench]
"""
import argparse
import inspect
import os
import subprocess
import time

import torch

SIZES = [1 << 20, 1 << 23]


def best_seconds(repeats, body):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        best = min(best, time.perf_counter() - start)
    return best


def torch_ns_per_param(n, foreach):
    torch.manual_seed(0)
    param = torch.randn(n, requires_grad=True)
    param.grad = torch.randn(n)
    # The same hyper-parameters as cpu_adamw_bench: lr 1e-3, weight decay 0.1, default betas/eps.
    optimizer = torch.optim.AdamW([param], lr=1e-3, weight_decay=0.1, foreach=foreach)
    optimizer.step()  # allocates the state: not part of a steady-state step
    repeats = 5 if n > (1 << 20) else 20
    return best_seconds(repeats, optimizer.step) * 1e9 / n


def engine_ns_per_param(bench):
    """{params: ours ns/param} parsed from cpu_adamw_bench's table (threads = 1)."""
    text = subprocess.run([bench, "1"], check=True, capture_output=True, text=True).stdout
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[0].isdigit():
            result[int(fields[0])] = float(fields[1])
    return result


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default=os.path.join(here, "..", "build", "bin", "cpu_adamw_bench"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    has_foreach = "foreach" in inspect.signature(torch.optim.AdamW.__init__).parameters
    ours = engine_ns_per_param(args.bench)
    print(f"torch {torch.__version__}, 1 thread, fp32, one tensor; ns/param (best step); ratio = torch / ours")
    header = f"{'params':>10} {'ours':>8} {'torch':>8} {'ratio':>6}"
    if has_foreach:
        header += f" {'foreach':>8} {'ratio':>6}"
    print(header)
    for n in SIZES:
        single = torch_ns_per_param(n, foreach=False if has_foreach else None)
        mine = ours[n]
        row = f"{n:>10} {mine:>8.3f} {single:>8.3f} {single / mine:>6.2f}"
        if has_foreach:
            multi = torch_ns_per_param(n, foreach=True)
            row += f" {multi:>8.3f} {multi / mine:>6.2f}"
        print(row)


if __name__ == "__main__":
    main()
