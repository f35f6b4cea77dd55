#!/usr/bin/python3
"""The largest GPT each side trains on this machine under one memory cap (issue #13).

For a side and a model size it starts the 2-rank job (gloo, dp 2, --steps 3, global batch 2,
seq_len 128, the engine's `gpt` architecture) and a watchdog that samples, every 0.2 s, the summed
*non-reclaimable* memory of the whole process tree (RssAnon + RssShmem of every descendant, launcher
included) and kills the tree the moment it exceeds --cap-gb. A size trains when every step finishes
with a finite loss under the cap. File-backed pages (RssFile) are not counted: the engine's disk tier
keeps optimizer states in memory-mapped files, whose pages are page cache the kernel can write back
and drop, so they do not decide whether a model fits; the resident total (with file pages) is
recorded too.

Sides:
  ddp         torch DistributedDataParallel + torch.optim.AdamW, fp32 (python/ddp_train.py)
  zero_optim  DDP + torch.distributed.optim.ZeroRedundancyOptimizer (PyTorch's ZeRO-1)
  fsdp        FullyShardedDataParallel with CPUOffload(offload_params=True) on gloo
              (python/fsdp_train.py); where it does not run, the exact error is the result
  behemoth    `behemoth run` of a generated project: zero 3, static placement, every parameter
              shard on the host, every optimizer shard on disk (parallel.offload_dir)

Sizes: a ladder growing --growth (1.4x) in parameters from --base-m (50 M), python/gpt_ladder.py.
Per side the search starts at --start, climbs while sizes train and stops at the first that does
not (or walks down from --start while sizes go over the cap). Then the seconds per step after the
first, side by side, at the largest size every side trains (or --step-time-rung).

    /usr/bin/python3 benchmarks/largest_model.py --cap-gb 8 --sides ddp,zero_optim,fsdp --json out.json
    /usr/bin/python3 benchmarks/largest_model.py --cap-gb 20 --sides ddp,zero_optim,fsdp,behemoth \\
        --bin build/bin/behemoth --json largest_model.json

Before every run the machine must have --cap-gb + --margin-gb of MemAvailable (the harness waits up
to --wait-s for it), and a run is stopped, without a verdict on the size, if MemAvailable falls below
--floor-gb while it runs (other programs need memory too).
"""

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "python"))
sys.path.insert(0, HERE)
import dp_vs_ddp as common  # noqa: E402  (torch-free at import)
import gpt_ladder  # noqa: E402
import tree_memory  # noqa: E402

GIB = 1 << 30
MIB = 1 << 20
NPROC = 2
SIDES = ["ddp", "zero_optim", "fsdp", "behemoth"]
LABELS = {"ddp": "PyTorch DDP", "zero_optim": "PyTorch DDP + ZeroRedundancyOptimizer",
          "fsdp": "PyTorch FSDP + CPUOffload", "behemoth": "Behemoth ZeRO-3, host + disk tiers"}
