#!/usr/bin/python3
"""Auto plan, predicted against measured: the planner's step time for the best plans this build can
run, against the step time `behemoth run` measures for each of them on this machine.

One project (a small GPT, a global batch, `devices.count` CPU ranks) is searched with
`behemoth plan --search --json --keep-runnable N` (the planner's own CPU rate: the measured matmul
roofline); its N fastest runnable plans (`search.runnable`, fastest first, wherever they rank among
all plans) are each run with `behemoth run --set <the plan's overrides> --nproc <its world>` for a
few steps, and their `step_time_s` (metrics.jsonl step events, first --warmup steps left out) is
compared with the plan's predicted `step_s` (measured: the median over every timed step of --reps
runs per plan, the plans taken in turn; spread: (slowest - fastest step) / median; with
--distinct-axes, the fastest runnable plan of each axis layout instead of the N fastest):

    error % = (predicted - measured) / measured * 100

and the question the search answers: is the measured fastest plan the predicted fastest one, or is
the predicted fastest within 10 % of the measured fastest? Plans of any strategy the search marks
runnable are run (pipelines and recomputation appear by themselves once the build runs them).

    /usr/bin/python3 benchmarks/auto_plan_vs_measured.py --bin build/bin/behemoth --devices 2 \\
        --steps 6 --warmup 2 --reps 2 --json auto_plan_vs_measured.json
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

# Wide enough that compute dominates a step, small enough for about a second per step on 2 cores.
MODEL = {"arch": "gpt", "n_layer": 4, "n_head": 4, "d_model": 256, "seq_len": 128, "vocab_size": 256}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--devices", type=int, default=2, help="devices.count: CPU ranks of every plan")
    parser.add_argument("--global-batch", type=int, default=8, help="data.global_batch_size")
    parser.add_argument("--plans", type=int, default=6, help="runnable plans to run, fastest predicted first")
    parser.add_argument("--steps", type=int, default=6, help="steps per run, warmup included")
    parser.add_argument("--warmup", type=int, default=2, help="first steps of each run left out")
    parser.add_argument("--cpu-flops", type=float, default=0.0,
                        help="the planner's CPU peak per rank (default: its measured matmul roofline)")
    parser.add_argument("--reps", type=int, default=2, help="runs per plan, the plans taken in turn")
    parser.add_argument("--distinct-axes", action="store_true",
                        help="the fastest runnable plan of each axis layout (dp/tp/pp/sp/ep and schedule) instead")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    args = parser.parse_args(argv)
    if args.steps <= args.warmup:
        parser.error(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def project(args, out_dir):
    return {"name": "auto-plan-bench", "model": MODEL,
            "data": {"corpus": "builtin", "global_batch_size": args.global_batch},
            "devices": {"kind": "cpu", "count": args.devices}, "parallel": {"dp": -1}, "precision": "fp32",
            "train": {"steps": args.steps, "seed": 1, "log_every": 1, "eval_every": 0, "out_dir": out_dir,
                      "checkpoint_final": False}}


def search(args, project_path):
    # --distinct-axes picks from every runnable plan (the search of a small world is a few hundred).
    keep_runnable = 100000 if args.distinct_axes else args.plans
    command = [os.path.abspath(args.bin), "plan", project_path, "--search", "--json", "--keep", "10",
               "--keep-runnable", str(keep_runnable)]
    if args.cpu_flops > 0:
        command += ["--cpu-flops", str(args.cpu_flops)]
    done = common.run_checked(command, "plan --search", 300)
    result = json.loads(done.stdout)["search"]
    if not result.get("runnable"):
        raise RuntimeError(f"no runnable plan: {result.get('message')}")
    if args.distinct_axes:
        chosen, seen = [], set()
        for plan in result["runnable"]:
            layout = plan["estimate"]["layout"]
            axes = tuple(layout[k] for k in ("dp", "tp", "pp", "sp", "ep", "schedule", "virtual_stages"))
            if axes not in seen:
                seen.add(axes)
                chosen.append(plan)
        result["runnable"] = chosen[:args.plans]
    return result


def measure(args, project_path, plan, out_dir):
    layout = plan["estimate"]["layout"]
    world = layout["dp"] * layout["pp"] * layout["tp"] * layout["sp"] * layout["ep"]
    command = [os.path.abspath(args.bin), "run", project_path, "--no-history", "--nproc", str(world)]
    for assignment in plan["set"] + [f"train.out_dir={out_dir}"]:
        command += ["--set", assignment]
    common.run_checked(command, f"run {plan['summary']}", args.timeout, env=common.single_thread_env())
    steps = []
    with open(os.path.join(out_dir, "metrics.jsonl")) as lines:
        for line in lines:
            event = json.loads(line) if line.strip() else {}
            if event.get("event") == "step":
                steps.append(event)
    timed = [e["step_time_s"] for e in steps if e["step"] > args.warmup]
    if len(timed) != args.steps - args.warmup:
        raise RuntimeError(f"{plan['summary']}: {len(steps)} step events, expected {args.steps}")
    return timed


def verdict(rows):
    """Is the measured fastest the predicted fastest (the plan --auto-plan runs), or within 10 % of it?"""
    measured_best = min(rows, key=lambda row: row["measured_step_s"])
    predicted_best = rows[0]
    ties = sum(1 for row in rows if row["predicted_step_s"] == predicted_best["predicted_step_s"])
    tied = f" (the first {ties} plans tie in predicted time; ties go to less memory)" if ties > 1 else ""
    if measured_best is predicted_best:
        return "yes: the measured fastest is the predicted fastest" + tied
    slower = predicted_best["measured_step_s"] / measured_best["measured_step_s"] - 1.0
    within = "within 10 %" if slower <= 0.10 else "NOT within 10 %"
    return (f"no: the measured fastest is #{measured_best['search_rank']} {measured_best['plan']}; the predicted "
            f"fastest measured {slower * 100:.1f} % slower ({within}){tied}")


def print_table(rows, answer):
    print(f"{'#':>3} {'rank':>5}  {'plan':<44} {'predicted ms':>12} {'measured ms':>12} {'error %':>8} "
          f"{'fastest step ms':>15} {'spread %':>9}")
    for k, row in enumerate(rows, 1):
        print(f"{k:>3} {row['search_rank']:>5}  {row['plan']:<44} {row['predicted_step_s'] * 1e3:>12.1f} "
              f"{row['measured_step_s'] * 1e3:>12.1f} {row['error_percent']:>+8.1f} "
              f"{min(row['step_seconds']) * 1e3:>15.1f} {row['spread_percent']:>9.0f}")
    print(answer)


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="auto_plan_vs_measured-") as scratch:
        project_path = os.path.join(scratch, "project.json")
        with open(project_path, "w") as out:
            json.dump(project(args, os.path.join(scratch, "unused")), out)
        result = search(args, project_path)
        print(result["message"], file=sys.stderr)
        plans = result["runnable"]
        timed = [[] for _ in plans]
        # The plans in turn, --reps times: a burst of load on the shared machine hits them all.
        for rep in range(args.reps):
            for k, plan in enumerate(plans):
                print(f"rep {rep + 1}, plan {k + 1}/{len(plans)}: {plan['summary']} ...", file=sys.stderr, flush=True)
                out_dir = tempfile.mkdtemp(prefix=f"plan{k + 1}-", dir=scratch)
                timed[k] += measure(args, project_path, plan, out_dir)
                shutil.rmtree(out_dir, ignore_errors=True)
        rows = []
        for plan, seconds in zip(plans, timed):
            predicted = plan["estimate"]["time"]["step_s"]
            measured = statistics.median(seconds)
            rows.append({"search_rank": plan["rank"], "plan": plan["summary"], "set": plan["set"],
                         "predicted_step_s": predicted, "measured_step_s": measured, "step_seconds": seconds,
                         "spread_percent": (max(seconds) - min(seconds)) / measured * 100.0,
                         "error_percent": (predicted - measured) / measured * 100.0})
    answer = verdict(rows)
    print_table(rows, answer)
    if args.json:
        settings = {"model": MODEL, "devices": args.devices, "global_batch": args.global_batch, "steps": args.steps,
                    "warmup": args.warmup, "plans": args.plans, "reps": args.reps, "distinct_axes": args.distinct_axes, "search_message": result["message"],
                    "fitting": result["fitting"]}
        common.write_report(args.json, "auto_plan_vs_measured", load_before, settings,
                            {"plans": rows, "answer": answer})
    return 0


if __name__ == "__main__":
    common.run_main("auto_plan_vs_measured", main)
