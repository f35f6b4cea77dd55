"""Writes a tiny random GPT-2 as a Hugging Face directory with the standard library alone.

Why: the load test compares texts, and a freshly initialised engine model of a byte tokenizer
answers mostly bytes >= 128, which are not UTF-8 and all read as U+FFFD, so two different
answers would look the same. Here the embedding rows of token ids >= 128 are 10 times smaller
than the others: with GPT-2's tied head their logits stay near 0 and greedy answers are mostly
ASCII, so comparing texts compares the tokens. Weights are N(0, std) (norm gains 1 + N(0, 0.1)),
so logits are spread well apart and a greedy choice is never a near tie that rounding could flip.

The files: config.json (GPT2LMHeadModel) and model.safetensors, F32: an 8-byte little-endian
header length, the JSON header {name: {dtype, shape, data_offsets}} padded to 8 bytes, the data.
"""

import json
import os
import random
import struct


def tensor_shapes(n_layer, d_model, seq_len, vocab_size):
    d = d_model
    shapes = [("wte.weight", [vocab_size, d]), ("wpe.weight", [seq_len, d])]
    for n in range(n_layer):
        shapes += [(f"h.{n}.{name}", shape) for name, shape in (
            ("ln_1.weight", [d]), ("ln_1.bias", [d]),
            ("attn.c_attn.weight", [d, 3 * d]), ("attn.c_attn.bias", [3 * d]),
            ("attn.c_proj.weight", [d, d]), ("attn.c_proj.bias", [d]),
            ("ln_2.weight", [d]), ("ln_2.bias", [d]),
            ("mlp.c_fc.weight", [d, 4 * d]), ("mlp.c_fc.bias", [4 * d]),
            ("mlp.c_proj.weight", [4 * d, d]), ("mlp.c_proj.bias", [d]))]
    return shapes + [("ln_f.weight", [d]), ("ln_f.bias", [d])]


def values(name, shape, rng, std):
    count = 1
    for size in shape:
        count *= size
    if ".ln_" in name or name.startswith("ln_f."):
        centre = 1.0 if name.endswith(".weight") else 0.0
        return [centre + rng.gauss(0.0, 0.1) for _ in range(count)]
    scale = std / 2 if name.endswith(".bias") else std
    numbers = [rng.gauss(0.0, scale) for _ in range(count)]
    if name == "wte.weight":
        width = shape[1]
        for k in range(128 * width, count):
            numbers[k] *= 0.1
    return numbers


def write(folder, n_layer=2, n_head=2, d_model=32, seq_len=64, vocab_size=256, seed=0, std=0.1):
    os.makedirs(folder, exist_ok=True)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": n_layer, "n_head": n_head,
              "n_embd": d_model, "n_positions": seq_len, "n_ctx": seq_len, "vocab_size": vocab_size,
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "tie_word_embeddings": True}
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    rng = random.Random(seed)
    header, blobs, offset = {}, [], 0
    for name, shape in tensor_shapes(n_layer, d_model, seq_len, vocab_size):
        numbers = values(name, shape, rng, std)
        blob = struct.pack(f"<{len(numbers)}f", *numbers)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return folder
