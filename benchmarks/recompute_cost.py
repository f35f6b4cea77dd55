#!/usr/bin/python3
"""Activation recomputation on CPU: step time and activation memory of the engine's GPT with
train.recompute none, selective and full, one process.

Every side runs `behemoth run` on the same project, seed and global batch (fp32, one math thread);
the first --warmup steps of every run are left out and the sides alternate. Activation memory is
measured exactly: train.measure_memory=true makes the step events carry `activation_bytes`, the
tensor bytes forward and loss leave allocated for backward. Next to it, the memory model's
prediction (`behemoth plan --json --recompute MODE`, the stage's activations term; under full
recomputation it includes the one block re-materialised during backward, which the measured
figure, taken after forward, does not). Peak tensor bytes (the counting allocator's peak over the
whole step) show what the recomputed backward adds back.

    /usr/bin/python3 benchmarks/recompute_cost.py --bin build/bin/behemoth --steps 8 --warmup 2 \
        --reps 2 --json recompute_cost.json

slowdown = seconds per step / seconds per step without recomputation.
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

MODEL = {"model.n_layer": 4, "model.n_head": 4, "model.d_model": 256, "model.seq_len": 256, "model.vocab_size": 256,
         "model.dropout": 0.1}
BATCH = 8
MODES = ["none", "selective", "full"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--steps", type=int, default=8, help="steps per run, warmup included")
    parser.add_argument("--warmup", type=int, default=2, help="first steps of each run left out")
    parser.add_argument("--reps", type=int, default=1, help="runs per mode, alternating")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def overrides(mode, steps, out_dir):
    values = dict(MODEL)
    values.update({"data.global_batch_size": BATCH, "devices.count": 1, "parallel.dp": 1, "train.steps": steps,
                   "train.log_every": 1, "train.eval_every": 0, "train.out_dir": out_dir,
                   "train.measure_memory": "true", "train.recompute": mode, "train.checkpoint_final": "false"})
    return values


def set_flags(values):
    flags = []
    for key, value in values.items():
        flags += ["--set", f"{key}={value}"]
    return flags


def run_mode(args, mode, out_root):
    out_dir = tempfile.mkdtemp(prefix=f"{mode}-", dir=out_root)
    command = [os.path.abspath(args.bin), "run", common.PROJECT, "--nproc", "1", "--no-history"]
    command += set_flags(overrides(mode, args.steps, out_dir))
    common.run_checked(command, f"{mode} run", args.timeout, env=common.single_thread_env())
    steps = []
    with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
        for line in lines:
            event = json.loads(line) if line.strip() else {}
            if "step_time_s" in event and event.get("event", "step") == "step":
                steps.append(event)
    timed = [e["step_time_s"] for e in steps if e["step"] > args.warmup]
    if len(timed) != args.steps - args.warmup:
        raise RuntimeError(f"{mode}: {len(steps)} step events, expected {args.steps}")
    shutil.rmtree(out_dir, ignore_errors=True)
    if any("activation_bytes" not in e for e in steps):
        raise RuntimeError(f"{mode}: step events without activation_bytes (train.measure_memory ignored?)")
    return {"step_seconds": timed, "activation_bytes": max(e["activation_bytes"] for e in steps),
            "peak_tensor_bytes": max(e["peak_tensor_bytes"] for e in steps), "losses": [e["loss"] for e in steps]}


def predicted_activation_bytes(args, mode):
    """The memory model's activations term of the (only) stage, behemoth plan --json."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [os.path.abspath(args.bin), "plan", common.PROJECT, "--json", "--recompute", mode]
        command += set_flags(overrides(mode, args.steps, scratch))
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)["plan"]["stages"][0]["terms"]["activations"]["device_bytes"]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    runs = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="recompute_cost-") as out_root:
        for rep in range(args.reps):
            for mode in MODES:
                print(f"rep {rep + 1}: recompute {mode} ...", file=sys.stderr, flush=True)
                runs[mode].append(run_mode(args, mode, out_root))
    results = {}
    for mode in MODES:
        results[mode] = {
            "median_step_s": statistics.median(t for r in runs[mode] for t in r["step_seconds"]),
            "activation_bytes": max(r["activation_bytes"] for r in runs[mode]),
            "predicted_activation_bytes": predicted_activation_bytes(args, mode),
            "peak_tensor_bytes": max(r["peak_tensor_bytes"] for r in runs[mode]),
            "final_loss": runs[mode][-1]["losses"][-1],
        }
    base = results["none"]
    print(f"{'recompute':10} {'ms/step':>8} {'slowdown':>8} {'act MiB (measured)':>18} {'model MiB':>10} "
          f"{'act vs none':>11} {'peak tensor MiB':>15} {'final loss':>10}")
    for mode, r in results.items():
        predicted = r["predicted_activation_bytes"]
        print(f"{mode:10} {r['median_step_s'] * 1e3:8.1f} {r['median_step_s'] / base['median_step_s']:8.2f} "
              f"{r['activation_bytes'] / 2**20:18.2f} {(predicted / 2**20 if predicted else float('nan')):10.2f} "
              f"{r['activation_bytes'] / base['activation_bytes']:11.3f} {r['peak_tensor_bytes'] / 2**20:15.1f} "
              f"{r['final_loss']:10.6f}")
    if args.json:
        common.write_report(args.json, "recompute_cost", load_before,
                            {"model": MODEL, "batch": BATCH, "steps": args.steps, "warmup": args.warmup,
                             "reps": args.reps}, results)
    return 0


if __name__ == "__main__":
    common.run_main("recompute_cost", main)
