#!/usr/bin/python3
"""1D, 2D, 2.5D and 3D tensor parallelism side by side on CPU: step time, per-rank memory and
communication of the engine's GPT at tp 4 (1d, 2d) and tp 8 (1d, 2.5d with depth 2, 3d), each
mode's measured figures next to the planner's prediction for the same plan.

Every side runs `behemoth run` on the same project, seed and global batch (gloo, one math thread
per rank, fp32, dp 1: all ranks in one tp group); the first --warmup steps are left out and the
sides alternate over --reps. Memory is measured, not modelled: train.measure_memory=true makes
every rank count its tensor allocations, and the step events carry `activation_bytes` (what
forward and the loss leave allocated for backward) and `model_state_bytes`; peak RSS is the
process's. `comm_bytes` per step and per sub-axis come from the engine's counters, and the
planner's `behemoth plan --json` prediction (its grid_cost.h formulas) is printed beside them.

    /usr/bin/python3 benchmarks/tensor_grid_modes.py --bin build/bin/behemoth --steps 8 --warmup 2 \
        --json tensor_grid_modes.json

On a 2-core machine tp 4 and tp 8 oversubscribe the cores 2x and 4x: step times compare modes at
the same tp, not tp 4 with tp 8, and not with a one-process run.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dp_vs_ddp as common  # noqa: E402

# Wide enough that the matrices dominate; 8 sequences split into every grid's batch chunks.
MODEL = {"model.arch": "gpt", "model.n_layer": 2, "model.n_head": 8, "model.d_model": 512, "model.seq_len": 128,
         "model.vocab_size": 512}
BATCH = 8

SIDES = {
    "tp4_1d": {"tp": 4, "mode": "1d", "depth": 1},
    "tp4_2d": {"tp": 4, "mode": "2d", "depth": 1},
    "tp8_1d": {"tp": 8, "mode": "1d", "depth": 1},
    "tp8_2.5d": {"tp": 8, "mode": "2.5d", "depth": 2},
    "tp8_3d": {"tp": 8, "mode": "3d", "depth": 1},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--steps", type=int, default=8, help="steps per run, warmup included")
    parser.add_argument("--warmup", type=int, default=2, help="first steps of each run left out")
    parser.add_argument("--reps", type=int, default=1, help="runs per side, alternating")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed for one run")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def overrides(side, steps, out_dir):
    s = SIDES[side]
    values = dict(MODEL)
    values.update({"parallel.tp": s["tp"], "parallel.tp_mode": s["mode"], "parallel.tp_depth": s["depth"],
                   "parallel.dp": 1, "devices.count": s["tp"], "data.global_batch_size": BATCH,
                   "train.steps": steps, "train.log_every": 1, "train.eval_every": 0, "train.out_dir": out_dir,
                   "train.measure_memory": "true"})
    return values


def set_flags(values):
    flags = []
    for key, value in values.items():
        flags += ["--set", f"{key}={value}"]
    return flags


def run_side(args, side, out_root):
    out_dir = tempfile.mkdtemp(prefix=f"{side}-", dir=out_root)
    command = [os.path.abspath(args.bin), "run", common.PROJECT, "--nproc", str(SIDES[side]["tp"]), "--no-history"]
    command += set_flags(overrides(side, args.steps, out_dir))
    common.run_checked(command, f"{side} run", args.timeout, env=common.single_thread_env())
    steps = []
    with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
        for line in lines:
            event = json.loads(line) if line.strip() else {}
            if "step_time_s" in event and event.get("event", "step") == "step":
                steps.append(event)
    shutil.rmtree(out_dir, ignore_errors=True)
    timed = [e["step_time_s"] for e in steps if e["step"] > args.warmup]
    if len(timed) != args.steps - args.warmup:
        raise RuntimeError(f"{side}: {len(steps)} step events, expected {args.steps}")
    return {"step_seconds": timed, "peak_rss_bytes": max(e["peak_rss_bytes"] for e in steps),
            "activation_bytes": max(e["activation_bytes"] for e in steps),
            "model_state_bytes": steps[-1]["model_state_bytes"],
            "comm_bytes": steps[-1]["comm_bytes"], "comm_bytes_by_axis": steps[-1].get("comm_bytes_by_axis", {}),
            "final_loss": steps[-1]["loss"]}


def predicted(args, side):
    """The planner's figures for the same plan: activations and model states of rank 0, comm bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [os.path.abspath(args.bin), "plan", common.PROJECT, "--json"] + set_flags(overrides(side, args.steps, scratch))
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{side}: behemoth plan failed: {done.stderr.strip()}")
    report = json.loads(done.stdout)
    plan = report["plan"]
    terms = plan["stages"][0]["terms"]
    states = sum(terms[name]["device_bytes"] + terms[name].get("host_bytes", 0)
                 for name in ("parameters", "gradients", "optimizer") if name in terms)
    return {"activation_bytes": terms["activations"]["device_bytes"], "model_state_bytes": states,
            "comm_bytes": plan.get("comm_bytes_per_step")}


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    runs = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="tensor_grid_modes-") as out_root:
        for rep in range(args.reps):
            for side in SIDES:
                print(f"rep {rep + 1}: {side} ...", file=sys.stderr, flush=True)
                runs[side].append(run_side(args, side, out_root))
    results = {}
    for side in SIDES:
        last = runs[side][-1]
        results[side] = {
            "tp": SIDES[side]["tp"], "mode": SIDES[side]["mode"],
            "median_step_s": statistics.median(t for r in runs[side] for t in r["step_seconds"]),
            "activation_bytes_per_rank": max(r["activation_bytes"] for r in runs[side]),
            "model_state_bytes_per_rank": last["model_state_bytes"],
            "peak_rss_bytes_per_rank": max(r["peak_rss_bytes"] for r in runs[side]),
            "comm_bytes_per_step": last["comm_bytes"], "comm_bytes_by_axis": last["comm_bytes_by_axis"],
            "final_loss": last["final_loss"], "predicted": predicted(args, side),
        }
    print(f"{'side':9} {'ms/step':>8} {'vs 1d':>6} {'act MiB':>8} {'(plan)':>8} {'states MiB':>10} {'(plan)':>8} "
          f"{'RSS MiB':>8} {'comm MiB':>9} {'(plan)':>8}  by sub-axis (MiB)")
    for side, r in results.items():
        one_d = results[f"tp{r['tp']}_1d"]
        p = r["predicted"]
        axes = ", ".join(f"{k} {v / 2**20:.2f}" for k, v in sorted(r["comm_bytes_by_axis"].items()))
        print(f"{side:9} {r['median_step_s'] * 1e3:8.0f} {one_d['median_step_s'] / r['median_step_s']:6.2f} "
              f"{r['activation_bytes_per_rank'] / 2**20:8.2f} {p['activation_bytes'] / 2**20:8.2f} "
              f"{r['model_state_bytes_per_rank'] / 2**20:10.2f} {p['model_state_bytes'] / 2**20:8.2f} "
              f"{r['peak_rss_bytes_per_rank'] / 2**20:8.0f} {r['comm_bytes_per_step'] / 2**20:9.2f} "
              f"{(p['comm_bytes'] or 0) / 2**20:8.2f}  {axes}")
    if args.json:
        common.write_report(args.json, "tensor_grid_modes", load_before,
                            {"model": MODEL, "batch": BATCH, "steps": args.steps, "warmup": args.warmup,
                             "reps": args.reps}, results)
    return 0


if __name__ == "__main__":
    common.run_main("tensor_grid_modes", main)
