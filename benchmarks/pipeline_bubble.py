"""Measured pipeline bubble per schedule on a balanced 4-stage CPU job, next to theory and the
planner's prediction.

For each schedule (gpipe, 1f1b, interleaved with pp_virtual 2, zero_bubble):
  1. `behemoth run P --nproc 4 --set parallel.pp=4 ... train.trace=true`: the step events'
     pipeline_bubble (per stage, measured from the executor's action timeline: the fraction of the
     step's schedule a stage spent not computing) and step_time_s, averaged over the steps after
     the first;
  2. the theory: (p-1)/(m+p-1) for gpipe and 1f1b, (p-1)/(v*m+p-1) interleaved, and ZB-H1's;
  3. `behemoth plan P --json --cpu-flops F` with the same settings: the planner's bubble and step
     time, every schedule against one roofline F (measured once by `behemoth plan`, before the
     runs), so the four predictions differ only by what the time model says of the schedule.
The job is balanced: every stage holds the same number of blocks, and the vocabulary is small so
the embedding and head add little. Prints a table and writes JSON (--out).

    /usr/bin/python3 benchmarks/pipeline_bubble.py --bin build/bin/behemoth --steps 8
"""

import argparse
import json
import os
import statistics
import tempfile

from cpu_efficiency import run, sets  # the same `behemoth` invocation helpers

STAGES = 4
BASE = [
    "model.n_layer=8", "model.d_model=256", "model.n_head=8", "model.seq_len=128", "model.vocab_size=256",
    "data.global_batch_size=16", "train.micro_batch_size=1", "devices.count=4", f"parallel.pp={STAGES}",
    "parallel.dp=1", "train.eval_every=0",
]
SCHEDULES = [
    ("gpipe", ["parallel.pp_schedule=gpipe"], 1),
    ("1f1b", ["parallel.pp_schedule=1f1b"], 1),
    ("interleaved v=2", ["parallel.pp_schedule=interleaved", "parallel.pp_virtual=2"], 2),
    ("zero_bubble", ["parallel.pp_schedule=zero_bubble"], 1),
]


def theory(name, p, m, v):
    if name.startswith("interleaved"):
        return (p - 1) / (v * m + p - 1)
    if name == "zero_bubble":
        # ZB-H1 with T_F = T_B = T_W: a third of 1F1B's idle time, over a step that is as long.
        return (p - 1) / (3 * (m + p - 1))
    return (p - 1) / (m + p - 1)


def measure(binary, project, overrides, steps):
    with tempfile.TemporaryDirectory() as out_dir:
        run([binary, "run", project, "--nproc", str(STAGES), "--no-history", "--force"]
            + sets(overrides + [f"train.steps={steps}", "train.log_every=1", "train.trace=true",
                                f"train.out_dir={out_dir}"]))
        times, bubbles = [], []
        with open(os.path.join(out_dir, "metrics.jsonl")) as metrics:
            for line in metrics:
                event = json.loads(line)
                if event.get("event") == "step":
                    times.append(event["step_time_s"])
                    bubbles.append(event["pipeline_bubble"])
    kept = bubbles[1:]
    per_stage = [statistics.mean(step[s] for step in kept) for s in range(STAGES)]
    return statistics.mean(times[1:]), per_stage


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="build/bin/behemoth")
    parser.add_argument("--project", default="projects/default.json")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/pipeline_bubble.json")
    args = parser.parse_args()

    micro_batches = 16
    roofline = json.loads(run([args.bin, "plan", args.project, "--json"] + sets(BASE)))["device"]["peak_flops"]
    rows = []
    for name, extra, v in SCHEDULES:
        overrides = BASE + extra
        step_s, per_stage = measure(args.bin, args.project, overrides, args.steps)
        report = json.loads(run([args.bin, "plan", args.project, "--json", "--cpu-flops", str(roofline)] + sets(overrides)))
        time = report["plan"]["time"]
        predicted_bubble = time["bubble_s"] / max(time["compute_s"] + time["bubble_s"], 1e-12)
        rows.append({"schedule": name, "measured_bubble_per_stage": per_stage,
                     "measured_bubble": statistics.mean(per_stage), "theory_bubble": theory(name, STAGES, micro_batches, v),
                     "planned_bubble": predicted_bubble, "measured_step_s": step_s, "predicted_step_s": time["step_s"],
                     "prediction_error": time["step_s"] / step_s - 1.0})

    print(f"{'schedule':16} {'bubble per stage (measured)':30} {'mean':>6} {'theory':>7} {'planner':>8} "
          f"{'step ms':>8} {'predicted ms':>13} {'error':>6}")
    for row in rows:
        stages = " ".join(f"{b:.3f}" for b in row["measured_bubble_per_stage"])
        print(f"{row['schedule']:16} {stages:30} {row['measured_bubble']:>6.3f} {row['theory_bubble']:>7.3f} "
              f"{row['planned_bubble']:>8.3f} {row['measured_step_s'] * 1e3:>8.1f} {row['predicted_step_s'] * 1e3:>13.1f} "
              f"{row['prediction_error'] * 100:>5.0f}%")
    print(f"planner roofline per rank: {roofline / 1e9:.2f} GFLOP/s")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump({"rows": rows, "stages": STAGES, "micro_batches": micro_batches, "roofline_flops": roofline}, out, indent=2)


if __name__ == "__main__":
    main()
