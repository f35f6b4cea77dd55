#!/usr/bin/python3
"""Tensor parallelism on CPU: step time and activation memory of the engine's GPT at tp = 2, with and
without Megatron sequence parallelism, against the same model trained by one process.

All three sides run `behemoth run` on the same project, seed and global batch (gloo, one math thread
per rank, fp32); the first --warmup steps of every run are left out and runs of the sides alternate.

Activation memory is measured exactly, not modelled: every run sets train.measure_memory=true, so
each rank counts its tensor allocations and the step events carry `activation_bytes`, the tensor
bytes forward and loss leave allocated for backward (per-rank maximum). The figure reported is
    activation bytes per sequence = activation_bytes at global batch 2B / 2B
per rank. As a secondary, coarser figure each side also runs at batch B and
    RSS bytes per sequence = (peak RSS at batch 2B - peak RSS at batch B) / B
(the C library's caching and page reuse blur it). The memory model's prediction (`behemoth plan
--json`, activations of the first stage) is printed next to both. The counting allocator costs a
little on each allocation, equally on every side.

    /usr/bin/python3 benchmarks/tp_vs_single.py --bin build/bin/behemoth --steps 12 --warmup 3 \
        --json tp_vs_single.json

speedup = single-process seconds per step / tp seconds per step (> 1: tp faster). tp = 2 runs two
processes on the machine's two cores, so it has twice the compute of the single process.
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

# Long sequences and a wide model: what tensor and sequence parallelism are for.
MODEL = {"model.n_layer": 2, "model.n_head": 8, "model.d_model": 512, "model.seq_len": 256, "model.vocab_size": 256}
BATCH = 4  # B: each side also runs at 2B

SIDES = {
    "single": {"nproc": 1, "set": {"parallel.tp": 1}},
    "tp2": {"nproc": 2, "set": {"parallel.tp": 2, "parallel.sequence_parallel": "false"}},
    "tp2_sp": {"nproc": 2, "set": {"parallel.tp": 2, "parallel.sequence_parallel": "true"}},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--steps", type=int, default=12, help="steps per run, warmup included")
    parser.add_argument("--warmup", type=int, default=3, help="first steps of each run left out")
    parser.add_argument("--reps", type=int, default=1, help="runs per side, alternating")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def overrides(side, batch, steps, out_dir):
    values = dict(MODEL)
    values.update(SIDES[side]["set"])
    values.update({"data.global_batch_size": batch, "devices.count": SIDES[side]["nproc"], "parallel.dp": 1,
                   "train.steps": steps, "train.log_every": 1, "train.eval_every": 0, "train.out_dir": out_dir,
                   "train.measure_memory": "true"})
    return values


def set_flags(values):
    flags = []
    for key, value in values.items():
        flags += ["--set", f"{key}={value}"]
    return flags


def run_side(args, side, batch, out_root):
    out_dir = tempfile.mkdtemp(prefix=f"{side}-b{batch}-", dir=out_root)
    command = [os.path.abspath(args.bin), "run", common.PROJECT, "--nproc", str(SIDES[side]["nproc"]), "--no-history"]
    command += set_flags(overrides(side, batch, args.steps, out_dir))
    common.run_checked(command, f"{side} run", args.timeout, env=common.single_thread_env())
    steps = []
    with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
        for line in lines:
            event = json.loads(line) if line.strip() else {}
            if "step_time_s" in event and event.get("event", "step") == "step":
                steps.append(event)
    timed = [e["step_time_s"] for e in steps if e["step"] > args.warmup]
    if len(timed) != args.steps - args.warmup:
        raise RuntimeError(f"{side}: {len(steps)} step events, expected {args.steps}")
    shutil.rmtree(out_dir, ignore_errors=True)
    if any("activation_bytes" not in e for e in steps):
        raise RuntimeError(f"{side}: step events without activation_bytes (train.measure_memory ignored?)")
    return {"step_seconds": timed, "peak_rss_bytes": max(e["peak_rss_bytes"] for e in steps),
            "activation_bytes": max(e["activation_bytes"] for e in steps),
            "peak_tensor_bytes": max(e["peak_tensor_bytes"] for e in steps),
            "comm_bytes_per_step": statistics.median(e.get("comm_bytes", 0) for e in steps),
            "model_state_bytes": steps[-1].get("model_state_bytes"), "final_loss": steps[-1]["loss"]}


def predicted_activation_bytes(args, side, batch):
    """The memory model's activations per rank for the first stage (behemoth plan --json)."""
    with tempfile.TemporaryDirectory() as scratch:
        values = overrides(side, batch, args.steps, scratch)
        command = [os.path.abspath(args.bin), "plan", common.PROJECT, "--json"] + set_flags(values)
        if SIDES[side]["set"].get("parallel.sequence_parallel") == "true":
            command.append("--sequence-parallel")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return None
    report = json.loads(done.stdout)
    try:
        return report["plan"]["stages"][0]["terms"]["activations"]["device_bytes"]
    except (KeyError, IndexError, TypeError):
        return None


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    runs = {side: {BATCH: [], 2 * BATCH: []} for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="tp_vs_single-") as out_root:
        for rep in range(args.reps):
            for batch in (BATCH, 2 * BATCH):
                for side in SIDES:
                    print(f"rep {rep + 1}: {side} at global batch {batch} ...", file=sys.stderr, flush=True)
                    runs[side][batch].append(run_side(args, side, batch, out_root))
    results = {}
    for side in SIDES:
        at_b, at_2b = runs[side][BATCH], runs[side][2 * BATCH]
        median = statistics.median(t for r in at_2b for t in r["step_seconds"])
        rss_b = max(r["peak_rss_bytes"] for r in at_b)
        rss_2b = max(r["peak_rss_bytes"] for r in at_2b)
        results[side] = {
            "median_step_s": median,
            "tokens_per_s": 2 * BATCH * MODEL["model.seq_len"] / median,
            "peak_rss_bytes_per_rank": rss_2b,
            "peak_tensor_bytes_per_rank": max(r["peak_tensor_bytes"] for r in at_2b),
            "activation_bytes_per_sequence_per_rank": max(r["activation_bytes"] for r in at_2b) / (2 * BATCH),
            "activation_bytes_per_sequence_per_rank_at_batch_b": max(r["activation_bytes"] for r in at_b) / BATCH,
            "rss_delta_bytes_per_sequence_per_rank": (rss_2b - rss_b) / BATCH,
            "predicted_activation_bytes_per_sequence_per_rank":
                (lambda p: p / (2 * BATCH) if p is not None else None)(predicted_activation_bytes(args, side, 2 * BATCH)),
            "model_state_bytes_per_rank": at_2b[-1]["model_state_bytes"],
            "comm_bytes_per_step": at_2b[-1]["comm_bytes_per_step"],
            "final_loss": at_2b[-1]["final_loss"],
        }
    single = results["single"]
    print(f"{'side':8} {'ms/step':>8} {'speedup':>8} {'act MiB/seq/rank':>17} {'model MiB/seq':>14} "
          f"{'act vs single':>13} {'RSS-delta MiB/seq':>17} {'peak tensor MiB':>15} {'RSS MiB/rank':>12} "
          f"{'comm MiB/step':>13}")
    for side, r in results.items():
        predicted = r["predicted_activation_bytes_per_sequence_per_rank"]
        print(f"{side:8} {r['median_step_s'] * 1e3:8.1f} {single['median_step_s'] / r['median_step_s']:8.2f} "
              f"{r['activation_bytes_per_sequence_per_rank'] / 2**20:17.2f} "
              f"{(predicted / 2**20 if predicted else float('nan')):14.2f} "
              f"{r['activation_bytes_per_sequence_per_rank'] / single['activation_bytes_per_sequence_per_rank']:13.2f} "
              f"{r['rss_delta_bytes_per_sequence_per_rank'] / 2**20:17.1f} "
              f"{r['peak_tensor_bytes_per_rank'] / 2**20:15.0f} "
              f"{r['peak_rss_bytes_per_rank'] / 2**20:12.0f} {r['comm_bytes_per_step'] / 2**20:13.1f}")
    if args.json:
        common.write_report(args.json, "tp_vs_single", load_before,
                            {"model": MODEL, "batch": [BATCH, 2 * BATCH], "steps": args.steps, "warmup": args.warmup,
                             "reps": args.reps}, results)
    return 0


if __name__ == "__main__":
    common.run_main("tp_vs_single", main)
