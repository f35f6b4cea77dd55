#!/usr/bin/python3
"""Side by side: the engine's ZeRO stages 1 and 2 against PyTorch DDP and against DDP with
torch.distributed.optim.ZeroRedundancyOptimizer (PyTorch's ZeRO-1), at dp = 2 and 4.

The same GPT, recipe and timing rules as benchmarks/dp_vs_ddp.py (whose helpers this reuses):
fp32, gloo, one math thread per rank, the first --warmup steps of each run left out, runs of the
four sides alternating so slow drifts in machine load hit them alike. On a 2-core machine dp = 4
runs 4 ranks on 2 cores (oversubscribed): those timings measure contention as much as the step.

    /usr/bin/python3 benchmarks/zero_vs_pytorch.py --bin build/bin/behemoth --steps 20 --warmup 5 \
        --sizes small --dps 2,4 --reps 1 --json zero_vs_pytorch.json

ratio = PyTorch seconds per step / engine seconds per step: above 1 means the engine is faster.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dp_vs_ddp as common  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--steps", type=int, default=20, help="steps per run, warmup included")
    parser.add_argument("--warmup", type=int, default=5, help="first steps of each run left out")
    parser.add_argument("--reps", type=int, default=1, help="runs per side, size and dp, alternating")
    parser.add_argument("--sizes", default="small", help="comma list of " + ",".join(common.SIZES))
    parser.add_argument("--dps", default="2,4", help="comma list of data-parallel sizes")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--torchrun", default="/usr/bin/torchrun")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    args.size_names = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.size_names if s not in common.SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {unknown}; known: {', '.join(common.SIZES)}")
    args.dp_list = [int(d) for d in args.dps.split(",") if d.strip()]
    if not args.dp_list or min(args.dp_list) < 2:
        parser.error(f"--dps {args.dps}: every dp must be at least 2")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def run_engine(args, size, dp, stage, out_root):
    out_dir = tempfile.mkdtemp(prefix=f"engine-zero{stage}-", dir=out_root)
    overrides = {
        "model.n_layer": size["n_layer"], "model.n_head": size["n_head"], "model.d_model": size["d_model"],
        "model.seq_len": size["seq_len"], "model.vocab_size": common.VOCAB,
        "data.global_batch_size": size["global_batch"], "devices.count": dp, "parallel.zero": stage,
        "train.steps": args.steps, "train.log_every": 1, "train.eval_every": 0, "train.out_dir": out_dir,
    }
    command = [os.path.abspath(args.bin), "run", common.PROJECT, "--nproc", str(dp), "--no-history"]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    common.run_checked(command, f"engine zero {stage} dp {dp}", args.timeout, env=common.single_thread_env())
    metrics_path = os.path.join(out_dir, "metrics.jsonl")
    steps = []
    with open(metrics_path) as lines:
        for line in lines:
            line = line.strip()
            if line:
                event = json.loads(line)
                if "step_time_s" in event and event.get("event", "step") == "step":
                    steps.append(event)
    timed = [e for e in steps if e["step"] > args.warmup]
    if len(timed) != args.steps - args.warmup:
        raise RuntimeError(f"engine run: {metrics_path} has {len(steps)} step events, expected {args.steps}")
    result = common.summarize([e["step_time_s"] for e in timed], max(e.get("peak_rss_bytes", 0) for e in steps),
                              size["global_batch"] * size["seq_len"],
                              {"comm_bytes_per_step": statistics.median(e.get("comm_bytes", 0) for e in timed),
                               "model_state_bytes": steps[-1].get("model_state_bytes"),
                               "final_loss": steps[-1].get("loss")})
    shutil.rmtree(out_dir, ignore_errors=True)
    return result


def run_pytorch(args, size, dp, zero, out_root):
    report_path = os.path.join(out_root, "pytorch-report.json")
    # --redirects/--tee as mappings: see dp_vs_ddp.run_ddp (torchrun 1.13 on Python 3.11).
    command = [args.torchrun, "--standalone", "--nproc_per_node", str(dp), "--redirects", "0:1", "--tee", "0:1",
               common.DDP_WORKER, "--n-layer", str(size["n_layer"]), "--n-head", str(size["n_head"]),
               "--d-model", str(size["d_model"]), "--seq-len", str(size["seq_len"]),
               "--vocab-size", str(common.VOCAB), "--global-batch", str(size["global_batch"]),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--report", report_path]
    if zero:
        command.append("--zero")
    common.run_checked(command, f"PyTorch {'ZeroRedundancyOptimizer' if zero else 'DDP'} dp {dp}", args.timeout,
                       env=common.single_thread_env())
    with open(report_path) as f:
        report = json.load(f)
    os.remove(report_path)
    return common.summarize(report["step_seconds"], max(report["peak_rss_bytes_per_rank"]),
                            size["global_batch"] * size["seq_len"],
                            {"final_loss": report["final_loss"], "parameters": report["parameters"]})


SIDES = ["zero1", "zero2", "ddp", "zero_redundancy"]
LABELS = {"zero1": "engine ZeRO-1", "zero2": "engine ZeRO-2", "ddp": "PyTorch DDP",
          "zero_redundancy": "PyTorch ZeroRedundancyOptimizer"}


def run_side(args, size, dp, side, out_root):
    if side == "zero1":
        return run_engine(args, size, dp, 1, out_root)
    if side == "zero2":
        return run_engine(args, size, dp, 2, out_root)
    return run_pytorch(args, size, dp, side == "zero_redundancy", out_root)


def print_table(results):
    header = ["size", "dp", "side", "ms/step", "vs DDP", "vs ZeRO-Opt", "peak RSS/rank MiB", "spread"]
    rows = []
    for key, r in results.items():
        name, dp = key.split("@")
        ddp = r["ddp"]["median_step_s"]
        zro = r["zero_redundancy"]["median_step_s"]
        for side in SIDES:
            s = r[side]
            engine = side.startswith("zero") and side != "zero_redundancy"
            rows.append([name, dp, LABELS[side], f"{s['median_step_s'] * 1e3:.1f}",
                         f"{ddp / s['median_step_s']:.3f}" if engine else "",
                         f"{zro / s['median_step_s']:.3f}" if engine else "",
                         common.mib(s["peak_rss_bytes_per_rank"]), f"{s['spread'] * 100:.0f}%"])
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths)) + " |")


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(f"warning: load average {load_before[0]:.2f} before starting; timings will be noisy", file=sys.stderr)
    if max(args.dp_list) > (os.cpu_count() or 1):
        print(f"note: dp {max(args.dp_list)} on {os.cpu_count()} cores is oversubscribed", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="zero_vs_pytorch-") as out_root:
        for name in args.size_names:
            size = common.SIZES[name]
            parameters = common.check_parameter_count(size)
            for dp in args.dp_list:
                runs = {side: [] for side in SIDES}
                for rep in range(args.reps):
                    for side in SIDES:
                        runs[side].append(run_side(args, size, dp, side, out_root))
                        print(f"[{name} dp {dp} rep {rep + 1}/{args.reps}] {LABELS[side]}: "
                              f"{runs[side][-1]['mean_step_s'] * 1e3:.1f} ms/step", file=sys.stderr, flush=True)
                tokens = size["global_batch"] * size["seq_len"]
                entry = {side: common.combine(runs[side], tokens) for side in SIDES}
                entry["parameters"] = parameters
                entry["size"] = size
                results[f"{name}@{dp}"] = entry
    print_table(results)
    print("ms/step: median over every timed step of every run; vs X = X's ms/step / engine's (> 1: engine "
          "faster);\nspread: (max - min) / mean of the runs' mean step times (0% with one run)")
    if any(dp > (os.cpu_count() or 1) for dp in args.dp_list):
        print(f"dp > {os.cpu_count()} cores: ranks share cores (oversubscribed); those timings include contention")
    if args.json:
        common.write_report(args.json, "zero_vs_pytorch", load_before,
                            {"dps": args.dp_list, "steps": args.steps, "warmup": args.warmup, "reps": args.reps},
                            results, common.versions(args))
    return 0


if __name__ == "__main__":
    common.run_main("zero_vs_pytorch", main)
