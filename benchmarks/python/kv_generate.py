"""A PyTorch eager GPT-2 forward with a key/value cache and a greedy generate loop over a batch.

Why: the PyTorch side of benchmarks/serve_speed.py, the "plain PyTorch" way to serve a model that
`behemoth serve` is measured against. It loads the Hugging Face tensors hf_gpt_weights.py wrote
(GPT-2 names, Conv1D weights stored [in, out], q, k, v fused in that order, tied head) and
computes what GPT2LMHeadModel computes: learned positions, pre-LN blocks, attention scaled by
1/sqrt(head_dim), tanh-GELU MLP, final LN, logits = h @ wte^T.

The cache is preallocated per layer as [batch, heads, prompt + new tokens, head_dim] and written
in place, so a decode step costs one token's projections plus attention over what is cached (no
concatenation, no recomputation). A batch of prompts of different lengths is left-padded to the
longest: pad keys are masked out of every attention, and each row's positions count its own tokens
from 0, so a padded row computes exactly what it computes alone (the pad positions' own outputs
are never read). Every row generates the same number of tokens (no end-of-sequence token, as with
the byte tokenizer); greedy is argmax.
"""

import json
import math
import os
import time

import torch
import torch.nn.functional as F


class KvGpt2:
    def __init__(self, tensors, n_head, norm_eps=1e-5):
        self.t = tensors
        self.n_head = n_head
        self.eps = norm_eps
        self.n_layer = 1 + max(int(name.split(".")[1]) for name in tensors if name.startswith("h."))
        self.d_model = tensors["wte.weight"].shape[1]
        self.seq_len = tensors["wpe.weight"].shape[0]
        self.head_dim = self.d_model // n_head
        # Conv1D keeps [in, out]: x @ W is the layer; contiguous so every matmul reads it in order.
        self.blocks = []
        names = ("ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                 "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                 "mlp.c_proj.weight", "mlp.c_proj.bias")
        for n in range(self.n_layer):
            self.blocks.append({name: tensors[f"h.{n}.{name}"].contiguous() for name in names})

    def new_cache(self, batch, length):
        shape = (batch, self.n_head, length, self.head_dim)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in range(self.n_layer)]

    def forward(self, ids, positions, start, cache, allowed):
        """Logits of the last position of each row, [B, vocab]. ids, positions: [B, T] for cache
        slots start..start+T; allowed: [B, T, start+T] bool, which cached keys each query sees."""
        d, h, hd = self.d_model, self.n_head, self.head_dim
        batch, steps = ids.shape
        end = start + steps
        x = self.t["wte.weight"][ids] + self.t["wpe.weight"][positions]
        bias = torch.zeros(allowed.shape, dtype=x.dtype).masked_fill_(~allowed, torch.finfo(x.dtype).min)
        bias = bias.unsqueeze(1)  # one mask for every head
        scale = 1.0 / math.sqrt(hd)
        for block, (k_cache, v_cache) in zip(self.blocks, cache):
            a = F.layer_norm(x, (d,), block["ln_1.weight"], block["ln_1.bias"], self.eps)
            qkv = torch.addmm(block["attn.c_attn.bias"], a.view(-1, d), block["attn.c_attn.weight"])
            q, k, v = qkv.view(batch, steps, 3, h, hd).permute(2, 0, 3, 1, 4)
            k_cache[:, :, start:end] = k
            v_cache[:, :, start:end] = v
            scores = torch.matmul(q, k_cache[:, :, :end].transpose(-1, -2)).mul_(scale).add_(bias)
            mixed = torch.matmul(scores.softmax(-1), v_cache[:, :, :end])
            mixed = mixed.transpose(1, 2).reshape(-1, d)
            x = x + torch.addmm(block["attn.c_proj.bias"], mixed, block["attn.c_proj.weight"]).view(batch, steps, d)
            m = F.layer_norm(x, (d,), block["ln_2.weight"], block["ln_2.bias"], self.eps)
            m = F.gelu(torch.addmm(block["mlp.c_fc.bias"], m.view(-1, d), block["mlp.c_fc.weight"]), approximate="tanh")
            x = x + torch.addmm(block["mlp.c_proj.bias"], m, block["mlp.c_proj.weight"]).view(batch, steps, d)
        last = F.layer_norm(x[:, -1], (d,), self.t["ln_f.weight"], self.t["ln_f.bias"], self.eps)
        return last @ self.t["wte.weight"].t()

    @torch.inference_mode()
    def generate(self, prompts, new_tokens):
        """Greedy continuation of every prompt (lists of token ids) by new_tokens tokens, as one
        left-padded batch. Returns (tokens per row, seconds until the first token of every row,
        seconds in all)."""
        began = time.perf_counter()
        batch = len(prompts)
        width = max(len(p) for p in prompts)
        if width + new_tokens > self.seq_len:
            raise ValueError(f"{width} prompt tokens + {new_tokens} new ones exceed seq_len {self.seq_len}")
        total = width + new_tokens
        ids = torch.zeros(batch, width, dtype=torch.long)
        real = torch.ones(batch, total, dtype=torch.bool)  # which cache slots hold a real token
        positions = torch.zeros(batch, width, dtype=torch.long)
        for row, prompt in enumerate(prompts):
            pad = width - len(prompt)
            ids[row, pad:] = torch.tensor(prompt, dtype=torch.long)
            positions[row, pad:] = torch.arange(len(prompt))
            real[row, :pad] = False
        lengths = torch.tensor([len(p) for p in prompts], dtype=torch.long)
        cache = self.new_cache(batch, total)
        causal = torch.ones(width, width, dtype=torch.bool).tril()
        # A pad query sees only itself, so its softmax stays finite; real queries never see pads.
        allowed = (causal & real[:, None, :width]) | torch.eye(width, dtype=torch.bool)
        logits = self.forward(ids, positions, 0, cache, allowed)
        token = logits.argmax(-1)
        first = time.perf_counter() - began
        out = [token]
        for step in range(1, new_tokens):
            slot = width + step - 1
            allowed = real[:, None, :slot + 1]
            logits = self.forward(token[:, None], (lengths + step - 1)[:, None], slot, cache, allowed)
            token = logits.argmax(-1)
            out.append(token)
        rows = torch.stack(out, 1).tolist()
        return rows, first, time.perf_counter() - began


def load(directory, n_head=None):
    """The model of a directory hf_gpt_weights.write_gpt2_dir wrote (n_head from config.json)."""
    from hf_gpt_weights import read_safetensors
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    return KvGpt2(tensors, n_head or config["n_head"], config.get("layer_norm_epsilon", 1e-5))