FSDP_WORKER = os.path.join(HERE, "python", "fsdp_train.py")
# The disk tier holds every optimizer shard (fp32: gradient, exp_avg, exp_avg_sq: 12 bytes per
# element over all ranks), plus chunk padding; the free space asked for before an engine run.
DISK_BYTES_PER_PARAMETER = 12
DISK_SLACK = 1.25
# Outcomes that say nothing about whether the size fits (the search stops, the size is not judged).
INCONCLUSIVE = {"machine_low", "timeout", "skipped"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cap-gb", type=float, required=True, help="non-reclaimable memory cap of a job, GiB")
    parser.add_argument("--sides", default="ddp,zero_optim,fsdp", help="comma list of " + ",".join(SIDES))
    parser.add_argument("--bin", default=os.path.join(REPO, "build", "bin", "behemoth"),
                        help="the behemoth executable (side behemoth)")
    parser.add_argument("--base-m", type=float, default=50.0, help="first rung, millions of parameters")
    parser.add_argument("--growth", type=float, default=1.4, help="parameter ratio between rungs")
    parser.add_argument("--rungs", type=int, default=16, help="rungs on the ladder")
    parser.add_argument("--start", default="0", help="rung (index or name) each side's search starts at")
    parser.add_argument("--only", default="", help="comma list of rungs (index or name) to run, no search")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--global-batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="steps per run (the first is left out of s/step)")
    parser.add_argument("--step-time-rung", default="",
                        help="rung for the side-by-side step time (default: the largest every side trains)")
    parser.add_argument("--interval-s", type=float, default=0.2, help="watchdog sampling interval")
    parser.add_argument("--margin-gb", type=float, default=3.0,
                        help="a run starts only when MemAvailable >= cap + margin")
    parser.add_argument("--floor-gb", type=float, default=3.0,
                        help="a run is stopped (no verdict) when MemAvailable falls below this")
    parser.add_argument("--wait-s", type=float, default=600, help="longest wait for MemAvailable before a run")
    parser.add_argument("--timeout-s", type=float, default=14400,
                        help="longest run (no verdict when reached); billions of parameters take tens of minutes a step")
    parser.add_argument("--offload-root", default="/var/tmp",
                        help="behemoth: parent of the temporary parallel.offload_dir (local disk, not tmpfs)")
    parser.add_argument("--device-budget-mb", type=int, default=0,
                        help="behemoth: parallel.device_budget_mb (0: --device-budget-blocks gathered blocks)")
    parser.add_argument("--device-budget-blocks", type=float, default=4.0,
                        help="behemoth: default budget = this many blocks' fp32 parameter bytes, plus 64 MiB")
    parser.add_argument("--engine-set", action="append", default=[], metavar="KEY=VALUE",
                        help="behemoth: override a field of the generated project (repeat), passed as `--set`; "
                             "recorded with the results, e.g. parallel.placement=auto")
    parser.add_argument("--engine-arg", action="append", default=[],
                        help="extra argument for `behemoth run` (repeat), e.g. --engine-arg=--force")
    parser.add_argument("--torchrun", default="/usr/bin/torchrun")
    parser.add_argument("--json", help="write every run and the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the run folders and logs (path printed)")
    parser.add_argument("--dry-run", action="store_true", help="print the ladder and the commands, run nothing")
    args = parser.parse_args(argv)

    args.side_list = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = [s for s in args.side_list if s not in SIDES]
    if unknown or not args.side_list:
        parser.error(f"--sides: unknown {unknown}; known: {', '.join(SIDES)}")
    if args.steps < 2:
        parser.error("--steps must be at least 2 (the first step is left out of the step time)")
    if args.global_batch % NPROC:
        parser.error(f"--global-batch {args.global_batch} must divide by the {NPROC} ranks")
    args.ladder = gpt_ladder.ladder(args.base_m, args.growth, args.rungs, args.seq_len)
    args.start_index = rung_index(parser, args.ladder, args.start, "--start")
    args.only_indices = [rung_index(parser, args.ladder, r, "--only") for r in args.only.split(",") if r.strip()]
    args.step_time_index = (rung_index(parser, args.ladder, args.step_time_rung, "--step-time-rung")
                            if args.step_time_rung else None)
    bad = [a for a in args.engine_set if "=" not in a]
    if bad:
        parser.error(f"--engine-set {bad[0]}: expected KEY=VALUE")
    if args.engine_set and "behemoth" in args.side_list:
        LABELS["behemoth"] = "Behemoth, generated project with --set " + " ".join(args.engine_set)
    if "behemoth" in args.side_list and not args.dry_run and not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file (needed by side behemoth)")
    if not args.dry_run:
        available = tree_memory.mem_available_bytes()
        if args.cap_gb * GIB + args.margin_gb * GIB > available and args.wait_s <= 0:
            parser.error(f"--cap-gb {args.cap_gb}: MemAvailable is {available / GIB:.1f} GiB, less than the cap plus "
                         f"--margin-gb {args.margin_gb}")
    return args


def rung_index(parser, ladder, text, option):
    text = text.strip()
    if text.isdigit() and int(text) < len(ladder):
        return int(text)
    for index, rung in enumerate(ladder):
        if rung.name == text:
            return index
    parser.error(f"{option} {text}: not a rung; rungs: " + ", ".join(f"{i}={r.name}" for i, r in enumerate(ladder)))


