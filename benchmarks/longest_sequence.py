#!/usr/bin/python3
"""The longest sequence a LLaMA-style model trains for 3 steps within a fixed per-rank memory budget
(issue #15): the engine at sp 1 with dense and with blockwise attention, Ulysses and ring at sp 2
and 4, and the same model in plain PyTorch (benchmarks/python/llama_reference.py: dense softmax
attention) at sp 1.

A length fits when every step finishes with a finite loss and every rank's peak resident set
(VmHWM: the engine's step events' rank_peak_rss_bytes; PyTorch's ru_maxrss, the same kernel meter)
stays within --budget-gb; a run is stopped the moment any of its processes' VmHWM passes the
budget. Lengths are multiples of --granularity; per configuration the search doubles from --start
until a length does not fit, then bisects. The whole process tree also runs under a cap of
nproc x budget x 1.5 + 1 GB (benchmarks/python/tree_memory.py) so no run can take the machine down. Model: --layers, --d-model, --heads, --kv-heads; batch 1; byte tokens; fp32; one
thread per rank.

  /usr/bin/python3 benchmarks/longest_sequence.py --bin build/bin/behemoth --budget-gb 1.0 --json out.json
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "python"))
import tree_memory  # noqa: E402

GIB = 1 << 30

PYTORCH_TRAIN = r"""
import json, math, resource, sys, torch
sys.path.insert(0, sys.argv[1])
from llama_reference import Llama, LlamaSizes
layers, d_model, heads, kv_heads, d_ff, T, steps = map(int, sys.argv[2:9])
torch.set_num_threads(1)
torch.manual_seed(0)
model = Llama(LlamaSizes(layers, heads, kv_heads, d_model, d_ff, T))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
data = torch.randint(0, 256, (1, T + 1))
losses = []
for _ in range(steps):
    optimizer.zero_grad()
    loss = model.loss(data[:, :-1], data[:, 1:])
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(json.dumps({"losses": losses, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def engine_project(args, config, T, out_dir):
    mode, sp, attention = config["mode"], config["sp"], config["attention"]
    return {
        "name": f"longest-{config['name']}-{T}",
        "model": {"arch": "llama", "n_layer": args.layers, "n_head": args.heads, "n_kv_head": args.kv_heads,
                  "d_model": args.d_model, "d_ff": args.d_ff, "seq_len": T, "vocab_size": 256,
                  "attention": attention, "attention_block": args.block},
        "data": {"corpus": "builtin", "global_batch_size": 1, "eval_fraction": 0.0},
        "parallel": {"dp": 1, "sp": sp, "sp_mode": mode},
        "optimizer": {"name": "adamw", "lr": 3e-4},
        "train": {"steps": args.steps, "log_every": 1, "eval_every": 0, "out_dir": out_dir, "checkpoint_final": False},
    }


def run_engine(args, config, T, work):
    out_dir = os.path.join(work, f"{config['name']}-{T}")
    path = out_dir + ".json"
    with open(path, "w") as f:
        json.dump(engine_project(args, config, T, out_dir), f)
    command = [os.path.abspath(args.bin), "run", path, "--nproc", str(config["sp"]), "--no-history"]
    result = capped(args, command, config["sp"], out_dir + ".log")
    steps = []
    try:
        with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
            for line in lines:
                event = json.loads(line)
                if event.get("event", "step") == "step" and "step_time_s" in event:
                    steps.append(event)
    except (OSError, json.JSONDecodeError):
        pass
    losses = [e["loss"] for e in steps]
    peaks = [max(e.get("rank_peak_rss_bytes") or [e["peak_rss_bytes"]]) for e in steps]
    result.update({"losses": losses, "peak_rss_bytes": max(peaks) if peaks else None,
                   "step_seconds": [e["step_time_s"] for e in steps]})
    return judge(args, result)


def run_pytorch(args, T, work):
    log = os.path.join(work, f"pytorch-{T}.log")
    command = [sys.executable, "-c", PYTORCH_TRAIN, os.path.join(HERE, "python"), str(args.layers), str(args.d_model),
               str(args.heads), str(args.kv_heads), str(args.d_ff), str(T), str(args.steps)]
    result = capped(args, command, 1, log)
    try:
        with open(log) as f:
            result.update(json.loads(f.read().strip().splitlines()[-1]))
    except (OSError, ValueError, IndexError):
        result.update({"losses": [], "peak_rss_bytes": None})
    return judge(args, result)


def capped(args, command, nproc, log):
    """Runs the job with two guards: the whole tree under nproc x budget x 1.5 + 1 GB
    (tree_memory.run_capped's own watchdog, so no run takes the machine down), and this function's:
    every 0.2 s, any process of the tree whose peak resident set (VmHWM) is above the per-rank
    budget ends the run at once, since it can no longer fit."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cap = int(nproc * args.budget_gb * 1.5 * GIB + GIB)
    budget = int(args.budget_gb * GIB)
    start = time.monotonic()
    with open(log, "wb") as out:
        job = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
    outcome = "exited"
    try:
        while job.poll() is None:
            if max((peak_rss(pid) for pid in tree_memory.descendants(job.pid)), default=0) > budget:
                outcome = "over_budget"
            elif tree_memory.tree_sample(job.pid)["non_reclaimable"] > cap:
                outcome = "over_cap"
            elif time.monotonic() - start > args.timeout_s:
                outcome = "timeout"
            if outcome != "exited":
                tree_memory.kill_tree(job.pid)
                break
            time.sleep(0.2)
    finally:
        if job.poll() is None:
            tree_memory.kill_tree(job.pid)
        job.wait()
    return {"outcome": outcome, "returncode": job.returncode, "wall_s": time.monotonic() - start}


def peak_rss(pid):
    """VmHWM of one process in bytes (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def judge(args, result):
    finite = len(result["losses"]) == args.steps and all(math.isfinite(x) for x in result["losses"])
    within = result["peak_rss_bytes"] is not None and result["peak_rss_bytes"] <= args.budget_gb * GIB
    result["fits"] = result["outcome"] == "exited" and result["returncode"] == 0 and finite and within
    return result


def longest(args, trial, label):
    """The largest multiple of the granularity that fits: doubling, then bisection."""
    tried = {}

    def fits(T):
        if T not in tried:
            tried[T] = trial(T)
            r = tried[T]
            print(f"  {label:>16} T={T:>7}: {'fits' if r['fits'] else 'no  '}  peak "
                  f"{(r['peak_rss_bytes'] or 0) / GIB:.2f} GiB  {r['outcome']}", flush=True)
        return tried[T]["fits"]

    good, bad = 0, None
    T = args.start
    while bad is None and T <= args.max_length:
        if fits(T):
            good, T = T, T * 2
        else:
            bad = T
    if bad is None:
        return good, tried
    while bad - good > args.granularity:
        middle = (good + bad) // 2 // args.granularity * args.granularity
        if middle in (good, bad):
            break
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good, tried


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="build/bin/behemoth")
    parser.add_argument("--budget-gb", type=float, default=1.0)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--d-ff", type=int, default=352)
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--start", type=int, default=2048)
    parser.add_argument("--granularity", type=int, default=1024)
    parser.add_argument("--max-length", type=int, default=1 << 20)
    parser.add_argument("--timeout-s", type=float, default=1800)
    parser.add_argument("--configs", default="pytorch,dense-1,blockwise-1,ulysses-2,ring-2,ulysses-4,ring-4")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="longest-sequence-") as work:
        for name in args.configs.split(","):
            if name == "pytorch":
                best, tried = longest(args, lambda T: run_pytorch(args, T, work), name)
            else:
                kind, sp = name.split("-")
                config = {"name": name, "sp": int(sp), "mode": "ring" if kind == "ring" else "ulysses",
                          "attention": "dense" if kind == "dense" else "blockwise"}
                best, tried = longest(args, lambda T: run_engine(args, config, T, work), name)
            results[name] = {"longest": best, "tried": {str(k): v for k, v in sorted(tried.items())}}
            print(f"{name}: longest {best}", flush=True)
    base = results.get("blockwise-1", {}).get("longest") or 0
    print("\n%14s %10s %12s" % ("config", "longest T", "x blockwise-1"))
    for name, r in results.items():
        print("%14s %10d %12s" % (name, r["longest"], "%.2f" % (r["longest"] / base) if base else "-"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"budget_gb": args.budget_gb, "model": {"layers": args.layers, "d_model": args.d_model,
                       "heads": args.heads, "kv_heads": args.kv_heads, "d_ff": args.d_ff, "block": args.block},
                       "steps": args.steps, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
