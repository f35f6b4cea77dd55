"""Calibrates the planner's CPU efficiency: what fraction of the measured matmul roofline a zoo
model's training step reaches on this machine (kCpuModelEfficiency in backend/planning/cpu_rate.h).

For each project, in one go and on one machine state:
  1. `behemoth plan P --json --efficiency 1`: the roofline peak per rank and the step time the
     planner predicts at 100 % of it (compute at the roofline plus communication and optimizer);
  2. `behemoth run P --nproc N --no-history` for --steps steps: the measured mean step_time_s
     (steps after the first logged one);
  3. `behemoth plan P --json` with the default efficiency: the prediction a user sees.
The efficiency of a run is its compute at the roofline divided by the measured time left after the
planner's communication and optimizer terms. Prints a table and writes JSON (--out).

    /usr/bin/python3 benchmarks/cpu_efficiency.py --bin build/bin/behemoth --steps 40
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CASES = [
    ("default", 2, []),
    ("default, 1 process (2 threads)", 1, ["devices.count=1"]),
    ("d_model 256, 8 heads", 2, ["model.d_model=256", "model.n_head=8"]),
    ("4 layers, bf16", 2, ["model.n_layer=4", "precision=bf16"]),
    ("4 micro-batches", 2, ["train.micro_batch_size=2"]),
]


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("failed: " + " ".join(command) + "\n" + result.stderr)
    return result.stdout


def sets(overrides):
    args = []
    for assignment in overrides:
        args += ["--set", assignment]
    return args


def plan(binary, project, overrides, efficiency=None):
    command = [binary, "plan", project, "--json"] + sets(overrides)
    if efficiency is not None:
        command += ["--efficiency", str(efficiency)]
    report = json.loads(run(command))
    return report["device"], report["plan"]["time"]


def measured_step_seconds(binary, project, overrides, nproc, steps):
    with tempfile.TemporaryDirectory() as out_dir:
        run([binary, "run", project, "--nproc", str(nproc), "--no-history"]
            + sets(overrides + [f"train.steps={steps}", "train.eval_every=0", "train.log_every=1",
                                f"train.out_dir={out_dir}"]))
        times = []
        with open(os.path.join(out_dir, "metrics.jsonl")) as metrics:
            for line in metrics:
                event = json.loads(line)
                if event.get("event") == "step":
                    times.append(event["step_time_s"])
    return statistics.mean(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default="build/bin/behemoth")
    parser.add_argument("--project", default="projects/default.json")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", default="benchmarks/results/cpu_efficiency.json")
    args = parser.parse_args()

    rows = []
    for name, nproc, overrides in CASES:
        device, ideal = plan(args.bin, args.project, overrides, efficiency=1.0)
        measured = measured_step_seconds(args.bin, args.project, overrides, nproc, args.steps)
        _, predicted = plan(args.bin, args.project, overrides)
        other = ideal["step_s"] - ideal["compute_s"]
        efficiency = ideal["compute_s"] / max(measured - other, 1e-9)
        rows.append({"case": name, "ranks": nproc, "peak_flops_per_rank": device["peak_flops"],
                     "measured_step_s": measured, "compute_at_roofline_s": ideal["compute_s"],
                     "other_s": other, "efficiency": efficiency, "predicted_step_s": predicted["step_s"],
                     "prediction_error": predicted["step_s"] / measured - 1.0})

    print(f"{'case':34} {'ranks':>5} {'roofline GFLOP/s':>17} {'measured ms':>12} {'efficiency':>10} "
          f"{'predicted ms':>13} {'error':>7}")
    for row in rows:
        print(f"{row['case']:34} {row['ranks']:>5} {row['peak_flops_per_rank'] / 1e9:>17.1f} "
              f"{row['measured_step_s'] * 1e3:>12.2f} {row['efficiency']:>10.3f} "
              f"{row['predicted_step_s'] * 1e3:>13.2f} {row['prediction_error'] * 100:>6.0f}%")
    median = statistics.median(row["efficiency"] for row in rows)
    print(f"median efficiency {median:.3f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump({"rows": rows, "median_efficiency": median}, out, indent=2)


if __name__ == "__main__":
    main()