# ---- one run ------------------------------------------------------------------------------------

def pytorch_command(args, side, rung, report_path, import_shim=False):
    worker = FSDP_WORKER if side == "fsdp" else common.DDP_WORKER
    # --redirects/--tee as mappings: torchrun 1.13 on Python 3.11 (see dp_vs_ddp.run_ddp).
    command = [args.torchrun, "--standalone", "--nproc_per_node", str(NPROC), "--redirects", "0:1", "--tee", "0:1",
               worker, "--n-layer", str(rung.n_layer), "--n-head", str(rung.n_head), "--d-model", str(rung.d_model),
               "--seq-len", str(rung.seq_len), "--vocab-size", str(rung.vocab_size),
               "--global-batch", str(args.global_batch), "--steps", str(args.steps), "--warmup", "1",
               "--progress", "--report", report_path]
    if side == "zero_optim":
        command.append("--zero")
    if import_shim:
        command.append("--import-shim")
    return command


def device_budget_mb(args, rung):
    if args.device_budget_mb > 0:
        return args.device_budget_mb
    return int(math.ceil(args.device_budget_blocks * rung.block_parameters() * 4 / MIB)) + 64


def engine_project(args, rung, out_dir, offload_dir):
    return {
        "name": f"largest-{rung.name}",
        "model": {"arch": "gpt", "n_layer": rung.n_layer, "n_head": rung.n_head, "d_model": rung.d_model,
                  "seq_len": rung.seq_len, "vocab_size": rung.vocab_size},
        "data": {"corpus": "builtin", "global_batch_size": args.global_batch},
        "devices": {"kind": "cpu", "count": NPROC},
        "parallel": {"dp": NPROC, "zero": 3, "placement": "static", "offload_param_fraction": 1,
                     "offload_optim_fraction": 0, "disk_optim_fraction": 1, "offload_dir": offload_dir,
                     "chunk_mb": 0, "device_budget_mb": device_budget_mb(args, rung)},
        "precision": "fp32",
        "optimizer": {"name": "adamw", "lr": 0.001, "weight_decay": 0.1, "grad_clip": 1.0, "warmup_steps": 0},
        "train": {"steps": args.steps, "seed": 0, "log_every": 1, "eval_every": 0, "out_dir": out_dir,
                  "checkpoint_final": False},
    }


def engine_command(args, project_path):
    overrides = [part for assignment in args.engine_set for part in ("--set", assignment)]
    return ([os.path.abspath(args.bin), "run", project_path, "--nproc", str(NPROC), "--no-history"] + overrides
            + args.engine_arg)


def filesystem_type(path):
    """The type of the mount holding path (the longest mount point that is a prefix of it)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                best, kind = point, fields[2]
    return kind


def disk_bytes_used(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def wait_for_memory(args):
    """Blocks until MemAvailable >= cap + margin (or --wait-s passed); returns MemAvailable."""
    needed = (args.cap_gb + args.margin_gb) * GIB
    deadline = time.monotonic() + args.wait_s
    while True:
        available = tree_memory.mem_available_bytes()
        if available >= needed:
            return available
        if time.monotonic() > deadline:
            raise RuntimeError(f"MemAvailable {available / GIB:.1f} GiB stayed below --cap-gb {args.cap_gb} + "
                               f"--margin-gb {args.margin_gb} for --wait-s {args.wait_s:.0f} s; rerun on a quieter "
                               f"machine or with a smaller cap")
        print(f"  waiting: MemAvailable {available / GIB:.1f} GiB < {needed / GIB:.1f} GiB", file=sys.stderr,
              flush=True)
        time.sleep(10)


def last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def log_tail(path, lines=15):
    try:
        with open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])
    except OSError:
        return ""


def steps_in_log(path):
    """PyTorch workers' --progress lines: 'step N loss X seconds S' (torchrun prefixes '[default0]:')."""
    done = []
    try:
        with open(path, errors="replace") as log:
            for line in log:
                text = line.split(":", 1)[-1].strip() if line.startswith("[") else line.strip()
                parts = text.split()
                if len(parts) == 6 and parts[0] == "step" and parts[2] == "loss":
                    done.append(float(parts[3]))
    except OSError:
        pass
    return done


