#!/usr/bin/env python3
"""`behemoth history export ID --format csv|jsonl`, read back by tools that are not ours: Python's csv
and json modules. A two-rank run with evaluations is recorded; both exports must give back every
step the run wrote to its own metrics.jsonl, with the same values."""
import argparse
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile


def run(binary, *args):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"history_export_test: {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out_dir = os.path.join(folder, "run")
        project = {
            "name": "export-test",
            "model": {"arch": "gpt", "n_layer": 1, "n_head": 2, "d_model": 32, "seq_len": 16, "vocab_size": 256},
            "data": {"corpus": "builtin", "global_batch_size": 8},
            "devices": {"kind": "cpu", "count": 2},
            "parallel": {"dp": 2},
            "optimizer": {"lr": 0.003},
            "train": {"steps": 7, "seed": 3, "log_every": 1, "eval_every": 3, "eval_batches": 1, "out_dir": out_dir},
        }
        path = os.path.join(folder, "project.json")
        with open(path, "w") as file:
            json.dump(project, file)
        db = os.path.join(folder, "history.sqlite")
        run(options.bin, "run", path, "--nproc", "2", "--history", db)

        # The run's own record of its steps, written by the workers, not by the history.
        written = {}
        evals = {}
        with open(os.path.join(out_dir, "metrics.jsonl")) as file:
            for line in file:
                event = json.loads(line)
                if event.get("event") == "step":
                    written[event["step"]] = event
                    if "eval_loss" in event:
                        evals[event["step"]] = event["eval_loss"]
                elif event.get("event") == "eval":
                    evals[event["step"]] = event["eval_loss"]
        problems = []
        if len(written) != 7 or len(evals) < 2:
            problems.append(f"the run wrote {len(written)} steps and {len(evals)} evaluations, expected 7 and at least 2")

        table = list(csv.DictReader(io.StringIO(run(options.bin, "history", "--db", db, "export", "1", "--format", "csv"))))
        exported_file = os.path.join(folder, "steps.jsonl")
        run(options.bin, "history", "--db", db, "export", "1", "--format", "jsonl", "--output", exported_file)
        with open(exported_file) as file:
            lines = [json.loads(line) for line in file]

        if [int(row["step"]) for row in table] != sorted(written):
            problems.append(f"csv steps {[row['step'] for row in table]}, the run wrote {sorted(written)}")
        if [line["step"] for line in lines] != sorted(written):
            problems.append(f"jsonl steps {[line['step'] for line in lines]}, the run wrote {sorted(written)}")
        for row in table:
            step = int(row["step"])
            event = written.get(step, {})
            for key in ("loss", "grad_norm", "lr", "step_time_s", "tokens_per_s"):
                if key in event and not same(float(row[key]), float(event[key])):
                    problems.append(f"csv step {step} {key}: {row[key]}, the run wrote {event[key]}")
            for key in ("tokens_seen", "comm_bytes", "model_state_bytes", "peak_rss_bytes"):
                if key in event and int(row[key]) != event[key]:
                    problems.append(f"csv step {step} {key}: {row[key]}, the run wrote {event[key]}")
            if int(row["comm_bytes_dp"]) != event.get("comm_bytes_by_axis", {}).get("dp"):
                problems.append(f"csv step {step} comm_bytes_dp: {row['comm_bytes_dp']}")
            if step in evals and (row["eval_loss"] == "" or float(row["eval_loss"]) != evals[step]):
                problems.append(f"csv step {step} eval_loss: {row['eval_loss']!r}, the run evaluated {evals[step]}")
            if step not in evals and row["eval_loss"] != "":
                problems.append(f"csv step {step} has an eval_loss {row['eval_loss']} the run never evaluated")
        for line in lines:
            event = written.get(line["step"], {})
            if line.get("event") != "step" or line.get("run") != 1:
                problems.append(f"jsonl step {line['step']}: event {line.get('event')!r}, run {line.get('run')!r}")
            for key in ("loss", "tokens_seen", "comm_bytes", "rank_model_state_bytes", "rank_peak_rss_bytes"):
                if key in event and line.get(key) != event[key]:
                    problems.append(f"jsonl step {line['step']} {key}: {line.get(key)}, the run wrote {event[key]}")
            if line.get("eval_loss") != evals.get(line["step"]):
                problems.append(f"jsonl step {line['step']} eval_loss {line.get('eval_loss')}, the run {evals.get(line['step'])}")
        if problems:
            print("history_export_test: FAILED:\n  " + "\n  ".join(problems))
            return 1
        print(f"history_export_test: {len(table)} steps and {len(evals)} evaluations read back from csv and jsonl")
        return 0


if __name__ == "__main__":
    sys.exit(main())
