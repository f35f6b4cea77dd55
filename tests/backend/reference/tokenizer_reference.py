#!/usr/bin/python3
"""Independent tokenizers for tests/backend/tokenizer_reference_test.cpp (no engine code).

  bpe TEXT OUT_DIR --train-bytes B --merges M --form gpt2|llama3
      Trains a byte-level BPE on TEXT's first B bytes (GPT-2's pre-tokenization, Python's re with
      classes built from unicodedata), writes it as OUT_DIR/pair/vocab.json + merges.txt and as
      OUT_DIR/FORM/tokenizer.json (gpt2: GPT-2's ByteLevel pre-tokenizer; llama3: LLaMA-3's Split
      expression and ignore_merges), then encodes the whole TEXT with that form, GPT-2's encoder.py
      way (lowest-rank pair, every occurrence merged at once): OUT_DIR/FORM.ids, int32 LE.
  spm MODEL TEXT OUT [--head BYTES] [--lines]
      python3-sentencepiece's ids of TEXT (or of its first BYTES bytes), int32 LE, prints tokens per
      second. One encode call of the whole text; with --lines, the lines are encoded in one batch
      (each line after the first with its newline in front) and the dummy-prefix ids that
      encode("\n") puts before the newline's token are dropped from all but the first; the engine
      encodes that way for models where it cannot change the ids, which --head without --lines
      checks on real text.

TEXT is read as UTF-8 with surrogateescape, so bytes that are not UTF-8 stay themselves.
"""
import array
import functools
import json
import os
import re
import sys
import time
import unicodedata

WHITE_SPACE = [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
               0x205F, 0x3000]
END_OF_TEXT = "<|endoftext|>"
GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")


def class_body(code_points):
    """A character-class body (no brackets) for the sorted code points."""
    parts, start, prev = [], None, None
    for cp in code_points + [None]:
        if cp is not None and prev is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            parts.append("\\U%08x" % start if start == prev else "\\U%08x-\\U%08x" % (start, prev))
        start = prev = cp
    return "".join(parts)


@functools.lru_cache(maxsize=None)
def unicode_classes():
    letters, numbers = [], []
    for cp in range(0x110000):
        major = unicodedata.category(chr(cp))[0]
        if major == "L":
            letters.append(cp)
        elif major == "N":
            numbers.append(cp)
    return class_body(letters), class_body(numbers), class_body(WHITE_SPACE)


def python_regex(published):
    """The published expression with \\p{L}, \\p{N}, \\s, \\S spelled as explicit classes for re."""
    L, N, S = unicode_classes()
    out = published.replace(r"[^\s\p{L}\p{N}]", "[^" + S + L + N + "]")
    out = out.replace(r"[^\r\n\p{L}\p{N}]", "[^\\r\\n" + L + N + "]")
    out = out.replace(r"\p{L}", "[" + L + "]").replace(r"\p{N}", "[" + N + "]")
    out = out.replace(r"(?!\S)", "(?![^" + S + "])").replace(r"\s", "[" + S + "]")
    return re.compile(out)