def engine_steps(out_dir):
    steps = []
    try:
        with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
            for line in lines:
                line = line.strip()
                if line:
                    event = json.loads(line)
                    if event.get("event", "step") == "step" and "step_time_s" in event:
                        steps.append(event)
    except (OSError, json.JSONDecodeError):
        pass
    return steps


def judge(result, losses, steps_expected):
    """Sets result['status']: trained / over_cap / failed / machine_low / timeout."""
    outcome = result["outcome"]
    finite = len(losses) == steps_expected and all(math.isfinite(x) for x in losses)
    if outcome == "exited" and result["returncode"] == 0 and finite:
        result["status"] = "trained"
    elif outcome == "exited":
        result["status"] = "failed"
        if result["returncode"] == 0:
            result["reason"] = f"{len(losses)} of {steps_expected} steps with losses {losses}: not all finite"
    else:
        result["status"] = outcome
    return result


def run_pytorch(args, side, rung, work, import_shim=False):
    tag = f"{side}{'-shim' if import_shim else ''}-{rung.name}"
    report_path, log_path = os.path.join(work, tag + ".json"), os.path.join(work, tag + ".log")
    command = pytorch_command(args, side, rung, report_path, import_shim)
    available = wait_for_memory(args)
    result = tree_memory.run_capped(command, args.cap_gb * GIB, log_path, args.timeout_s, env=common.single_thread_env(),
                                    cwd=REPO, interval_s=args.interval_s, machine_floor_bytes=args.floor_gb * GIB)
    result.update({"side": side, "rung": rung.name, "parameters": rung.parameters, "command": " ".join(command),
                   "mem_available_before": available, "log": log_path})
    report = None
    if os.path.exists(report_path):
        with open(report_path) as f:
            report = json.load(f)
    if report is not None and report.get("ran") is False:
        result.update({"status": "does_not_run", "stage": report["stage"], "error": report["error"],
                       "where": report["where"], "torch_distributed_frame": report.get("torch_distributed_frame"),
                       "import_shim": import_shim})
        return result
    losses = report["losses"] if report else steps_in_log(log_path)
    result["losses"] = losses
    judge(result, losses, args.steps)
    if report:
        if report["parameters"] != rung.parameters:
            raise RuntimeError(f"{side} {rung.name}: the PyTorch GPT has {report['parameters']} parameters, the ladder "
                               f"(the engine's formula) {rung.parameters}: the models differ")
        result["step_seconds_after_first"] = report["step_seconds"]
        result["peak_rss_bytes_per_rank"] = report["peak_rss_bytes_per_rank"]
    if result["status"] == "failed":
        result["error_tail"] = log_tail(log_path)
        result.setdefault("reason", last_line(result["error_tail"]))
    return result


