"""Reference logits for tests/backend/model_reference_test.cpp.

Run with /usr/bin/python3 (Debian's PyTorch). Written independently of the C++ models, from the
GPT-2 and LLaMA papers / Hugging Face conventions, in float64. Every parameter is filled with a
formula instead of random numbers, so both sides set the same weights without sharing a generator:
  parameter number p (in the order listed below), element i (row-major):
    norm weights: 1 + 0.1 * sin(0.731 * i + 1.3 * p)
    everything else: 0.3 * sin(0.731 * i + 1.3 * p)
"""
import math
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
TOKENS = torch.tensor([[1, 5, 2, 9, 3], [7, 0, 4, 4, 10]])
TARGETS = torch.tensor([[5, 2, 9, 3, 8], [0, 4, 4, 10, 6]])


def fill(shape, p, is_norm):
    i = torch.arange(math.prod(shape), dtype=torch.float64)
    values = torch.sin(0.731 * i + 1.3 * p)
    return (1 + 0.1 * values if is_norm else 0.3 * values).reshape(shape)


def make_params(spec):
    return {name: fill(shape, p, is_norm) for p, (name, shape, is_norm) in enumerate(spec)}


def attention(q, k, v):  # [B, H, T, D]
    t = q.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), -1) @ v


def gpt():
    V, d, H, L, T, eps = 11, 8, 2, 2, 6, 1e-5
    spec = [("tok_emb.weight", (V, d), False), ("pos_emb.weight", (T, d), False)]
    for b in range(L):
        pre = f"blocks.{b}."
        spec += [(pre + "ln1.weight", (d,), True), (pre + "ln1.bias", (d,), False),
                 (pre + "attn.qkv.weight", (3 * d, d), False), (pre + "attn.qkv.bias", (3 * d,), False),
                 (pre + "attn.proj.weight", (d, d), False), (pre + "attn.proj.bias", (d,), False),
                 (pre + "ln2.weight", (d,), True), (pre + "ln2.bias", (d,), False),
                 (pre + "mlp.fc.weight", (4 * d, d), False), (pre + "mlp.fc.bias", (4 * d,), False),
                 (pre + "mlp.proj.weight", (d, 4 * d), False), (pre + "mlp.proj.bias", (d,), False)]
    spec += [("ln_f.weight", (d,), True), ("ln_f.bias", (d,), False)]
    P = make_params(spec)
    B, t = TOKENS.shape
    x = P["tok_emb.weight"][TOKENS] + P["pos_emb.weight"][:t]
    for b in range(L):
        pre = f"blocks.{b}."
        h = F.layer_norm(x, (d,), P[pre + "ln1.weight"], P[pre + "ln1.bias"], eps)
        qkv = h @ P[pre + "attn.qkv.weight"].T + P[pre + "attn.qkv.bias"]
        q, k, v = [z.reshape(B, t, H, d // H).transpose(1, 2) for z in qkv.split(d, -1)]
        y = attention(q, k, v).transpose(1, 2).reshape(B, t, d)
        x = x + y @ P[pre + "attn.proj.weight"].T + P[pre + "attn.proj.bias"]
        h = F.layer_norm(x, (d,), P[pre + "ln2.weight"], P[pre + "ln2.bias"], eps)
        h = F.gelu(h @ P[pre + "mlp.fc.weight"].T + P[pre + "mlp.fc.bias"], approximate="tanh")
        x = x + h @ P[pre + "mlp.proj.weight"].T + P[pre + "mlp.proj.bias"]
    x = F.layer_norm(x, (d,), P["ln_f.weight"], P["ln_f.bias"], eps)
    return x @ P["tok_emb.weight"].T


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def llama():
    V, d, H, KV, L, T, ff, eps, theta = 11, 8, 4, 2, 2, 6, 12, 1e-6, 10000.0
    D = d // H
    spec = [("tok_emb.weight", (V, d), False)]
    for b in range(L):
        pre = f"blocks.{b}."
        spec += [(pre + "attn_norm.weight", (d,), True), (pre + "attn.q.weight", (H * D, d), False),
                 (pre + "attn.k.weight", (KV * D, d), False), (pre + "attn.v.weight", (KV * D, d), False),
                 (pre + "attn.o.weight", (d, H * D), False), (pre + "mlp_norm.weight", (d,), True),
                 (pre + "mlp.gate.weight", (ff, d), False), (pre + "mlp.up.weight", (ff, d), False),
                 (pre + "mlp.down.weight", (d, ff), False)]
    spec += [("norm_f.weight", (d,), True), ("lm_head.weight", (V, d), False)]
    P = make_params(spec)

    def rms(x, w):
        return w * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)

    B, t = TOKENS.shape
    inv_freq = 1.0 / theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D)
    angles = torch.outer(torch.arange(t, dtype=torch.float64), inv_freq)
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    x = P["tok_emb.weight"][TOKENS]
    for b in range(L):
        pre = f"blocks.{b}."
        h = rms(x, P[pre + "attn_norm.weight"])
        q = (h @ P[pre + "attn.q.weight"].T).reshape(B, t, H, D).transpose(1, 2)
        k = (h @ P[pre + "attn.k.weight"].T).reshape(B, t, KV, D).transpose(1, 2)
        v = (h @ P[pre + "attn.v.weight"].T).reshape(B, t, KV, D).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        y = attention(q, k, v).transpose(1, 2).reshape(B, t, d)
        x = x + y @ P[pre + "attn.o.weight"].T
        h = rms(x, P[pre + "mlp_norm.weight"])
        x = x + (F.silu(h @ P[pre + "mlp.gate.weight"].T) * (h @ P[pre + "mlp.up.weight"].T)) @ P[pre + "mlp.down.weight"].T
    return rms(x, P["norm_f.weight"]) @ P["lm_head.weight"].T


for name, logits in (("gpt", gpt()), ("llama", llama())):
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), TARGETS.reshape(-1))
    values = ", ".join(f"{v:.8f}" for v in logits[:, :, :4].reshape(-1).tolist())
    print(f"// {name}: logits[:, :, 0:4]\n{{{values}}}\n// loss {loss.item():.8f}")
