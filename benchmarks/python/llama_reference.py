"""A LLaMA-style decoder in plain PyTorch, as backend/model/llama.cpp builds it (RMSNorm, rotary
positions in the rotate_half convention, grouped-query attention, SwiGLU MLP, no biases, untied
head), with attention written as PyTorch users write it: q k^T / sqrt(d), masked_fill of the
future, softmax, times v (the [T, T] scores materialised). For the long-context benchmark."""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class LlamaSizes:
    n_layer: int
    n_head: int
    n_kv_head: int
    d_model: int
    d_ff: int
    seq_len: int
    vocab_size: int = 256
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5


class RmsNorm(nn.Module):
    def __init__(self, width, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


class Block(nn.Module):
    def __init__(self, s: LlamaSizes):
        super().__init__()
        self.s = s
        head_dim = s.d_model // s.n_head
        self.attn_norm = RmsNorm(s.d_model, s.norm_eps)
        self.q = nn.Linear(s.d_model, s.n_head * head_dim, bias=False)
        self.k = nn.Linear(s.d_model, s.n_kv_head * head_dim, bias=False)
        self.v = nn.Linear(s.d_model, s.n_kv_head * head_dim, bias=False)
        self.o = nn.Linear(s.n_head * head_dim, s.d_model, bias=False)
        self.mlp_norm = RmsNorm(s.d_model, s.norm_eps)
        self.gate = nn.Linear(s.d_model, s.d_ff, bias=False)
        self.up = nn.Linear(s.d_model, s.d_ff, bias=False)
        self.down = nn.Linear(s.d_ff, s.d_model, bias=False)

    def forward(self, x, cos, sin, future):
        B, T, _ = x.shape
        head_dim = self.s.d_model // self.s.n_head
        h = self.attn_norm(x)
        q = rotary(self.q(h).view(B, T, -1, head_dim).transpose(1, 2), cos, sin)
        k = rotary(self.k(h).view(B, T, -1, head_dim).transpose(1, 2), cos, sin)
        v = self.v(h).view(B, T, -1, head_dim).transpose(1, 2)
        groups = self.s.n_head // self.s.n_kv_head
        k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        attended = torch.softmax(scores.masked_fill(future, float("-inf")), -1) @ v
        x = x + self.o(attended.transpose(1, 2).reshape(B, T, -1))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, s: LlamaSizes):
        super().__init__()
        self.s = s
        self.tok_emb = nn.Embedding(s.vocab_size, s.d_model)
        self.blocks = nn.ModuleList(Block(s) for _ in range(s.n_layer))
        self.norm_f = RmsNorm(s.d_model, s.norm_eps)
        self.lm_head = nn.Linear(s.d_model, s.vocab_size, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def loss(self, tokens, targets):
        T = tokens.shape[1]
        head_dim = self.s.d_model // self.s.n_head
        inverse = 1.0 / self.s.rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(T, dtype=torch.float32), inverse)
        cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = self.tok_emb(tokens)
        for block in self.blocks:
            x = block(x, cos, sin, future)
        logits = self.lm_head(self.norm_f(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