def run_engine(args, rung, work):
    tag = f"behemoth-{rung.name}"
    out_dir = os.path.join(work, tag)
    os.makedirs(out_dir, exist_ok=True)
    base = {"side": "behemoth", "rung": rung.name, "parameters": rung.parameters}
    os.makedirs(args.offload_root, exist_ok=True)
    kind = filesystem_type(args.offload_root)
    if kind in ("tmpfs", "ramfs"):
        return dict(base, status="skipped", outcome="skipped",
                    reason=f"--offload-root {args.offload_root} is on {kind}: its pages are memory, not disk")
    needed = int(rung.parameters * DISK_BYTES_PER_PARAMETER * DISK_SLACK) + 2 * GIB
    free = shutil.disk_usage(args.offload_root).free
    if free < needed:
        return dict(base, status="skipped", outcome="skipped",
                    reason=f"--offload-root {args.offload_root}: {free / GIB:.1f} GiB free, the disk tier needs about "
                           f"{needed / GIB:.1f} GiB")
    offload_dir = tempfile.mkdtemp(prefix="largest-offload-", dir=args.offload_root)
    project_path = os.path.join(work, tag + ".json")
    with open(project_path, "w") as out:
        json.dump(engine_project(args, rung, out_dir, offload_dir), out, indent=1)
    command = engine_command(args, project_path)
    log_path = os.path.join(work, tag + ".log")
    available = wait_for_memory(args)
    try:
        result = tree_memory.run_capped(command, args.cap_gb * GIB, log_path, args.timeout_s, env=common.single_thread_env(),
                                        cwd=REPO, interval_s=args.interval_s,
                                        machine_floor_bytes=args.floor_gb * GIB)
        result["offload_dir_bytes_at_end"] = disk_bytes_used(offload_dir)
    finally:
        shutil.rmtree(offload_dir, ignore_errors=True)
    result.update(base)
    result.update({"command": " ".join(command), "project": project_path, "mem_available_before": available,
                   "log": log_path, "offload_filesystem": kind, "device_budget_mb": device_budget_mb(args, rung)})
    steps = engine_steps(out_dir)
    losses = [e.get("loss", float("nan")) for e in steps]
    result["losses"] = losses
    judge(result, losses, args.steps)
    if steps:
        result["step_seconds_after_first"] = [e["step_time_s"] for e in steps[1:]]
        last = steps[-1]
        for key in ("model_state_bytes", "peak_rss_bytes", "rank_device_peak_bytes", "rank_host_bytes",
                    "rank_disk_bytes", "rank_tier_moved_bytes", "rank_device_chunks", "rank_host_chunks",
                    "rank_disk_chunks"):
            if key in last:
                result[key] = last[key]
    if result["status"] == "failed":
        result["error_tail"] = log_tail(log_path)
        result.setdefault("reason", last_line(result["error_tail"]))
    if not args.keep:
        shutil.rmtree(out_dir, ignore_errors=True)
    return result


def run_once(args, side, index, work):
    rung = args.ladder[index]
    print(f"[{side} {rung.name}: {rung.n_layer} layers, d {rung.d_model}, {rung.n_head} heads, "
          f"{rung.parameters / 1e6:.0f}M] ...", file=sys.stderr, flush=True)
    for attempt in range(2):  # once more when another program took the memory
        result = run_engine(args, rung, work) if side == "behemoth" else run_pytorch(args, side, rung, work)
        if result["status"] != "machine_low" or attempt == 1:
            break
        print("  stopped: the machine ran low on memory (not this job's cap); once more", file=sys.stderr, flush=True)
    result["index"] = index
    print(f"  {describe(result)}", file=sys.stderr, flush=True)
    return result


def describe(result):
    text = result["status"]
    if "peak_non_reclaimable_bytes" in result:
        text += f", peak {result['peak_non_reclaimable_bytes'] / GIB:.2f} GiB non-reclaimable"
    if result.get("step_seconds_after_first"):
        seconds = result["step_seconds_after_first"]
        text += f", {sum(seconds) / len(seconds):.1f} s/step"
    for key in ("reason", "error"):
        if result.get(key):
            text += f": {result[key]}"
    return text


# ---- the search ---------------------------------------------------------------------------------

def import_shim_probe(args, index, work):
    """FSDP once more with the Python 3.11 import failure worked around, to see what stops it next
    (reported beside the stock result, never searched with)."""
    probe = run_pytorch(args, "fsdp", args.ladder[index], work, import_shim=True)
    probe.update({"index": index, "probe": True})
    print(f"  with the import shim: {describe(probe)}", file=sys.stderr, flush=True)
    return probe


def search(args, side, work):
    """Every run of this side; the largest rung that trained is the one with the highest index."""
    runs = []
    if args.only_indices:
        for index in args.only_indices:
            runs.append(run_once(args, side, index, work))
            if runs[-1]["status"] == "does_not_run":
                runs.append(import_shim_probe(args, index, work))
                break
        return runs
    index = args.start_index
    first = run_once(args, side, index, work)
    runs.append(first)
    if first["status"] == "does_not_run":
        runs.append(import_shim_probe(args, index, work))
        return runs
    if first["status"] == "trained":
        while index + 1 < len(args.ladder):
            index += 1
            runs.append(run_once(args, side, index, work))
            if runs[-1]["status"] != "trained":
                break
    elif first["status"] == "over_cap":
        while index > 0:
            index -= 1
            runs.append(run_once(args, side, index, work))
            if runs[-1]["status"] != "over_cap":
                break
    return runs


