"""The requests of the serving load test: well-formed ones, malformed ones, and the shuffled mix.

Why a table: every well-formed request is one of a few dozen distinct bodies, so its answer can be
checked against the answer the same body gets when the server has nothing else to do; and every
malformed body is listed with the start its error message must have (the field it names), so a
refusal that names the wrong thing, or none, fails the test.

Prompts are at most 48 bytes and max_tokens at most 16, so every well-formed request fits a model
of seq_len 64 with the byte tokenizer (one token per byte).
"""

import json
import random

MAX_PROMPT_BYTES = 48
MAX_NEW_TOKENS = 16

PROMPTS = [
    "Hello",
    "a",
    " ",
    "\n\n",
    "The quick brown fox jumps over the lazy dog.",
    'a "quoted" word and a back\\slash',
    "naïve café, déjà vu",
    "日本語のテキスト",
    "emoji 🙂 then text",
    "tab\tseparated\tvalues",
    "0123456789",
    "SELECT * FROM requests WHERE ok;",
    '{"json": [1, 2, 3]}',
    "x" * 40,
    "repeat repeat repeat repeat",
    "Once upon a time",
    "def f(x):\n    return x",
    "\u00e9\u00e8\u00ea",
    "z",
    "Serving many clients at once is the point.",
]


def good_cases():
    """The distinct well-formed bodies: greedy with several max_tokens, some with stop strings,
    some seeded samples (which must also come out the same alone and under load)."""
    cases = []
    lengths = [1, 3, 8, 16]
    for k, prompt in enumerate(PROMPTS):
        assert len(prompt.encode("utf-8")) <= MAX_PROMPT_BYTES, prompt
        cases.append({"prompt": prompt, "max_tokens": 16, "temperature": 0})
        cases.append({"prompt": prompt, "max_tokens": lengths[k % len(lengths)], "temperature": 0})
    # Stop strings that the default model's greedy answers contain (one spans several tokens).
    cases.append({"prompt": "Hello", "max_tokens": 16, "temperature": 0, "stop": "#"})
    cases.append({"prompt": "a", "max_tokens": 16, "temperature": 0, "stop": "__#"})
    cases.append({"prompt": "Once upon a time", "max_tokens": 16, "temperature": 0, "stop": ["=", "zz"]})
    cases.append({"prompt": "0123456789", "max_tokens": 12, "temperature": 0, "model": "any name"})
    for seed in range(4):
        cases.append({"prompt": PROMPTS[seed * 3], "max_tokens": 16, "temperature": 0.8, "top_k": 40,
                      "top_p": 0.9, "seed": seed})
    # The same request twice in the table would only hide a mismatch; keep them distinct.
    unique = []
    for case in cases:
        if case not in unique:
            unique.append(case)
    return unique


def _body(**fields):
    return json.dumps(fields).encode("utf-8")


