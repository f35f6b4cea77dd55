"""Random GPT-2 weights as a Hugging Face model directory, and reading them back (torch only).

Why: the serving benchmark (benchmarks/serve_speed.py) compares `behemoth serve` with a PyTorch
generate loop, and the comparison only means something when both run the very same weights. This
module writes a directory `behemoth serve DIR` accepts as a GPT2LMHeadModel (docs/hf-interop.md):
`config.json` plus one `model.safetensors` of F32 tensors under GPT-2's names (`wte.weight`,
`h.N.attn.c_attn.weight` stored [in, out] as Conv1D keeps it, ..., a tied head, so no
`lm_head.weight`), and reads the file back for the PyTorch side.

The safetensors writer is written here from the format's description: an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}} padded with spaces to a multiple
of 8, then the raw little-endian bytes, offsets counted from the end of the header.

  /usr/bin/python3 benchmarks/python/hf_gpt_weights.py /tmp/gpt2-random --n-layer 4 --d-model 256
"""

import argparse
import json
import os
import struct

import torch


def gpt2_shapes(n_layer, d_model, seq_len, vocab_size):
    """{GPT-2 tensor name: shape} in the order the file stores them; MLP width 4 * d_model."""
    d, f = d_model, 4 * d_model
    shapes = {"wte.weight": [vocab_size, d], "wpe.weight": [seq_len, d]}
    for n in range(n_layer):
        block = f"h.{n}."
        shapes.update({
            block + "ln_1.weight": [d], block + "ln_1.bias": [d],
            block + "attn.c_attn.weight": [d, 3 * d], block + "attn.c_attn.bias": [3 * d],
            block + "attn.c_proj.weight": [d, d], block + "attn.c_proj.bias": [d],
            block + "ln_2.weight": [d], block + "ln_2.bias": [d],
            block + "mlp.c_fc.weight": [d, f], block + "mlp.c_fc.bias": [f],
            block + "mlp.c_proj.weight": [f, d], block + "mlp.c_proj.bias": [d],
        })
    shapes.update({"ln_f.weight": [d], "ln_f.bias": [d]})
    return shapes


def random_gpt2(n_layer, d_model, seq_len, vocab_size, seed=0, std=0.02):
    """Random weights: matrices and embeddings N(0, std), biases N(0, std / 2), layer-norm gains
    1 + N(0, 0.1) and shifts N(0, 0.1), so that every tensor, biases and norms included, matters
    for the output and a mistake in any of them changes the greedy text. The embedding rows of
    token ids 128 and up are 10 times smaller: with the tied head their logits stay near 0, so the
    greedy text of a byte-level model is mostly ASCII and comparing two texts compares the bytes
    (bytes that are not UTF-8 would all read as U+FFFD)."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, shape in gpt2_shapes(n_layer, d_model, seq_len, vocab_size).items():
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        if ".ln_" in name or name.startswith("ln_f."):
            tensors[name] = (1.0 + 0.1 * noise) if name.endswith(".weight") else 0.1 * noise
        elif name.endswith(".bias"):
            tensors[name] = (std / 2) * noise
        else:
            tensors[name] = std * noise
    tensors["wte.weight"][128:] *= 0.1
    return tensors


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: float32 tensor} as one safetensors file, in the dict's order."""
    header, offset, blobs = {}, 0, []
    for name, tensor in tensors.items():
        if tensor.dtype != torch.float32:
            raise ValueError(f"{name}: only float32 is written here, got {tensor.dtype}")
        blob = tensor.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """{name: float32 tensor} of a file write_safetensors wrote (F32 entries only)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length].decode("utf-8"))
    header.pop("__metadata__", None)
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name}: dtype {entry['dtype']}, only F32 is read here")
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(data[start + begin:start + end]), dtype=torch.float32)
        tensors[name] = flat.reshape(entry["shape"])
    return tensors


def gpt2_config(n_layer, n_head, d_model, seq_len, vocab_size):
    """The config.json of a GPT2LMHeadModel with these sizes (tanh GELU, scaled attention)."""
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "n_layer": n_layer, "n_head": n_head, "n_embd": d_model, "n_inner": None,
        "n_positions": seq_len, "n_ctx": seq_len, "vocab_size": vocab_size,
        "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "tie_word_embeddings": True,
    }


def write_gpt2_dir(directory, n_layer, n_head, d_model, seq_len, vocab_size, seed=0, std=0.02):
    """Creates DIR/config.json and DIR/model.safetensors; returns the config dict."""
    if d_model % n_head:
        raise ValueError(f"d_model {d_model} does not divide by n_head {n_head}")
    os.makedirs(directory, exist_ok=True)
    config = gpt2_config(n_layer, n_head, d_model, seq_len, vocab_size)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    tensors = random_gpt2(n_layer, d_model, seq_len, vocab_size, seed, std)
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors, {"format": "pt"})
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the directory to write")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--std", type=float, default=0.02)
    args = parser.parse_args()
    write_gpt2_dir(args.out, args.n_layer, args.n_head, args.d_model, args.seq_len, args.vocab, args.seed, args.std)
    print(f"wrote {args.out}/config.json and model.safetensors")


if __name__ == "__main__":
    main()