def largest_trained(runs):
    trained = [r for r in runs if r["status"] == "trained" and not r.get("probe")]
    return max(trained, key=lambda r: r["index"]) if trained else None


def first_untrained_above(runs, best):
    above = [r for r in runs if not r.get("probe") and r["status"] != "trained"
             and (best is None or r["index"] > best["index"])]
    return min(above, key=lambda r: r["index"]) if above else None


def mean_step(result):
    seconds = result.get("step_seconds_after_first") or []
    return sum(seconds) / len(seconds) if seconds else None


def step_time_comparison(args, sides_runs, work):
    """Seconds per step after the first, every side at one rung (runs it where the search did not)."""
    best = {side: largest_trained(runs) for side, runs in sides_runs.items()}
    training = [side for side, b in best.items() if b is not None]
    if not training:
        return None
    index = args.step_time_index
    if index is None:
        index = min(best[side]["index"] for side in training)
    rung = args.ladder[index]
    row = {"rung": rung.name, "parameters": rung.parameters, "sides": {}}
    for side in training:
        found = [r for r in sides_runs[side] if r["index"] == index and r["status"] == "trained"
                 and not r.get("probe")]
        if not found:
            found = [run_once(args, side, index, work)]
            sides_runs[side].append(found[0])
        result = found[0]
        row["sides"][side] = {"status": result["status"], "mean_step_s": mean_step(result),
                              "step_seconds_after_first": result.get("step_seconds_after_first"),
                              "peak_non_reclaimable_bytes": result.get("peak_non_reclaimable_bytes")}
    return row


# ---- output -------------------------------------------------------------------------------------

def table(header, rows, left=(0,)):
    """A markdown table; columns in `left` are aligned left (names, notes), the others right (figures)."""
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]

    def cell(i, value):
        return str(value).ljust(widths[i]) if i in left else str(value).rjust(widths[i])

    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(cell(i, c) for i, c in enumerate(row)) + " |" for row in rows]
    return "\n".join(lines)


def gib(nbytes):
    return f"{nbytes / GIB:.2f}" if nbytes is not None else ""


def print_results(args, sides_runs, summary, step_row):
    rows = []
    for side, runs in sides_runs.items():
        for r in sorted(runs, key=lambda r: (r["index"], bool(r.get("probe")))):
            seconds = mean_step(r)
            note = r.get("reason") or (f"{r['stage']}: {r['error']}" if r.get("error") else "")
            if r.get("probe"):
                note = "(import shim) " + note
            done = f"{len(r['losses'])}/{args.steps}" if "losses" in r else ""
            rows.append([side, r["rung"], f"{r['parameters'] / 1e6:.0f}M", r["status"], done,
                         gib(r.get("peak_non_reclaimable_bytes")), gib(r.get("peak_resident_bytes")),
                         f"{seconds:.2f}" if seconds else "", note[:100]])
    print(table(["side", "rung", "params", "result", "steps", "peak non-recl. GiB", "peak resident GiB", "s/step",
                 "note"], rows, left=(0, 3, 8)))
    print()
    rows = []
    for side in sides_runs:
        s = summary[side]
        rows.append([LABELS[side], s["largest"] or "none", f"{s['parameters'] / 1e6:.0f}M" if s["parameters"] else "",
                     gib(s["peak_non_reclaimable_bytes"]), s["next"] or ""])
    print(table(["side", f"largest that trains under {args.cap_gb:g} GiB", "params", "its peak GiB",
                 "next rung"], rows))
    for side, s in summary.items():
        for failure in s["does_not_run"]:
            shim = " (with the Python 3.11 import failure worked around: --import-shim)" if failure["import_shim"] else ""
            print(f"\n{LABELS[side]} does not run{shim}: stage {failure['stage']}: {failure['error']}\n"
                  f"  raised at {failure['where']}, from {failure['torch_distributed_frame']}")
    if step_row:
        print()
        rows = [[LABELS[side], f"{v['mean_step_s']:.2f}" if v["mean_step_s"] else "", gib(v["peak_non_reclaimable_bytes"])]
                for side, v in step_row["sides"].items()]
        print(f"step time at {step_row['rung']} ({step_row['parameters'] / 1e6:.0f}M parameters), seconds per "
              f"step after the first:")
        print(table(["side", "s/step", "peak GiB"], rows))
    print("\nnon-reclaimable = RssAnon + RssShmem summed over the job's whole process tree (launcher included), "
          f"sampled every {args.interval_s:g} s;\nfile-backed pages (the engine's memory-mapped disk tier is page "
          "cache the kernel can drop) are not counted; resident adds them.")


