#!/usr/bin/python3
"""Load test of `behemoth serve` over loopback: many concurrent clients, bad requests, dropped streams.

Why: the C++ tests check each piece of the server alone; this checks the executable as a client
sees it when many arrive at once. It starts the server (a tiny untrained GPT written to a temp
dir, or --project), asks each distinct well-formed body of load_cases.py once alone to get the
reference answers, then has 64 client threads send 2,000 requests in a shuffled mix:

- ~70 % whole answers and ~5 % streams read to `data: [DONE]`: text, finish_reason and token
  count must equal the reference of the same body (greedy, and seeded samples);
- ~15 % malformed (bad JSON, unknown fields, out-of-range or wrongly typed values, prompts the
  cache can never hold): 400, type invalid_request_error, a one-line message naming the field;
- ~10 % streams whose client leaves after 1 to 3 events (half with a TCP reset): what they got
  must be the start of the reference text.

Then: the server is still running; /metrics reaches 0 KV blocks in use, an empty queue and an
empty batch (polled, bounded); the outcome counters (ok + cancelled + invalid + rejected) equal
every completion request sent; 404 and 405 answers name the problem; SIGINT stops it with status 0.
Exit status 0 when all holds, else 1 with every failure listed.

  /usr/bin/python3 tests/serve/serve_load_test.py --bin build/bin/behemoth
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import load_cases  # noqa: E402
import tiny_gpt2_dir  # noqa: E402
from serve_process import ServeProcess, ServerGone  # noqa: E402

OUTCOMES = ("ok", "cancelled", "invalid", "rejected")


def default_project(folder):
    """A tiny GPT-2 (2 layers, 2 heads, width 32, 64 positions) that answers in milliseconds, its
    random weights written by tiny_gpt2_dir.py so that greedy answers are mostly ASCII text."""
    weights = tiny_gpt2_dir.write(os.path.join(folder, "tiny-gpt2"), n_layer=2, n_head=2, d_model=32, seq_len=64)
    project = {
        "name": "serve-load-test",
        "model": {"hf_pretrained": weights},
        "train": {"out_dir": os.path.join(folder, "no-run")},
        "serve": {"max_batch": 8, "max_queue": 2000},
    }
    path = os.path.join(folder, "serve-load-test.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(project, f, indent=2)
    return path


def project_limits(path):
    """(seq_len, serve.max_tokens, serve.max_queue) of a project file, refusing what the cases do not fit."""
    with open(path, encoding="utf-8") as f:
        project = json.load(f)
    model = project.get("model", {})
    seq_len = model.get("seq_len")
    if seq_len is None and "hf_pretrained" in model:
        folder = os.path.join(os.path.dirname(os.path.abspath(path)), model["hf_pretrained"])
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        seq_len = config.get("n_positions", config.get("max_position_embeddings"))
    seq_len = seq_len or 64
    serve = project.get("serve", {})
    tokenizer = project.get("data", {}).get("tokenizer", "byte")
    if tokenizer != "byte":
        raise SystemExit(f"serve_load_test: {path}: data.tokenizer must be \"byte\" (the cases count bytes as tokens)")
    need = load_cases.MAX_PROMPT_BYTES + load_cases.MAX_NEW_TOKENS
    if seq_len < need:
        raise SystemExit(f"serve_load_test: {path}: model.seq_len {seq_len} is below the {need} the cases need")
    return seq_len, serve.get("max_tokens", 1024), serve.get("max_queue", 64)


class Checker:
    """Collects failures from every client thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failures = []
        self.counts = {}

    def fail(self, text):
        with self.lock:
            self.failures.append(text)

    def count(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1


def check_refusal(checker, what, status, answer, prefix):
    error = answer.get("error") if isinstance(answer, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if status != 400:
        return checker.fail(f"bad request ({what}): HTTP {status}, expected 400: {answer}")
    if not isinstance(message, str) or not message or "\n" in message:
        return checker.fail(f"bad request ({what}): the message is not one non-empty line: {answer}")
    if error.get("type") != "invalid_request_error":
        checker.fail(f"bad request ({what}): type {error.get('type')!r}, expected invalid_request_error")
    if not message.startswith(prefix):
        checker.fail(f"bad request ({what}): message {message!r} does not start with {prefix!r}")


def run_item(server, item, good, bad, references, checker):
    kind, index = item[0], item[1]
    if kind == "bad":
        what, body, prefix = bad[index]
        status, answer = server.post_json(body)
        checker.count("bad")
        return check_refusal(checker, what, status, answer, prefix)
    case, reference = good[index], references[index]
    label = f"{kind} {json.dumps(case, ensure_ascii=False)}"
    if kind == "whole":
        status, answer = server.post_json(case)
        checker.count("whole" if status != 503 else "rejected")
        if status != 200:
            return checker.fail(f"{label}: HTTP {status}: {answer}")
        choice = answer["choices"][0]
        got = (choice["text"], choice["finish_reason"], answer["usage"]["completion_tokens"])
        if got != reference:
            checker.fail(f"{label}: answered {got!r} under load, {reference!r} alone")
        if answer["usage"]["prompt_tokens"] != len(case["prompt"].encode("utf-8")):
            checker.fail(f"{label}: usage.prompt_tokens {answer['usage']['prompt_tokens']}")
        return None
    if kind == "stream":
        result = server.stream(case)
        checker.count("stream" if result["status"] != 503 else "rejected")
        if result["status"] != 200:
            return checker.fail(f"{label}: HTTP {result['status']}: {result.get('error')}")
        if not result["done"] or (result["text"], result["finish"]) != reference[:2]:
            checker.fail(f"{label}: streamed {(result['text'], result['finish'], result['done'])!r}, "
                         f"alone {reference[:2]!r}")
        return None
    events, reset = item[2], item[3]
    result = server.stream(case, stop_after=events, reset=reset)
    checker.count("disconnect" if result["status"] != 503 else "rejected")
    if result["status"] != 200:
        return checker.fail(f"{label}: HTTP {result['status']}: {result.get('error')}")
    if not reference[0].startswith(result["text"]):
        checker.fail(f"{label}: the first {result['events']} events {result['text']!r} do not begin "
                     f"the answer {reference[0]!r}")
    return None


def run_load(server, items, good, bad, references, clients, checker):
    lock = threading.Lock()
    pending = list(reversed(items))
    gone = threading.Event()

    def client():
        while not gone.is_set():
            with lock:
                if not pending:
                    return
                item = pending.pop()
            try:
                run_item(server, item, good, bad, references, checker)
            except ServerGone as error:
                checker.fail(str(error))
                gone.set()
            except Exception as error:  # a client-side error is a failure of this request, not of the test
                checker.fail(f"{item[0]} request: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
        if thread.is_alive():
            checker.fail("a client thread did not finish within 10 minutes")
            return


def settled_metrics(server, expected_requests, wait_s):
    """Polls /metrics until nothing runs, nothing waits, no KV block is held and the outcome
    counters add up to `expected_requests` (cancellations are counted when the server notices the
    client left); returns the last sample and whether it settled."""
    deadline = time.monotonic() + wait_s
    while True:
        samples = server.metrics()
        total = sum(samples[f'behemoth_requests_total{{outcome="{o}"}}'] for o in OUTCOMES)
        idle = (samples["behemoth_kv_blocks_in_use"] == 0 and samples["behemoth_queue_length"] == 0
                and samples["behemoth_batch_size"] == 0)
        if (idle and total == expected_requests) or time.monotonic() > deadline:
            return samples, idle and total == expected_requests
        time.sleep(0.2)


def check_wrong_paths(server, checker):
    for method, path, status in (("GET", "/v1/completions", 405), ("GET", "/no/such/path", 404)):
        got, headers, body = server.request(method, path)
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = None
        if got != status or not isinstance(message, str) or "\n" in message or (status == 405 and path not in message):
            checker.fail(f"{method} {path}: HTTP {got} {body[:200]!r}, expected {status} with a one-line message")
        if status == 405 and headers.get("allow") != "POST":
            checker.fail(f"{method} {path}: Allow header {headers.get('allow')!r}, expected POST")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the behemoth executable")
    parser.add_argument("--project", help="a project to serve (byte tokenizer, seq_len >= 64); default: a tiny GPT")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="the server's math threads (OMP_NUM_THREADS)")
    args = parser.parse_args()
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="serve-load-") as folder:
        project = os.path.abspath(args.project) if args.project else default_project(folder)
        seq_len, serve_max_tokens, max_queue = project_limits(project)
        good, bad = load_cases.good_cases(), load_cases.bad_cases(seq_len, serve_max_tokens)
        items = load_cases.plan(args.requests, good, bad, args.seed)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        try:
            server = ServeProcess(args.bin, project, env)
        except ServerGone as error:
            print(f"serve_load_test: FAILED: {error}")
            return 1
        checker = Checker()
        try:
            print(f"serve_load_test: {server.ready_line}")
            status, _, body = server.request("GET", "/health")
            if status != 200 or json.loads(body).get("status") != "ok":
                checker.fail(f"GET /health: HTTP {status} {body!r}")

            references = []
            for case in good:
                status, answer = server.post_json(case)
                if status != 200:
                    raise SystemExit(f"serve_load_test: FAILED: {json.dumps(case)} alone: HTTP {status}: {answer}")
                choice = answer["choices"][0]
                references.append((choice["text"], choice["finish_reason"], answer["usage"]["completion_tokens"]))
            status, again = server.post_json(good[0])
            if (again["choices"][0]["text"], again["choices"][0]["finish_reason"],
                    again["usage"]["completion_tokens"]) != references[0]:
                checker.fail(f"{json.dumps(good[0])}: two answers alone differ")
            sent = len(good) + 1
            print(f"serve_load_test: {len(good)} reference answers; load: {len(items)} requests from "
                  f"{args.clients} clients")

            load_began = time.monotonic()
            if args.clients > max_queue:
                print(f"serve_load_test: note: {args.clients} clients > serve.max_queue {max_queue}: 503s are allowed")
            run_load(server, items, good, bad, references, args.clients, checker)
            load_s = time.monotonic() - load_began
            sent += sum(checker.counts.values())
            if not server.alive():
                checker.fail(f"the server exited during the load (status {server.process.returncode}): "
                             f"{server.stderr_text()[-2000:]}")
                raise SystemExit
            if checker.counts.get("rejected", 0) and args.clients <= max_queue:
                checker.fail(f"{checker.counts['rejected']} requests answered 503 although {args.clients} clients "
                             f"can never fill serve.max_queue {max_queue}")

            samples, settled = settled_metrics(server, sent, wait_s=60)
            outcome = {o: int(samples[f'behemoth_requests_total{{outcome="{o}"}}']) for o in OUTCOMES}
            if not settled:
                checker.fail(f"/metrics did not settle within 60 s: outcomes {outcome} (sum "
                             f"{sum(outcome.values())}, sent {sent}), kv blocks in use "
                             f"{samples['behemoth_kv_blocks_in_use']:.0f}, queue {samples['behemoth_queue_length']:.0f}, "
                             f"batch {samples['behemoth_batch_size']:.0f}")
            bad_sent = checker.counts.get("bad", 0)
            if outcome["invalid"] != bad_sent:
                checker.fail(f"outcome invalid = {outcome['invalid']}, but {bad_sent} malformed requests were sent")
            if outcome["rejected"] != checker.counts.get("rejected", 0):
                checker.fail(f"outcome rejected = {outcome['rejected']}, but {checker.counts.get('rejected', 0)} "
                             "answers were 503")
            if samples["behemoth_kv_blocks_total"] != server.kv_blocks:
                checker.fail(f"kv blocks total {samples['behemoth_kv_blocks_total']:.0f}, the ready line said "
                             f"{server.kv_blocks}")
            check_wrong_paths(server, checker)
            after = server.metrics()
            if any(after[f'behemoth_requests_total{{outcome="{o}"}}'] != outcome[o] for o in OUTCOMES):
                checker.fail("GET /health, /metrics, 404 and 405 answers changed the completion outcome counters")
        except ServerGone as error:
            checker.fail(str(error))
        except SystemExit as stop:
            if stop.code:
                checker.fail(str(stop.code))
        finally:
            alive = server.alive()
            status = server.stop()
        if not alive:
            checker.fail(f"the server was not running at the end (status {server.process.returncode})")
        elif status != 0:
            checker.fail(f"SIGINT: the server exited with status {status} (None: killed after 60 s): "
                         f"{server.stderr_text()[-2000:]}")

    total_s = time.monotonic() - started
    if checker.failures:
        print(f"serve_load_test: FAILED ({len(checker.failures)} problems):")
        for failure in checker.failures[:40]:
            print("  " + failure)
        if len(checker.failures) > 40:
            print(f"  ... and {len(checker.failures) - 40} more")
        return 1
    print(f"serve_load_test: OK: {sent} completion requests ({checker.counts}), outcomes {outcome}; "
          f"load {load_s:.1f} s, all {total_s:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
