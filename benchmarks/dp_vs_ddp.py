#!/usr/bin/python3
"""Side by side: the engine's data-parallel training step against PyTorch DistributedDataParallel.

Same GPT (benchmarks/python/gpt_reference.py mirrors backend/model/gpt.cpp), same global batch split
over 2 ranks, same sequence length, AdamW with clipping, fp32, gloo, one math thread per rank. Runs
alternate (engine, DDP, engine, DDP, ...) so slow drifts in machine load hit both sides alike; the
first --warmup steps of every run are left out. Prints a table and optionally writes JSON.

    /usr/bin/python3 benchmarks/dp_vs_ddp.py --bin build/bin/behemoth --steps 30 --warmup 5 \
        --sizes small,medium --json dp_vs_ddp.json

ratio = DDP seconds per step / engine seconds per step: above 1 means the engine is faster.
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
PROJECT = os.path.join(HERE, "projects", "bench-gpt.json")
DDP_WORKER = os.path.join(HERE, "python", "ddp_train.py")
sys.path.insert(0, os.path.join(HERE, "python"))

# Sized so that one run of 30 steps takes well under a minute on 2 idle cores (Debian's LibTorch
# uses the reference netlib BLAS: a few GFLOP/s per core).
SIZES = {
    "small": {"n_layer": 2, "n_head": 4, "d_model": 128, "seq_len": 64, "global_batch": 16},
    "medium": {"n_layer": 4, "n_head": 6, "d_model": 192, "seq_len": 64, "global_batch": 16},
    "large": {"n_layer": 4, "n_head": 8, "d_model": 256, "seq_len": 64, "global_batch": 16},
}
NPROC = 2
VOCAB = 256


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--steps", type=int, default=30, help="steps per run, warmup included")
    parser.add_argument("--warmup", type=int, default=5, help="first steps of each run left out")
    parser.add_argument("--reps", type=int, default=2, help="runs per side and size, alternating")
    parser.add_argument("--sizes", default="small,medium", help="comma list of " + ",".join(SIZES))
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--torchrun", default="/usr/bin/torchrun")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    parser.add_argument("--keep", action="store_true", help="keep the engine's run folders")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    args.size_names = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in args.size_names if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {unknown}; known: {', '.join(SIZES)}")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def single_thread_env():
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    return env


def run_checked(command, what, timeout, env=None, cwd=REPO):
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"{what}: no result within {timeout} s (--timeout)\n{' '.join(command)}") from error
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{what}: exit status {done.returncode}\n{' '.join(command)}\n{tail}")
    return done


def summarize(step_seconds, peak_rss_bytes, tokens_per_step, extra=None):
    mean = statistics.fmean(step_seconds)
    result = {
        "step_seconds": step_seconds,
        "mean_step_s": mean,
        "median_step_s": statistics.median(step_seconds),
        "tokens_per_s": tokens_per_step / mean,
        "peak_rss_bytes_per_rank": peak_rss_bytes,
    }
    result.update(extra or {})
    return result


def run_engine(args, size, out_root):
    out_dir = tempfile.mkdtemp(prefix="engine-", dir=out_root)
    overrides = {
        "model.n_layer": size["n_layer"], "model.n_head": size["n_head"], "model.d_model": size["d_model"],
        "model.seq_len": size["seq_len"], "model.vocab_size": VOCAB,
        "data.global_batch_size": size["global_batch"], "devices.count": NPROC,
        "train.steps": args.steps, "train.log_every": 1, "train.eval_every": 0, "train.out_dir": out_dir,
    }
    command = [os.path.abspath(args.bin), "run", PROJECT, "--nproc", str(NPROC), "--no-history"]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    run_checked(command, "engine run", args.timeout, env=single_thread_env())
    metrics_path = os.path.join(out_dir, "metrics.jsonl")
    steps = []
    with open(metrics_path) as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            event = json.loads(line)
            if "step_time_s" in event and event.get("event", "step") == "step":
                steps.append(event)
    timed = [e for e in steps if e["step"] > args.warmup]
    if len(timed) != args.steps - args.warmup:
        raise RuntimeError(f"engine run: {metrics_path} has {len(steps)} step events with step_time_s, expected one "
                           f"per step ({args.steps}); is train.log_every=1 honoured?")
    tokens_per_step = size["global_batch"] * size["seq_len"]
    result = summarize([e["step_time_s"] for e in timed], max(e.get("peak_rss_bytes", 0) for e in steps),
                       tokens_per_step,
                       {"comm_bytes_per_step": statistics.median(e.get("comm_bytes", 0) for e in timed),
                        "final_loss": steps[-1].get("loss")})
    if not args.keep:
        shutil.rmtree(out_dir, ignore_errors=True)
    return result


def run_ddp(args, size, out_root):
    report_path = os.path.join(out_root, "ddp-report.json")
    # --redirects/--tee as mappings: torchrun 1.13 on Python 3.11 cannot parse their default "0"
    # (Std.NONE is no longer yielded when iterating the IntFlag) and fails before starting workers.
    command = [args.torchrun, "--standalone", "--nproc_per_node", str(NPROC), "--redirects", "0:1", "--tee", "0:1",
               DDP_WORKER, "--n-layer", str(size["n_layer"]), "--n-head", str(size["n_head"]),
               "--d-model", str(size["d_model"]), "--seq-len", str(size["seq_len"]), "--vocab-size", str(VOCAB),
               "--global-batch", str(size["global_batch"]), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--report", report_path]
    run_checked(command, "DDP run", args.timeout, env=single_thread_env())
    with open(report_path) as f:
        report = json.load(f)
    os.remove(report_path)
    return summarize(report["step_seconds"], max(report["peak_rss_bytes_per_rank"]),
                     size["global_batch"] * size["seq_len"],
                     {"final_loss": report["final_loss"], "parameters": report["parameters"],
                      "peak_rss_bytes_all_ranks": report["peak_rss_bytes_per_rank"]})


def combine(runs, tokens_per_step):
    """One figure per side: the median of every timed step of every run, which a burst of load from
    another process moves less than a mean; the spread of the runs' means shows how noisy it was."""
    every_step = [t for r in runs for t in r["step_seconds"]]
    means = [r["mean_step_s"] for r in runs]
    median = statistics.median(every_step)
    return {
        "median_step_s": median,
        "mean_step_s": statistics.fmean(every_step),
        "run_means_s": means,
        "spread": (max(means) - min(means)) / statistics.fmean(means),
        "tokens_per_s": tokens_per_step / median,
        "peak_rss_bytes_per_rank": max(r["peak_rss_bytes_per_rank"] for r in runs),
        "runs": runs,
    }


