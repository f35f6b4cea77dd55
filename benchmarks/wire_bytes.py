#!/usr/bin/python3
"""An independent meter for comm_bytes: the engine's own count of the bytes its collectives move,
checked against the bytes the kernel's loopback interface carried.

Each run is a 2-rank data-parallel training job (`behemoth run ... --nproc 2 --no-history`) started
inside a private network namespace (`unshare --net`, only `lo`, brought up with `ip link set lo
up`; needs root), so every byte on that loopback is the job's: the launcher's TCP store, gloo's
connections, every collective. /proc/net/dev's `lo` counters are read before and after each run.

Convention. A step event's `comm_bytes` is the per-rank maximum of the bus bytes that rank's
collectives handed the backend in that step (docs/collectives.md). In a 2-rank job both ranks run
the same collectives on equal-sized data and send the same bytes, so the ranks together send
2 x comm_bytes per step. The loopback counts each byte sent once in `tx_bytes` (and the same packets
again in `rx_bytes`): the wire figure is `tx_bytes`. It also includes what comm_bytes leaves out:
IP/TCP headers and ACKs, gloo's message headers, the rendezvous, and the per-step bookkeeping
collectives (the loss all-reduce, the metrics all-gather). Two figures:

  job ratio   = loopback tx bytes of a whole run of 2N steps / (2 x sum of its comm_bytes):
                everything included, start-up too (the ratio the issue asks for);
  step ratio  = (tx bytes of the 2N-step run - tx bytes of the N-step run)
                / (2 x (sum comm_bytes of 2N steps - sum comm_bytes of N steps)):
                the same start-up cancels, leaving N steps of traffic and its protocol overhead.

Two things only ever add loopback bytes, by amounts that vary from run to run: TCP retransmissions
(on a loaded machine a descheduled receiver makes the sender's tail-loss probe resend a segment of up
to 64 KiB; counted from the namespace's /proc/net/snmp RetransSegs and reported) and the TCP
store's polling while the ranks rendezvous. Each run is therefore repeated --reps times and the one
with the fewest loopback bytes is used.

Runs: fp32 training with gradients reduced in fp32, the same with `parallel.reduce_dtype: bf16`
(fp32 weights and gradients, bf16 on the wire: only the reduction changes), and ZeRO-2 (fp32; and
ZeRO-2 with bf16 reduction). A GPT of a few million parameters so that gradient bytes dominate.

    /usr/bin/python3 benchmarks/wire_bytes.py --bin build/bin/behemoth --steps 8

Prints a table and writes JSON (default benchmarks/results/wire_bytes-DATE.json). Standard library
only. ratio 1.00 means comm_bytes is exactly what travelled; above 1 is protocol overhead.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dp_vs_ddp as common  # noqa: E402  (report helpers; standard library only at import)

NPROC = 2
# 4 layers, d 256: 3.24 M parameters, 12.97 MB of fp32 gradients per step.
MODEL = {"n_layer": 4, "n_head": 8, "d_model": 256, "seq_len": 64, "vocab_size": 256}
GLOBAL_BATCH = 4
RUNS = [
    ("dp, reduce fp32", {"parallel.zero": 0, "parallel.reduce_dtype": "fp32"}),
    ("dp, reduce bf16", {"parallel.zero": 0, "parallel.reduce_dtype": "bf16"}),
    ("zero2, reduce fp32", {"parallel.zero": 2, "parallel.reduce_dtype": "fp32"}),
    ("zero2, reduce bf16", {"parallel.zero": 2, "parallel.reduce_dtype": "bf16"}),
    # ZeRO-3: chunks all-gathered in forward and again in backward, gradients reduce-scattered.
    ("zero3, reduce fp32", {"parallel.zero": 3, "parallel.reduce_dtype": "fp32"}),
    ("zero3 host tiers, reduce fp32", {"parallel.zero": 3, "parallel.reduce_dtype": "fp32",
                                       "parallel.offload_param_fraction": 1.0, "parallel.offload_optim_fraction": 1.0}),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(REPO, "build", "bin", "behemoth"), help="the behemoth executable")
    parser.add_argument("--steps", type=int, default=8, help="N: each configuration runs N and 2N steps")
    parser.add_argument("--json", help="write the report here (default benchmarks/results/wire_bytes-DATE.json)")
    parser.add_argument("--reps", type=int, default=2, help="repetitions of every run; the cleanest is used")
    parser.add_argument("--runs", default="", help="only the runs whose name contains this (e.g. zero3)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed for one run")
    parser.add_argument("--inside", metavar="RESULTS", help=argparse.SUPPRESS)  # the namespaced half
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps {args.steps}: must be at least 1")
    if args.reps < 1:
        parser.error(f"--reps {args.reps}: must be at least 1")
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


# ---- inside the private network namespace ----

def retransmitted_segments():
    with open("/proc/net/snmp") as snmp:
        lines = [line.split() for line in snmp if line.startswith("Tcp:")]
    header, values = lines[0], lines[1]
    return int(values[header.index("RetransSegs")])


def loopback_counters():
    """lo's tx_bytes, tx_packets, rx_bytes (/proc/net/dev) and TCP's retransmitted segments; fails if
    any interface other than lo exists."""
    with open("/proc/net/dev") as dev:
        lines = dev.read().splitlines()[2:]
    interfaces = {}
    for line in lines:
        name, fields = line.split(":", 1)
        interfaces[name.strip()] = [int(f) for f in fields.split()]
    if set(interfaces) != {"lo"}:
        raise RuntimeError(f"not a private network namespace: interfaces {sorted(interfaces)} (expected only lo)")
    lo = interfaces["lo"]
    return {"tx_bytes": lo[8], "tx_packets": lo[9], "rx_bytes": lo[0], "retransmitted": retransmitted_segments()}


def step_events(metrics_path):
    events = []
    with open(metrics_path) as lines:
        for line in lines:
            line = line.strip()
            if line:
                event = json.loads(line)
                if event.get("event") == "step":
                    events.append(event)
    return events


def run_job(args, overrides, steps, out_root):
    out_dir = tempfile.mkdtemp(prefix="wire-", dir=out_root)
    settings = {f"model.{k}": v for k, v in MODEL.items()}
    settings.update({"data.global_batch_size": GLOBAL_BATCH, "devices.count": NPROC, "train.steps": steps,
                     "train.log_every": 1, "train.eval_every": 0, "train.out_dir": out_dir})
    settings.update(overrides)
    command = [os.path.abspath(args.bin), "run", os.path.join(HERE, "projects", "bench-gpt.json"),
               "--nproc", str(NPROC), "--no-history"]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    before = loopback_counters()
    common.run_checked(command, f"run {overrides} {steps} steps", args.timeout, env=common.single_thread_env())
    after = loopback_counters()
    events = step_events(os.path.join(out_dir, "metrics.jsonl"))
    if [e["step"] for e in events] != list(range(1, steps + 1)):
        raise RuntimeError(f"{out_dir}/metrics.jsonl: step events {[e['step'] for e in events]}, expected 1..{steps}")
    return {
        "steps": steps,
        "comm_bytes_per_step": [e["comm_bytes"] for e in events],
        "comm_bytes_sum": sum(e["comm_bytes"] for e in events),
        "comm_bytes_by_axis_rank0": events[-1].get("comm_bytes_by_axis", {}),
        "loopback_tx_bytes": after["tx_bytes"] - before["tx_bytes"],
        "loopback_tx_packets": after["tx_packets"] - before["tx_packets"],
        "loopback_rx_bytes": after["rx_bytes"] - before["rx_bytes"],
        "tcp_retransmitted_segments": after["retransmitted"] - before["retransmitted"],
    }


def cleanest_run(args, overrides, steps, out_root):
    """The repetition with the fewest loopback bytes (retransmissions and polling only add bytes)."""
    runs = [run_job(args, overrides, steps, out_root) for _ in range(args.reps)]
    best = min(runs, key=lambda run: run["loopback_tx_bytes"])
    best["repetitions_loopback_tx_bytes"] = [run["loopback_tx_bytes"] for run in runs]
    best["repetitions_retransmitted_segments"] = [run["tcp_retransmitted_segments"] for run in runs]
    return best


def measure(args):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    loopback_counters()  # only lo here
    results = {}
    with tempfile.TemporaryDirectory(prefix="wire_bytes-") as out_root:
        for name, overrides in RUNS:
            if args.runs not in name:
                continue
            short, full = (cleanest_run(args, overrides, steps, out_root) for steps in (args.steps, 2 * args.steps))
            print(f"[{name}] {short['loopback_tx_bytes']} / {full['loopback_tx_bytes']} loopback bytes", file=sys.stderr,
                  flush=True)
            extra_steps = full["steps"] - short["steps"]
            counted = NPROC * (full["comm_bytes_sum"] - short["comm_bytes_sum"])
            wire = full["loopback_tx_bytes"] - short["loopback_tx_bytes"]
            results[name] = {
                "overrides": overrides,
                "runs": [short, full],
                "comm_bytes_per_step": full["comm_bytes_per_step"][-1],
                "all_ranks_counted_per_step": counted / extra_steps,
                "loopback_bytes_per_step": wire / extra_steps,
                "step_ratio": wire / counted,
                "job_ratio": full["loopback_tx_bytes"] / (NPROC * full["comm_bytes_sum"]),
                "job_loopback_tx_bytes": full["loopback_tx_bytes"],
                "job_all_ranks_counted": NPROC * full["comm_bytes_sum"],
                "packets_per_step": (full["loopback_tx_packets"] - short["loopback_tx_packets"]) / extra_steps,
                "retransmitted_segments": [short["tcp_retransmitted_segments"], full["tcp_retransmitted_segments"]],
            }
    with open(args.inside, "w") as out:
        json.dump(results, out)
    return 0


# ---- outside: start the namespace, report ----

def mb(nbytes):
    return f"{nbytes / 1e6:.3f}"


def print_table(results):
    header = ["run", "comm_bytes/step MB", "2 x comm MB/step", "loopback MB/step", "step ratio",
              "job loopback MB", "job 2 x sum comm MB", "job ratio", "packets/step", "retransmits N/2N"]
    rows = [[name, mb(r["comm_bytes_per_step"]), mb(r["all_ranks_counted_per_step"]), mb(r["loopback_bytes_per_step"]),
             f"{r['step_ratio']:.4f}", mb(r["job_loopback_tx_bytes"]), mb(r["job_all_ranks_counted"]),
             f"{r['job_ratio']:.4f}", f"{r['packets_per_step']:.0f}",
             "/".join(str(n) for n in r["retransmitted_segments"])] for name, r in results.items()]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + row[0].ljust(widths[0]) + " | " + " | ".join(c.rjust(w) for c, w in zip(row[1:], widths[1:])) + " |")


def git_commit():
    done = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv=None):
    args = parse_args(argv)
    if args.inside:
        return measure(args)
    if os.geteuid() != 0:
        raise RuntimeError("needs root: the runs go into a private network namespace (unshare --net)")
    load_before = os.getloadavg()
    with tempfile.NamedTemporaryFile(prefix="wire_bytes-", suffix=".json") as handoff:
        command = ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__), "--bin", args.bin,
                   "--steps", str(args.steps), "--reps", str(args.reps), "--timeout", str(args.timeout), "--runs", args.runs, "--inside", handoff.name]
        done = subprocess.run(command)
        if done.returncode != 0:
            raise RuntimeError(f"the namespaced measurement failed (exit status {done.returncode})")
        with open(handoff.name) as measured:
            results = json.load(measured)
    print_table(results)
    print("comm_bytes/step: one step event's comm_bytes (the per-rank maximum); 2 x comm: what both ranks send by\n"
          "that count; loopback: lo tx_bytes (each byte sent counted once), per step = (run of 2N - run of N) / N;\n"
          "step ratio = loopback / (2 x comm) over those N steps; job ratio = whole 2N-step run, start-up and\n"
          "rendezvous included. Ratios above 1 are TCP/IP and gloo headers, ACKs, retransmissions (retransmits:\n"
          "TCP segments resent in the N- and 2N-step runs used) and bookkeeping traffic.")
    path = args.json or os.path.join(HERE, "results", f"wire_bytes-{datetime.date.today().isoformat()}.json")
    settings = {"nproc": NPROC, "model": MODEL, "global_batch": GLOBAL_BATCH, "steps": [args.steps, 2 * args.steps],
                "reps": args.reps,
                "git_commit": git_commit(), "network": "private namespace (unshare --net), loopback only"}
    common.write_report(path, "wire_bytes", load_before, settings, results)
    return 0


if __name__ == "__main__":
    common.run_main("wire_bytes", main)