def bytes_to_unicode():
    """GPT-2's byte -> printable character table, written from its definition."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_CHAR = bytes_to_unicode()


def byte_level(piece):
    return "".join(BYTE_CHAR[b] for b in piece.encode("utf-8", "surrogateescape"))


def train(pieces, merges_wanted):
    """Classic BPE training over word counts; ties go to the smallest pair, so it is deterministic."""
    counts = {}
    for piece in pieces:
        word = tuple(byte_level(piece))
        counts[word] = counts.get(word, 0) + 1
    words = [list(w) for w in counts]
    freq = list(counts.values())
    pair_count, where = {}, {}
    for i, w in enumerate(words):
        for pair in zip(w, w[1:]):
            pair_count[pair] = pair_count.get(pair, 0) + freq[i]
            where.setdefault(pair, set()).add(i)
    merges = []
    while len(merges) < merges_wanted and pair_count:
        best = min(pair_count, key=lambda p: (-pair_count[p], p))
        if pair_count[best] <= 0:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(where.get(best, ())):
            w = words[i]
            for pair in zip(w, w[1:]):
                pair_count[pair] -= freq[i]
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for pair in zip(out, out[1:]):
                pair_count[pair] = pair_count.get(pair, 0) + freq[i]
                where.setdefault(pair, set()).add(i)
        del pair_count[best]
        pair_count = {p: c for p, c in pair_count.items() if c > 0} if len(merges) % 64 == 0 else pair_count
    return merges


class Encoder:
    """GPT-2's encoder.py bpe(), plus LLaMA-3's ignore_merges."""

    def __init__(self, vocab, merges, regex, ignore_merges):
        self.vocab, self.ranks = vocab, {m: r for r, m in enumerate(merges)}
        self.regex, self.ignore_merges, self.cache = regex, ignore_merges, {}

    def bpe(self, token):
        if self.ignore_merges and token in self.vocab:
            return [token]
        word = list(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    def encode(self, text):
        ids = []
        for k, part in enumerate(text.split(END_OF_TEXT)):
            if k:
                ids.append(self.vocab[END_OF_TEXT])
            for piece in self.regex.findall(part):
                if piece not in self.cache:
                    self.cache[piece] = [self.vocab[t] for t in self.bpe(byte_level(piece))]
                ids.extend(self.cache[piece])
        return ids


def write_ids(path, ids):
    values = array.array("i", ids)
    if sys.byteorder != "little":
        values.byteswap()
    with open(path, "wb") as out:
        values.tofile(out)


def tokenizer_json(vocab, merges, pre_tokenizer, ignore_merges, merges_as_pairs):
    """Older tokenizer.json files spell a merge "a b", newer ones ["a", "b"]: one form each."""
    return {"version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [{"id": vocab[END_OF_TEXT], "content": END_OF_TEXT, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}],
            "normalizer": None, "pre_tokenizer": pre_tokenizer, "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": ignore_merges, "vocab": vocab,
                      "merges": [[a, b] if merges_as_pairs else a + " " + b for a, b in merges]}}


def bpe_command(text_path, out_dir, train_bytes, merges_wanted, form):
    with open(text_path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    gpt2 = python_regex(GPT2_REGEX)
    merges = train(gpt2.findall(text.encode("utf-8", "surrogateescape")[:train_bytes].decode("utf-8", "surrogateescape")),
                   merges_wanted)
    vocab = {BYTE_CHAR[b]: b for b in range(256)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab[END_OF_TEXT] = len(vocab)
    os.makedirs(os.path.join(out_dir, "pair"), exist_ok=True)
    with open(os.path.join(out_dir, "pair", "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "pair", "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join("%s %s\n" % m for m in merges))
    byte_level_step = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    forms = {
        "gpt2": (byte_level_step, gpt2, False),
        "llama3": ({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
            dict(byte_level_step, use_regex=False)]}, python_regex(LLAMA3_REGEX) if form == "llama3" else None, True),
    }
    for name, (pre_tokenizer, regex, ignore_merges) in forms.items():
        if name != form:
            continue
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        with open(os.path.join(out_dir, name, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(vocab, merges, pre_tokenizer, ignore_merges, merges_as_pairs=name == "llama3"), f,
                      ensure_ascii=False)
        write_ids(os.path.join(out_dir, name + ".ids"), Encoder(vocab, merges, regex, ignore_merges).encode(text))


def spm_command(model, text_path, out, head=None, lines=False):
    import sentencepiece
    processor = sentencepiece.SentencePieceProcessor(model_file=model)
    with open(text_path, "rb") as f:
        data = f.read()
    text = (data if head is None else data[:head]).decode("utf-8", "surrogateescape")
    start = time.perf_counter()
    if lines:
        chunks = [chunk for chunk in re.split(r"(?=\n)", text) if chunk]
        prefix = processor.encode("\n")[:-1]
        ids = []
        for k, chunk_ids in enumerate(processor.encode(chunks)):
            if k:  # the first chunk starts the text: its prefix is the text's
                assert chunk_ids[:len(prefix)] == prefix, "a line did not start with the dummy prefix"
                chunk_ids = chunk_ids[len(prefix):]
            ids.extend(chunk_ids)
    else:
        ids = processor.encode(text)
    seconds = time.perf_counter() - start
    write_ids(out, ids)
    print("python3-sentencepiece: %d tokens in %.3f s: %.0f tokens/s" % (len(ids), seconds, len(ids) / seconds))


def main():
    args = sys.argv[1:]
    if args[0] == "bpe":
        options = dict(zip(args[3::2], args[4::2]))
        bpe_command(args[1], args[2], int(options["--train-bytes"]), int(options["--merges"]), options["--form"])
    elif args[0] == "spm":
        head = int(args[args.index("--head") + 1]) if "--head" in args else None
        spm_command(args[1], args[2], args[3], head, "--lines" in args)
    else:
        sys.exit("unknown command " + args[0])


if __name__ == "__main__":
    main()