def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(), "python": platform.python_version()}


def versions(args):
    import torch
    info = {"torch_python": torch.__version__, "blas": torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0]}
    try:
        info["engine_env"] = run_checked([os.path.abspath(args.bin), "env"], "behemoth env", 60).stdout.strip()
    except RuntimeError as error:
        info["engine_env"] = f"unavailable: {error}".splitlines()[0]
    try:
        info["git_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                            text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        info["git_dirty"] = bool(dirty)
    except OSError:
        pass
    return info


def check_parameter_count(size):
    """The PyTorch model must have exactly the engine's parameter count (ModelConfig::parameterCount)."""
    command = [sys.executable, DDP_WORKER, "--check-params", "--n-layer", str(size["n_layer"]),
               "--n-head", str(size["n_head"]), "--d-model", str(size["d_model"]), "--seq-len", str(size["seq_len"]),
               "--vocab-size", str(VOCAB)]
    counts = json.loads(run_checked(command, "parameter check", 120, env=single_thread_env()).stdout)
    if counts["parameters"] != counts["formula"]:
        raise RuntimeError(f"PyTorch GPT has {counts['parameters']} parameters, the engine's formula gives "
                           f"{counts['formula']}: the two models differ")
    return counts["parameters"]


def write_report(path, benchmark, load_before, settings, results, versions_info=None):
    """The JSON every benchmark writes: what ran, when, where, under what load, and its results."""
    report = {
        "benchmark": benchmark,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "settings": dict({"precision": "fp32", "backend": "gloo", "threads_per_rank": 1}, **settings),
        "results": results,
    }
    if versions_info is not None:
        report["versions"] = versions_info
    with open(path, "w") as out:
        json.dump(report, out, indent=1)
    print(f"wrote {path}")


def run_main(name, main):
    """Exit with main()'s status; a RuntimeError is a one-line failure naming the benchmark."""
    try:
        sys.exit(main())
    except RuntimeError as error:
        print(f"{name}: {error}", file=sys.stderr)
        sys.exit(1)


def mib(nbytes):
    return f"{nbytes / 2**20:.0f}"


def print_table(results):
    header = ["size", "params", "engine ms/step", "DDP ms/step", "ratio", "engine tok/s", "DDP tok/s",
              "engine RSS/rank MiB", "DDP RSS/rank MiB", "spread e/d"]
    rows = []
    for name, r in results.items():
        e, d = r["engine"], r["ddp"]
        rows.append([name, f"{r['parameters'] / 1e6:.2f}M", f"{e['median_step_s'] * 1e3:.1f}",
                     f"{d['median_step_s'] * 1e3:.1f}", f"{r['ratio']:.3f}", f"{e['tokens_per_s']:.0f}",
                     f"{d['tokens_per_s']:.0f}", mib(e["peak_rss_bytes_per_rank"]), mib(d["peak_rss_bytes_per_rank"]),
                     f"{e['spread'] * 100:.0f}%/{d['spread'] * 100:.0f}%"])
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print(f"warning: load average {load_before[0]:.2f} before starting; timings will be noisy", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="dp_vs_ddp-") as out_root:
        for name in args.size_names:
            size = SIZES[name]
            parameters = check_parameter_count(size)
            engine_runs, ddp_runs = [], []
            for rep in range(args.reps):
                print(f"[{name}] repetition {rep + 1}/{args.reps}: engine ...", file=sys.stderr, flush=True)
                engine_runs.append(run_engine(args, size, out_root))
                print(f"[{name}]   engine {engine_runs[-1]['mean_step_s'] * 1e3:.1f} ms/step; DDP ...",
                      file=sys.stderr, flush=True)
                ddp_runs.append(run_ddp(args, size, out_root))
                print(f"[{name}]   DDP {ddp_runs[-1]['mean_step_s'] * 1e3:.1f} ms/step", file=sys.stderr, flush=True)
            tokens_per_step = size["global_batch"] * size["seq_len"]
            engine, ddp = combine(engine_runs, tokens_per_step), combine(ddp_runs, tokens_per_step)
            results[name] = {"size": size, "parameters": parameters, "engine": engine, "ddp": ddp,
                             "ratio": ddp["median_step_s"] / engine["median_step_s"],
                             "ratio_of_means": ddp["mean_step_s"] / engine["mean_step_s"]}
    print_table(results)
    print("ms/step: median over every timed step of every run; ratio = DDP / engine (> 1: engine faster);\n"
          "spread: (max - min) / mean of the runs' mean step times, engine/DDP (large = busy machine)")
    if args.json:
        write_report(args.json, "dp_vs_ddp", load_before,
                     {"nproc": NPROC, "steps": args.steps, "warmup": args.warmup, "reps": args.reps}, results,
                     versions(args))
    return 0


if __name__ == "__main__":
    run_main("dp_vs_ddp", main)
