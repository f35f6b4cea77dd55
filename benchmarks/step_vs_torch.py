#!/usr/bin/python3
"""Side by side in one run: the engine's training step against the same GPT in plain PyTorch
(benchmarks/python/gpt_reference.py, trained by benchmarks/python/ddp_train.py), at 19M and ~100M
parameters, fp32 and bf16, one process and dp 2, one math thread per process. The engine runs with
model.kernels fused (the default) and aten; PyTorch with torch.autocast('cpu', bfloat16) for bf16,
plain for one process and DistributedDataParallel (gloo) for two. Sides alternate within a cell.

    /usr/bin/python3 benchmarks/step_vs_torch.py --bin build/bin/behemoth --json step_vs_torch.json

ratio = engine seconds per step / PyTorch seconds per step (the goal: at most 0.85).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PROJECT = os.path.join(HERE, "projects", "gpt-19m.json")
WORKER = os.path.join(HERE, "python", "ddp_train.py")

SIZES = {
    "19M": {"n_layer": 6, "n_head": 8, "d_model": 512, "seq_len": 256, "global_batch": 8},
    "100M": {"n_layer": 14, "n_head": 12, "d_model": 768, "seq_len": 256, "global_batch": 8},
}


def single_thread_env():
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return env


def run_checked(command, what, timeout):
    done = subprocess.run(command, cwd=REPO, env=single_thread_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{what}: exit status {done.returncode}\n{' '.join(command)}\n{(done.stdout + done.stderr)[-4000:]}")
    return done


def engine_steps(args, size, precision, nproc, kernels):
    out_dir = tempfile.mkdtemp(prefix="behemoth-step-vs-torch-")
    overrides = {
        "model.n_layer": size["n_layer"], "model.n_head": size["n_head"], "model.d_model": size["d_model"],
        "model.seq_len": size["seq_len"], "model.kernels": kernels, "precision": precision,
        "data.global_batch_size": size["global_batch"], "devices.count": nproc, "train.steps": args.steps,
        "train.log_every": 1, "train.eval_every": 0, "train.checkpoint_final": "false", "train.out_dir": out_dir,
    }
    command = [os.path.abspath(args.bin), "run", PROJECT, "--nproc", str(nproc), "--no-history", "--force"]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    try:
        run_checked(command, "engine run", args.timeout)
        with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
            events = [json.loads(line) for line in lines if line.strip()]
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    steps = [e for e in events if e.get("event", "step") == "step" and "step_time_s" in e]
    return [e["step_time_s"] for e in steps if e["step"] > args.warmup], steps[-1]["loss"]


def torch_steps(args, size, precision, nproc):
    report = tempfile.mktemp(prefix="torch-step-", suffix=".json")
    command = [args.torchrun, "--standalone", "--nproc_per_node", str(nproc), "--redirects", "0:1", "--tee", "0:1",
               WORKER, "--n-layer", str(size["n_layer"]), "--n-head", str(size["n_head"]),
               "--d-model", str(size["d_model"]), "--seq-len", str(size["seq_len"]),
               "--global-batch", str(size["global_batch"]), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--report", report]
    if precision == "bf16":
        command.append("--bf16")
    if nproc == 1:
        command.append("--plain")
    run_checked(command, "PyTorch run", args.timeout)
    with open(report) as f:
        result = json.load(f)
    os.remove(report)
    return result["step_seconds"], result["final_loss"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="build/bin/behemoth")
    parser.add_argument("--torchrun", default="/usr/bin/torchrun")
    parser.add_argument("--sizes", default="19M,100M")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--nprocs", default="1,2")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="first steps of every run left out")
    parser.add_argument("--rounds", type=int, default=1, help="runs per side per cell, alternating")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--json")
    args = parser.parse_args()

    cells = []
    print(f"{'size':>5} {'prec':>5} {'procs':>5} {'fused s':>8} {'aten s':>8} {'torch s':>8} {'fused/torch':>11} {'aten/torch':>10}")
    for size_name in args.sizes.split(","):
        for precision in args.precisions.split(","):
            for nproc in (int(n) for n in args.nprocs.split(",")):
                size = SIZES[size_name]
                times = {"fused": [], "aten": [], "torch": []}
                losses = {}
                for _ in range(args.rounds):
                    for side in ("fused", "torch", "aten"):
                        if side == "torch":
                            seconds, loss = torch_steps(args, size, precision, nproc)
                        else:
                            seconds, loss = engine_steps(args, size, precision, nproc, side)
                        times[side] += seconds
                        losses[side] = loss
                median = {side: statistics.median(values) for side, values in times.items()}
                cell = {"size": size_name, "precision": precision, "nproc": nproc, "median_step_s": median,
                        "step_seconds": times, "final_loss": losses,
                        "fused_over_torch": median["fused"] / median["torch"],
                        "aten_over_torch": median["aten"] / median["torch"]}
                cells.append(cell)
                print(f"{size_name:>5} {precision:>5} {nproc:>5} {median['fused']:8.3f} {median['aten']:8.3f} "
                      f"{median['torch']:8.3f} {cell['fused_over_torch']:11.3f} {cell['aten_over_torch']:10.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"date": datetime.date.today().isoformat(), "machine": platform.processor() or platform.machine(),
                       "cpus": os.cpu_count(), "steps": args.steps, "warmup": args.warmup, "cells": cells}, out, indent=1)


if __name__ == "__main__":
    sys.exit(main())
