#!/usr/bin/python3
"""Tokenization speed on one corpus, side by side: the engine's SentencePiece (through its module)
and python3-sentencepiece on the same tokenizer.model trained by `behemoth tokenizer train` (one
call on the whole text, and its lines in one batch call), and
the engine's byte-level BPE (GPT-2 form) next to the independent Python BPE of
tests/backend/reference/tokenizer_reference.py on the same files. Tokens per second of encoding
the whole corpus in one call, best of --reps; a table on stdout, JSON with --json.

  /usr/bin/python3 benchmarks/tokenizer_speed.py --bin build/bin --vocab 8000 --reps 3 --json out.json
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "tests", "backend", "reference", "tokenizer_reference.py")


def builtin_corpus(tmp):
    """The builtin corpus as backend/data/corpus.h defines it: the licenses (links skipped), then the
    newest C++ headers, each group sorted by path, cut at 8 MiB."""
    licenses = []
    for root, _, names in os.walk("/usr/share/common-licenses"):
        licenses += [os.path.join(root, n) for n in names if not os.path.islink(os.path.join(root, n))]
    headers = []
    versions = sorted(os.listdir("/usr/include/c++"), key=lambda v: [int(x) if x.isdigit() else 0 for x in v.split(".")])
    for root, _, names in os.walk(os.path.join("/usr/include/c++", versions[-1])):
        headers += [os.path.join(root, n) for n in names]
    data = b"".join(open(p, "rb").read() for p in sorted(licenses) + sorted(headers))[: 8 << 20]
    path = os.path.join(tmp, "corpus.txt")
    with open(path, "wb") as f:
        f.write(data)
    return path, len(data)


def engine(binary, spec, corpus, reps):
    out = subprocess.run([os.path.join(binary, "tokenizer_bench"), spec, corpus, str(reps)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def python_sentencepiece(model, corpus, reps, lines):
    """One encode call of the whole text, or (lines) its lines in one batch call (the library's
    thread pool, all cores), the dummy prefix dropped after each newline as the engine does."""
    import sentencepiece
    processor = sentencepiece.SentencePieceProcessor(model_file=model)
    with open(corpus, encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    prefix = len(processor.encode("\n")) - 1
    best, tokens = 1e30, 0
    for _ in range(reps):
        start = time.perf_counter()
        if lines:
            chunks = [chunk for chunk in re.split(r"(?=\n)", text) if chunk]
            tokens = sum(len(ids) - (prefix if k else 0) for k, ids in enumerate(processor.encode(chunks)))
        else:
            tokens = len(processor.encode(text))
        best = min(best, time.perf_counter() - start)
    return {"tokens": tokens, "seconds": best, "tokens_per_second": tokens / best}


def python_bpe(folder_out, corpus):
    """The reference script's own encoder on the same files (its encoding timed, not its training)."""
    spec = importlib.util.spec_from_file_location("tokenizer_reference", REFERENCE)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    with open(os.path.join(folder_out, "pair", "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(folder_out, "pair", "merges.txt"), encoding="utf-8") as f:
        merges = [tuple(line.rstrip("\n").split(" ")) for line in f if not line.startswith("#version")]
    encoder = reference.Encoder(vocab, merges, reference.python_regex(reference.GPT2_REGEX), False)
    with open(corpus, encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    start = time.perf_counter()
    tokens = len(encoder.encode(text))
    seconds = time.perf_counter() - start
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="build/bin")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--merges", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, corpus_bytes = builtin_corpus(tmp)
        spm_dir = os.path.join(tmp, "spm")
        start = time.perf_counter()
        subprocess.run([os.path.join(args.bin, "behemoth"), "tokenizer", "train", "builtin", "--vocab", str(args.vocab),
                        "--out", spm_dir], check=True, capture_output=True)
        train_seconds = time.perf_counter() - start
        bpe_dir = os.path.join(tmp, "bpe")
        subprocess.run(["/usr/bin/python3", REFERENCE, "bpe", corpus, bpe_dir, "--train-bytes", "300000", "--merges",
                        str(args.merges), "--form", "gpt2"], check=True, capture_output=True)
        rows = {
            "engine sentencepiece": engine(args.bin, spm_dir, corpus, args.reps),
            "python3-sentencepiece": python_sentencepiece(os.path.join(spm_dir, "tokenizer.model"), corpus, args.reps,
                                                          lines=False),
            "python3-sentencepiece, lines": python_sentencepiece(os.path.join(spm_dir, "tokenizer.model"), corpus,
                                                                 args.reps, lines=True),
            "engine bpe": engine(args.bin, os.path.join(bpe_dir, "gpt2"), corpus, args.reps),
            "python reference bpe": python_bpe(bpe_dir, corpus),
        }
    print("corpus: builtin, %d bytes; sentencepiece vocab %d (trained in %.1f s), bpe %d merges" %
          (corpus_bytes, args.vocab, train_seconds, args.merges))
    print("%-30s %10s %10s %14s" % ("tokenizer", "tokens", "seconds", "tokens/s"))
    for name, row in rows.items():
        print("%-30s %10d %10.3f %14.0f" % (name, row["tokens"], row["seconds"], row["tokens_per_second"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"corpus_bytes": corpus_bytes, "vocab": args.vocab, "merges": args.merges, "train_seconds": train_seconds, "rows": rows}, f,
                      indent=2)


main()
