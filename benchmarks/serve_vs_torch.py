#!/usr/bin/python3
"""`behemoth serve` against a PyTorch eager generate loop with a KV cache, side by side in one run,
on the same weights and the same requests, at 1, 8 and 32 concurrent clients.

Weights: a random GPT-2 written as a Hugging Face directory (benchmarks/python/torch_gpt2_generate.py).
The byte tokenizer is used, so a prompt's bytes are its tokens. The embedding rows of bytes >= 128
are zero: their tied-head logits are exactly 0 and always lose to the largest of the 128 others, so
the greedy text is ASCII. Each token is then one character as soon as it is made, on both sides.

Workload: each client sends --requests-per-client requests one after another (a closed loop).
Prompts are 16..64 random printable characters, max_tokens is uniform in 16..128, greedy, seeded.
- Engine: one thread per client, streaming over HTTP. TTFT is the first streamed piece;
  latency is the last one.
- PyTorch: the requests waiting at a moment are taken up to B at a time, left-padded and decoded
  together until the longest is done (a static batch). A client's next request arrives when its
  batch ends. B = 1 ("batch 1") and the best B in 1, 4, 8, 16, 32 that the load allows.

Both sides run one math thread (OMP_NUM_THREADS=1 for the server, torch.set_num_threads(1) here).
Before timing, the server's greedy text must equal PyTorch's for a few prompts: this proves the
weights are the same.

    /usr/bin/python3 benchmarks/serve_vs_torch.py --bin build/bin/behemoth --json benchmarks/results/serve_vs_torch-2026-12-02.json
"""

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
import torch  # noqa: E402

import torch_gpt2_generate as tg  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--loads", default="1,8,32", help="concurrent clients, comma separated")
    parser.add_argument("--requests-per-client", type=int, default=4)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--torch-batches", default="1,4,8,16,32")
    parser.add_argument("--json", help="write every figure here")
    return parser.parse_args()


def workload(clients, per_client, seed):
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(32, 127)]
    return [[("".join(rng.choice(alphabet) for _ in range(rng.randint(16, 64))), rng.randint(16, 128))
             for _ in range(per_client)] for _ in range(clients)]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(tokens, seconds, latencies, ttfts):
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds,
            "latency_p50": percentile(latencies, 0.5), "latency_p99": percentile(latencies, 0.99),
            "ttft_p50": percentile(ttfts, 0.5), "ttft_p99": percentile(ttfts, 0.99)}


class Server:
    def __init__(self, binary, hf_dir, max_batch):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        self.process = subprocess.Popen([binary, "serve", hf_dir, "--port", "0", "--set", f"serve.max_batch={max_batch}",
                                         "--set", "serve.max_queue=1024"], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        line = self.process.stdout.readline()
        match = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
        if not match:
            sys.exit("serve_vs_torch: the server did not start: " + line + self.process.stderr.read())
        self.port = int(match.group(1))

    def complete(self, prompt, max_tokens):
        """Streams one greedy completion; returns (text, seconds to first piece, seconds to the end)."""
        body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        start = time.perf_counter()
        connection.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.read()!r}")
        text, first = "", None
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            piece = json.loads(line[6:])["choices"][0]["text"]
            if piece and first is None:
                first = time.perf_counter() - start
            text += piece
        connection.close()
        return text, first, time.perf_counter() - start

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def engine_load(server, requests):
    latencies, ttfts, tokens = [], [], [0]
    lock = threading.Lock()

    def client(own):
        for prompt, max_tokens in own:
            text, first, total = server.complete(prompt, max_tokens)
            with lock:
                latencies.append(total)
                ttfts.append(first)
                tokens[0] += len(text)

    threads = [threading.Thread(target=client, args=(own,)) for own in requests]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summary(tokens[0], time.perf_counter() - start, latencies, ttfts)