def summarize(sides_runs):
    summary = {}
    for side, runs in sides_runs.items():
        best = largest_trained(runs)
        nxt = first_untrained_above(runs, best)
        summary[side] = {
            "largest": best["rung"] if best else None,
            "parameters": best["parameters"] if best else None,
            "peak_non_reclaimable_bytes": best["peak_non_reclaimable_bytes"] if best else None,
            "next": f"{nxt['rung']}: {nxt['status']}" if nxt else None,
            "does_not_run": [{"stage": r["stage"], "error": r["error"], "where": r["where"],
                              "torch_distributed_frame": r.get("torch_distributed_frame"),
                              "import_shim": r["import_shim"]}
                             for r in runs if r["status"] == "does_not_run"],
        }
    return summary


def dry_run(args):
    for index, rung in enumerate(args.ladder):
        print(f"{index:2} {rung.name:>7}  n_layer {rung.n_layer:3}  d_model {rung.d_model:5}  n_head {rung.n_head:3}  "
              f"{rung.parameters:>14,}")
    rung = args.ladder[args.start_index]
    work = "WORK"
    for side in args.side_list:
        if side == "behemoth":
            project = engine_project(args, rung, f"{work}/behemoth-{rung.name}", f"{args.offload_root}/OFFLOAD")
            print(f"\n{side} {rung.name}: {' '.join(engine_command(args, 'PROJECT.json'))}\nPROJECT.json = "
                  + json.dumps(project))
        else:
            print(f"\n{side} {rung.name}: OMP_NUM_THREADS=1 "
                  + " ".join(pytorch_command(args, side, rung, f"{work}/{side}.json")))
    return 0


def versions(args):
    info = {}
    done = subprocess.run(["/usr/bin/python3", "-c", "import torch, sys; print(torch.__version__, sys.version.split()[0])"],
                          capture_output=True, text=True)
    if done.returncode == 0:
        info["torch_python"], info["python"] = done.stdout.split()
    if "behemoth" in args.side_list:
        env = subprocess.run([os.path.abspath(args.bin), "env"], capture_output=True, text=True)
        info["engine_env"] = env.stdout.strip() if env.returncode == 0 else f"unavailable: {env.stderr.strip()}"
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
    info["git_commit"] = commit.stdout.strip()
    return info


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        return dry_run(args)
    # SIGTERM unwinds like Ctrl-C, so the job running now is killed with the harness (run_capped's finally).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="largest_model-")
    sides_runs = {}
    try:
        for side in args.side_list:
            sides_runs[side] = search(args, side, work)
        step_row = step_time_comparison(args, sides_runs, work)
        summary = summarize(sides_runs)
        print_results(args, sides_runs, summary, step_row)
        if args.json:
            ladder = [dict(vars(r)) for r in args.ladder]
            settings = {"cap_bytes": int(args.cap_gb * GIB), "cap_gb": args.cap_gb, "nproc": NPROC,
                        "steps": args.steps, "global_batch": args.global_batch, "seq_len": args.seq_len,
                        "interval_s": args.interval_s, "margin_gb": args.margin_gb, "floor_gb": args.floor_gb,
                        "engine_set": args.engine_set, "engine_args": args.engine_arg,
                        "meter": "sum of RssAnon + RssShmem over the job's process tree (file pages not counted)",
                        "ladder": ladder}
            common.write_report(args.json, "largest_model", load_before, settings,
                                {"summary": summary, "step_time": step_row, "runs": sides_runs}, versions(args))
    finally:
        if args.keep:
            print(f"run folders and logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    common.run_main("largest_model", main)