def bad_cases(seq_len, serve_max_tokens):
    """(what, raw body, the start the error message must have). All are answered 400 by the
    parser or by the scheduler's refusal, before anything runs."""
    too_long = ("abcdefghijklmnopqrstuvwxyz0123456789" * (1 + 4 * seq_len // 36))
    return [
        ("truncated JSON", b'{"prompt": "abc", "max_tokens": ', "malformed JSON"),
        ("trailing comma", b'{"prompt": "abc",}', "malformed JSON"),
        ("single quotes", b"{'prompt': 'abc'}", "malformed JSON"),
        ("text after the object", b'{"prompt": "abc"} and more', "malformed JSON"),
        ("empty body", b"", "malformed JSON"),
        ("not UTF-8", b'\xff\xfe{"prompt": "abc"}', "malformed JSON"),
        ("NaN literal", b'{"prompt": "abc", "temperature": NaN}', "malformed JSON"),
        ("a lone surrogate", b'{"prompt": "\\ud800", "max_tokens": 2}', "malformed JSON"),
        ("an array body", b'[1, 2, 3]', "request body"),
        ("a string body", b'"prompt"', "request body"),
        ("unknown field best_of", _body(prompt="abc", best_of=2), "best_of"),
        ("unknown field n", _body(prompt="abc", n=3), "n:"),
        ("unknown field echo", _body(prompt="abc", max_tokens=4, echo=True), "echo"),
        ("a key twice", b'{"prompt": "a", "prompt": "b"}', "prompt"),
        ("negative max_tokens", _body(prompt="abc", max_tokens=-5), "max_tokens"),
        ("zero max_tokens", _body(prompt="abc", max_tokens=0), "max_tokens"),
        ("huge max_tokens", _body(prompt="abc", max_tokens=10 ** 12), "max_tokens"),
        ("max_tokens past serve.max_tokens", _body(prompt="abc", max_tokens=serve_max_tokens + 1), "max_tokens"),
        ("max_tokens 1e30", b'{"prompt": "abc", "max_tokens": 1e30}', "max_tokens"),
        ("max_tokens a string", _body(prompt="abc", max_tokens="16"), "max_tokens"),
        ("max_tokens a fraction", _body(prompt="abc", max_tokens=1.5), "max_tokens"),
        ("prompt a number", _body(prompt=42), "prompt"),
        ("prompt a list", _body(prompt=["a", "b"]), "prompt"),
        ("prompt missing", _body(max_tokens=4), "prompt"),
        ("prompt empty", _body(prompt="", max_tokens=4), "prompt"),
        ("stream a string", _body(prompt="abc", stream="yes"), "stream"),
        ("temperature a string", _body(prompt="abc", temperature="hot"), "temperature"),
        ("negative temperature", _body(prompt="abc", temperature=-1), "temperature"),
        ("temperature 1e400", b'{"prompt": "abc", "temperature": 1e400}', "temperature"),
        ("top_p zero", _body(prompt="abc", top_p=0), "top_p"),
        ("top_p above one", _body(prompt="abc", top_p=1.5), "top_p"),
        ("negative top_k", _body(prompt="abc", top_k=-1), "top_k"),
        ("seed a string", _body(prompt="abc", seed="x"), "seed"),
        ("stop a number", _body(prompt="abc", stop=7), "stop"),
        ("five stop strings", _body(prompt="abc", stop=["a", "b", "c", "d", "e"]), "stop"),
        ("model a number", _body(prompt="abc", model=5), "model"),
        ("prompt of seq_len tokens", _body(prompt=too_long[:seq_len], max_tokens=1), "prompt"),
        ("prompt + max_tokens past seq_len", _body(prompt=too_long[:seq_len - 8], max_tokens=16), "prompt"),
        ("prompt of 4 x seq_len tokens", _body(prompt=too_long[:4 * seq_len], max_tokens=1), "prompt"),
    ]


def plan(total, good, bad, seed, bad_share=0.15, disconnect_share=0.10, full_stream_share=0.05):
    """The shuffled list of what the clients send: ("bad", i), ("whole", i), ("stream", i) read to
    [DONE], ("disconnect", i, events to read first, reset?) of good case i or bad case i."""
    rng = random.Random(seed)
    n_bad = round(total * bad_share)
    n_disconnect = round(total * disconnect_share)
    n_stream = round(total * full_stream_share)
    n_whole = total - n_bad - n_disconnect - n_stream
    # A disconnect is only mid-answer when there is more to come: the longest greedy bodies.
    long_ones = [i for i, case in enumerate(good) if case["max_tokens"] == MAX_NEW_TOKENS and "stop" not in case]
    items = [("bad", k % len(bad)) for k in range(n_bad)]
    items += [("whole", k % len(good)) for k in range(n_whole)]
    items += [("stream", k % len(good)) for k in range(n_stream)]
    items += [("disconnect", long_ones[k % len(long_ones)], 1 + k % 3, k % 2 == 1) for k in range(n_disconnect)]
    rng.shuffle(items)
    return items
