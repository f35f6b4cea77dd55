"""The PyTorch side of benchmarks/serve_vs_torch.py: a GPT-2 with random weights written as a
Hugging Face directory (config.json + model.safetensors, by a small writer of our own), and the
eager generate loop PyTorch users write for it: a static batch, left-padded prompts, a KV cache that
grows by concatenation, greedy decoding. The engine serves the same directory, so both sides run
the same weights.
"""

import json
import math
import os
import struct

import torch
import torch.nn.functional as F


def random_gpt2(n_layer, n_head, d_model, seq_len, vocab, seed=0, std=0.02):
    """Engine names are not used here: the tensors carry GPT-2's own names and layouts (Conv1D [in, out])."""
    generator = torch.Generator().manual_seed(seed)

    def normal(*shape):
        return torch.randn(*shape, generator=generator) * std

    tensors = {"wte.weight": normal(vocab, d_model), "wpe.weight": normal(seq_len, d_model),
               "ln_f.weight": torch.ones(d_model), "ln_f.bias": torch.zeros(d_model)}
    for i in range(n_layer):
        p = f"h.{i}."
        tensors.update({
            p + "ln_1.weight": torch.ones(d_model), p + "ln_1.bias": torch.zeros(d_model),
            p + "attn.c_attn.weight": normal(d_model, 3 * d_model), p + "attn.c_attn.bias": normal(3 * d_model),
            p + "attn.c_proj.weight": normal(d_model, d_model), p + "attn.c_proj.bias": normal(d_model),
            p + "ln_2.weight": torch.ones(d_model), p + "ln_2.bias": torch.zeros(d_model),
            p + "mlp.c_fc.weight": normal(d_model, 4 * d_model), p + "mlp.c_fc.bias": normal(4 * d_model),
            p + "mlp.c_proj.weight": normal(4 * d_model, d_model), p + "mlp.c_proj.bias": normal(d_model),
        })
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": n_layer, "n_head": n_head,
              "n_embd": d_model, "n_positions": seq_len, "vocab_size": vocab, "layer_norm_epsilon": 1e-5}
    return config, tensors


def write_hf_dir(path, config, tensors):
    """safetensors: an 8-byte little-endian header length, the JSON header, then the raw tensors."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as file:
        json.dump(config, file, indent=1)
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(os.path.join(path, "model.safetensors"), "wb") as file:
        file.write(struct.pack("<Q", len(encoded)) + encoded)
        for data in blobs:
            file.write(data)


class Gpt2:
    """GPT-2's forward over a batch with a KV cache: x [B, T] new tokens at positions [B, T]."""

    def __init__(self, config, tensors):
        self.t = tensors
        self.n_layer, self.n_head, self.eps = config["n_layer"], config["n_head"], config["layer_norm_epsilon"]

    def forward(self, tokens, positions, mask, cache):
        t = self.t
        x = t["wte.weight"][tokens] + t["wpe.weight"][positions]
        batch, length, width = x.shape
        heads, dim = self.n_head, width // self.n_head
        for i in range(self.n_layer):
            p = f"h.{i}."
            h = F.layer_norm(x, (width,), t[p + "ln_1.weight"], t[p + "ln_1.bias"], self.eps)
            q, k, v = (h @ t[p + "attn.c_attn.weight"] + t[p + "attn.c_attn.bias"]).split(width, dim=2)
            q, k, v = (z.view(batch, length, heads, dim).transpose(1, 2) for z in (q, k, v))
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            cache[i] = (k, v)
            scores = (q @ k.transpose(2, 3)) / math.sqrt(dim)
            scores = scores.masked_fill(~mask[:, None, :, :], float("-inf"))
            attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, width)
            x = x + attended @ t[p + "attn.c_proj.weight"] + t[p + "attn.c_proj.bias"]
            h = F.layer_norm(x, (width,), t[p + "ln_2.weight"], t[p + "ln_2.bias"], self.eps)
            h = F.gelu(h @ t[p + "mlp.c_fc.weight"] + t[p + "mlp.c_fc.bias"], approximate="tanh")
            x = x + h @ t[p + "mlp.c_proj.weight"] + t[p + "mlp.c_proj.bias"]
        x = F.layer_norm(x[:, -1], (width,), t["ln_f.weight"], t["ln_f.bias"], self.eps)
        return x @ t["wte.weight"].T  # tied head: logits of the last position [B, vocab]


@torch.no_grad()
def generate(model, prompts, max_tokens, on_first_token=None):
    """Greedy tokens for a static batch: prompts (lists of ids) left-padded, every row decoded until
    the longest max_tokens is reached. Returns each row's first max_tokens[r] tokens."""
    batch, longest = len(prompts), max(len(p) for p in prompts)
    steps = max(max_tokens)
    tokens = torch.zeros(batch, longest, dtype=torch.long)
    valid = torch.zeros(batch, longest + steps, dtype=torch.bool)
    for r, prompt in enumerate(prompts):
        tokens[r, longest - len(prompt):] = torch.tensor(prompt)
        valid[r, longest - len(prompt):] = True
    positions = (valid[:, :longest].long().cumsum(1) - 1).clamp(min=0)
    causal = torch.ones(longest, longest, dtype=torch.bool).tril()
    # A padding position attends to itself only, so it never becomes NaN (its keys are masked later).
    mask = (causal[None] & valid[:, None, :longest]) | torch.eye(longest, dtype=torch.bool)[None]
    cache = [None] * model.n_layer
    out = []
    logits = model.forward(tokens, positions, mask, cache)
    next_position = positions[:, -1] + 1
    for step in range(steps):
        chosen = logits.argmax(-1)
        out.append(chosen)
        if step == 0 and on_first_token:
            on_first_token()
        if step + 1 == steps:
            break
        mask = valid[:, None, :longest + step + 1]
        logits = model.forward(chosen[:, None], next_position[:, None], mask, cache)
        next_position = next_position + 1
    generated = torch.stack(out, 1)
    return [generated[r, :max_tokens[r]].tolist() for r in range(batch)]