def torch_load(model, requests, batch):
    """The closed loop with static batches of up to `batch` waiting requests, in arrival order."""
    start = time.perf_counter()
    next_index = [0] * len(requests)
    waiting = [(0.0, c) for c in range(len(requests))]  # (arrival, client)
    latencies, ttfts, tokens = [], [], 0
    while waiting:
        waiting.sort()
        taken, waiting = waiting[:batch], waiting[batch:]
        prompts = [list(requests[c][next_index[c]][0].encode()) for _, c in taken]
        budgets = [requests[c][next_index[c]][1] for _, c in taken]
        first = []
        out = tg.generate(model, prompts, budgets, on_first_token=lambda: first.append(time.perf_counter() - start))
        end = time.perf_counter() - start
        for (arrival, c), generated in zip(taken, out):
            latencies.append(end - arrival)
            ttfts.append(first[0] - arrival)
            tokens += len(generated)
            next_index[c] += 1
            if next_index[c] < len(requests[c]):
                waiting.append((end, c))
    return summary(tokens, time.perf_counter() - start, latencies, ttfts)


def main():
    args = parse_args()
    torch.set_num_threads(1)
    config, tensors = tg.random_gpt2(args.n_layer, args.n_head, args.d_model, args.seq_len, 256)
    tensors["wte.weight"][128:] = 0  # greedy text stays ASCII (see the docstring)
    model = tg.Gpt2(config, tensors)
    loads = [int(c) for c in args.loads.split(",")]
    results = {"model": config, "loads": {}}
    with tempfile.TemporaryDirectory() as work:
        hf_dir = os.path.join(work, "gpt2-random")
        tg.write_hf_dir(hf_dir, config, tensors)
        server = Server(args.bin, hf_dir, max(loads))
        try:
            for prompt in ("Hello, world", "The quick brown fox jumps", "int main() {"):
                expected = bytes(tg.generate(model, [list(prompt.encode())], [24])[0]).decode()
                text = server.complete(prompt, 24)[0]
                if text != expected:
                    sys.exit(f"serve_vs_torch: different weights? server {text!r} != PyTorch {expected!r}")
            print("greedy text equal on both sides; timing ...", flush=True)
            for clients in loads:
                requests = workload(clients, args.requests_per_client, seed=clients)
                engine = engine_load(server, requests)
                torch_runs = {b: torch_load(model, requests, b) for b in (int(x) for x in args.torch_batches.split(",")) if b <= clients}
                best = max(torch_runs, key=lambda b: torch_runs[b]["tokens_per_s"])
                results["loads"][clients] = {"engine": engine, "torch": torch_runs, "torch_best_batch": best}
                print(f"{clients} clients: engine {engine['tokens_per_s']:.0f} tok/s, PyTorch batch 1 "
                      f"{torch_runs[1]['tokens_per_s']:.0f}, best (B={best}) {torch_runs[best]['tokens_per_s']:.0f}", flush=True)
        finally:
            server.stop()
    print("\n| clients | engine tok/s | PyTorch batch 1 tok/s | PyTorch best batch tok/s (B) | engine / best | "
          "latency p50 / p99 s, engine | PyTorch best | TTFT p50 / p99 s, engine | PyTorch best |")
    print("|---|---|---|---|---|---|---|---|---|")
    for clients, entry in results["loads"].items():
        e, t1, tb = entry["engine"], entry["torch"][1], entry["torch"][entry["torch_best_batch"]]
        print(f"| {clients} | {e['tokens_per_s']:.0f} | {t1['tokens_per_s']:.0f} | {tb['tokens_per_s']:.0f} ({entry['torch_best_batch']}) | "
              f"**{e['tokens_per_s'] / tb['tokens_per_s']:.2f}** | {e['latency_p50']:.2f} / {e['latency_p99']:.2f} | "
              f"{tb['latency_p50']:.2f} / {tb['latency_p99']:.2f} | {e['ttft_p50']:.3f} / {e['ttft_p99']:.3f} | "
              f"{tb['ttft_p50']:.3f} / {tb['ttft_p99']:.3f} |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
