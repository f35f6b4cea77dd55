#!/usr/bin/python3
"""The attention-sink window of `behemoth serve` (serve.kv_window) on a conversation ten times longer
than the model's seq_len: does the cache stay bounded, does the time per token stay flat, and how
far does the perplexity move from the in-window perplexity?

1. Trains a small GPT (byte tokenizer) on the builtin corpus with `behemoth run`.
2. Held-out text: the builtin corpus is the files of /usr/share/common-licenses and then
   /usr/include/c++/<highest>/ sorted by path, cut at 8 MiB; the C++ headers past that cut (with a
   margin) were never trained on and are the same kind of text.
3. Runs build/bin/attention_sink_bench: 10 x seq_len held-out tokens in 20 turns through the serving
   path (the paged KV cache, the server's keep-sinks-and-window rule), for each --policy: sinks and a
   window (the server's default sink_tokens 4), and the same cache size with no sinks.
   In-window perplexity: the same tokens each predicted by a plain forward over its seq_len chunk.

    /usr/bin/python3 benchmarks/attention_sinks.py --bin build/bin --json benchmarks/results/attention_sinks-2026-12-02.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

BUILTIN_CUT = 8 << 20
MARGIN = 256 << 10  # held-out text starts this far past the cut, whatever the sort details


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder holding behemoth and attention_sink_bench")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--window", type=int, default=60, help="serve.kv_window")
    parser.add_argument("--sinks", type=int, default=4, help="serve.sink_tokens")
    parser.add_argument("--work", help="keep the trained model here (default: a temporary folder)")
    parser.add_argument("--json", help="write every figure here")
    return parser.parse_args()


def builtin_files():
    licenses = sorted(os.path.join(root, name) for root, _, names in os.walk("/usr/share/common-licenses") for name in names)
    licenses = [path for path in licenses if not os.path.islink(path)]
    versions = sorted(os.listdir("/usr/include/c++"), key=lambda v: [int(p) if p.isdigit() else 0 for p in v.split(".")])
    top = os.path.join("/usr/include/c++", versions[-1])
    headers = sorted(os.path.join(root, name) for root, _, names in os.walk(top) for name in names)
    return licenses + [path for path in headers if os.path.isfile(path) and not os.path.islink(path)]


def held_out_text(needed_bytes):
    offset, parts, size = 0, [], 0
    for path in builtin_files():
        length = os.path.getsize(path)
        if offset >= BUILTIN_CUT + MARGIN:
            with open(path, "rb") as file:
                data = file.read()
            parts.append(data)
            size += len(data)
            if size >= needed_bytes:
                return b"".join(parts)
        offset += length
    sys.exit("attention_sinks: the C++ headers past the builtin corpus' cut hold too little text")


def train(bin_dir, work, args):
    project = {
        "name": "sink-gpt",
        "model": {"arch": "gpt", "n_layer": 4, "n_head": 4, "d_model": 128, "seq_len": args.seq_len, "vocab_size": 256},
        "data": {"corpus": "builtin", "global_batch_size": 16},
        "optimizer": {"lr": 0.003, "warmup_steps": 50},
        "train": {"steps": args.steps, "log_every": 50, "seed": 0, "out_dir": os.path.join(work, "run")},
    }
    path = os.path.join(work, "sink-gpt.json")
    with open(path, "w") as file:
        json.dump(project, file, indent=2)
    if not os.path.isdir(os.path.join(work, "run", "checkpoints")):
        print(f"training {args.steps} steps ...", flush=True)
        subprocess.run([os.path.join(bin_dir, "behemoth"), "run", path], check=True, stdout=subprocess.DEVNULL)
    return path


def score(bin_dir, project, text_path, window, sinks):
    out = subprocess.run([os.path.join(bin_dir, "attention_sink_bench"), project, text_path, str(window), str(sinks), "20"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    args = parse_args()
    bin_dir = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory() as temp:
        work = os.path.abspath(args.work) if args.work else temp
        os.makedirs(work, exist_ok=True)
        project = train(bin_dir, work, args)
        text_path = os.path.join(work, "held-out.txt")
        with open(text_path, "wb") as file:
            file.write(held_out_text(12 * args.seq_len))  # the byte tokenizer: a byte is a token
        policies = {
            f"{args.sinks} sinks + window {args.window}": score(bin_dir, project, text_path, args.window, args.sinks),
            f"no sinks, window {args.window + args.sinks}": score(bin_dir, project, text_path, args.window + args.sinks, 0),
        }
    print(f"\n{10 * args.seq_len} held-out tokens (10 x seq_len {args.seq_len}) in 20 turns\n")
    print("| policy | perplexity | in-window perplexity | ratio | most cached tokens | ms/token turn 1 | ms/token turn 20 | worst ms/token |")
    print("|---|---|---|---|---|---|---|---|")
    for name, result in policies.items():
        turns = result["turns"]
        ratio = result["streamed_perplexity"] / result["in_window_perplexity"]
        print(f"| {name} | {result['streamed_perplexity']:.3f} | {result['in_window_perplexity']:.3f} | {ratio:.3f} | "
              f"{max(t['most_cached'] for t in turns)} | {turns[0]['mean_ms_per_token']:.3f} | "
              f"{turns[-1]['mean_ms_per_token']:.3f} | {max(t['worst_ms_per_token'] for t in turns):.3f} |")
    print("\nper turn (sinks policy): perplexity " + " ".join(f"{t['perplexity']:.2f}" for t in next(iter(policies.values()))["turns"]))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"steps": args.steps, "seq_len": args.seq_len, "policies": policies}, file, indent=1)


if __name__ == "__main__":
    main()
