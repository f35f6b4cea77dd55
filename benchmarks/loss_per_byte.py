#!/usr/bin/python3
"""Loss per byte: the default project trained on bytes and on a SentencePiece tokenizer.

A loss per token depends on what a token is, so losses of two tokenizers compare only per byte of
text:

    loss per byte = loss per token * tokens / bytes    (nats; bits per byte = that / ln 2)

where tokens is what the tokenizer made of the corpus (run_started's "tokens", its end-of-text ids
included) and bytes the corpus's bytes (the byte run's "tokens"). The script trains a SentencePiece
BPE tokenizer on the built-in corpus with `behemoth tokenizer train` (the library's trainer), runs
projects/default.json twice, once as it is (data.tokenizer "byte") and once with
`--set data.tokenizer=DIR --set model.vocab_size=N`, and reports each run's final held-out and
training losses per token and per byte.

    /usr/bin/python3 benchmarks/loss_per_byte.py --bin build/bin/behemoth --vocab 2000 \\
        --json benchmarks/results/loss_per_byte.json
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dp_vs_ddp as common  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(REPO, "build", "bin", "behemoth"))
    parser.add_argument("--project", default=os.path.join(REPO, "projects", "default.json"))
    parser.add_argument("--corpus", default="builtin", help="what `behemoth tokenizer train` reads")
    parser.add_argument("--vocab", type=int, default=2000, help="SentencePiece vocabulary size")
    parser.add_argument("--steps", type=int, default=0, help="train.steps (0: the project's own)")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per command")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args(argv)
    if not os.access(args.bin, os.X_OK):
        parser.error(f"--bin {args.bin}: not an executable file")
    return args


def train_tokenizer(args, out_dir):
    command = [args.bin, "tokenizer", "train", args.corpus, "--vocab", str(args.vocab), "--out", out_dir]
    common.run_checked(command, "behemoth tokenizer train", args.timeout)
    return out_dir


def run_project(args, out_dir, overrides):
    """Trains the project; returns run_started and the last step and eval losses from --events."""
    sets = [f"train.out_dir={out_dir}"] + overrides
    if args.steps > 0:
        sets.append(f"train.steps={args.steps}")
    command = [args.bin, "run", args.project, "--nproc", str(args.nproc), "--no-history", "--events"]
    for assignment in sets:
        command += ["--set", assignment]
    done = common.run_checked(command, "behemoth run " + " ".join(overrides), args.timeout)
    started, last_step, last_eval = None, None, None
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event["event"] == "run_started":
            started = event
        elif event["event"] == "step":
            last_step = event
            if event.get("eval_loss") is not None:
                last_eval = (event["step"], event["eval_loss"])
        elif event["event"] == "eval":
            last_eval = (event["step"], event["eval_loss"])
    if started is None or last_step is None:
        raise RuntimeError("behemoth run printed no run_started or step events")
    return {"tokenizer": started["tokenizer"], "tokens": started["tokens"], "parameters": started["parameter_count"],
            "steps": last_step["step"], "train_loss": last_step["loss"],
            "eval_step": last_eval[0] if last_eval else None, "eval_loss": last_eval[1] if last_eval else None,
            "elapsed_s": last_step.get("elapsed_s")}


def per_byte(run, corpus_bytes):
    ratio = run["tokens"] / corpus_bytes
    run["tokens_per_byte"] = ratio
    for key in ("train_loss", "eval_loss"):
        if run[key] is not None:
            run[key + "_per_byte"] = run[key] * ratio
            run[key + "_bits_per_byte"] = run[key] * ratio / math.log(2)
    return run


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="loss-per-byte-") as work:
        tokenizer_dir = train_tokenizer(args, os.path.join(work, "tokenizer"))
        byte_run = run_project(args, os.path.join(work, "runs", "byte"), [])
        sp_run = run_project(args, os.path.join(work, "runs", "sp"),
                             [f"data.tokenizer={tokenizer_dir}", f"model.vocab_size={args.vocab}"])
    corpus_bytes = byte_run["tokens"]
    results = {"byte": per_byte(byte_run, corpus_bytes), "sentencepiece": per_byte(sp_run, corpus_bytes),
               "corpus_bytes": corpus_bytes}
    print(f"{'tokenizer':<14} {'tokens':>9} {'tok/byte':>8} {'params':>8} {'eval/token':>10} {'eval/byte':>9} "
          f"{'bits/byte':>9} {'train/byte':>10}")
    for name in ("byte", "sentencepiece"):
        run = results[name]
        print(f"{name:<14} {run['tokens']:>9} {run['tokens_per_byte']:>8.3f} {run['parameters']:>8} "
              f"{run['eval_loss'] or float('nan'):>10.4f} {run.get('eval_loss_per_byte', float('nan')):>9.4f} "
              f"{run.get('eval_loss_bits_per_byte', float('nan')):>9.4f} {run['train_loss_per_byte']:>10.4f}")
    if args.json:
        settings = {"project": os.path.relpath(args.project, REPO), "corpus": args.corpus, "vocab": args.vocab,
                    "steps": args.steps or "project", "nproc": args.nproc}
        common.write_report(args.json, "loss_per_byte", load_before, settings, results)
    return 0


if __name__ == "__main__":
    common.run_main("loss_per_byte", main)
