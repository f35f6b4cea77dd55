"""The engine's GPT (backend/model/gpt.cpp) written in plain PyTorch, for side-by-side benchmarks.

Same architecture, parameter names and shapes: learned token and position embeddings, pre-LayerNorm
blocks with causal multi-head attention (fused qkv Linear laid out [q | k | v], output projection,
both with bias), a tanh-GELU MLP of width 4*d_model, a final LayerNorm and an LM head tied to the
token embedding; no dropout. Attention is written out (matmul, causal mask, softmax, matmul) as the
engine does, not F.scaled_dot_product_attention, so both sides do the same arithmetic.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class GptSizes:
    n_layer: int
    n_head: int
    d_model: int
    seq_len: int
    vocab_size: int = 256
    norm_eps: float = 1e-5
    init_std: float = 0.02

    @property
    def d_ff(self) -> int:
        return 4 * self.d_model

    def parameter_count(self) -> int:
        """Closed form, mirroring ModelConfig::parameterCount() for a tied GPT."""
        d, ff = self.d_model, self.d_ff
        layer_norms = 2 * (2 * d)
        attention = (d * 3 * d + 3 * d) + (d * d + d)
        mlp = (d * ff + ff) + (ff * d + d)
        block = layer_norms + attention + mlp
        return self.vocab_size * d + self.seq_len * d + self.n_layer * block + 2 * d


class CausalSelfAttention(nn.Module):
    def __init__(self, sizes: GptSizes):
        super().__init__()
        self.head_dim = sizes.d_model // sizes.n_head
        self.qkv = nn.Linear(sizes.d_model, 3 * sizes.d_model, bias=True)
        self.proj = nn.Linear(sizes.d_model, sizes.d_model, bias=True)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # [B, T, heads * D] -> [B, heads, T, D]
        return x.view(x.size(0), x.size(1), -1, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split_heads(part) for part in self.qkv(x).chunk(3, dim=-1))
        length = q.size(2)
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        # Built per call, exactly as the engine's causalAttention does.
        future = torch.ones(length, length, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
        attended = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.proj(attended.transpose(1, 2).reshape(x.size(0), x.size(1), -1))


class Mlp(nn.Module):
    def __init__(self, sizes: GptSizes):
        super().__init__()
        self.fc = nn.Linear(sizes.d_model, sizes.d_ff, bias=True)
        self.proj = nn.Linear(sizes.d_ff, sizes.d_model, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, sizes: GptSizes):
        super().__init__()
        self.ln1 = nn.LayerNorm(sizes.d_model, eps=sizes.norm_eps)
        self.attn = CausalSelfAttention(sizes)
        self.ln2 = nn.LayerNorm(sizes.d_model, eps=sizes.norm_eps)
        self.mlp = Mlp(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x + self.attn(self.ln1(x))
        return h + self.mlp(self.ln2(h))


class Gpt(nn.Module):
    def __init__(self, sizes: GptSizes):
        super().__init__()
        self.sizes = sizes
        self.tok_emb = nn.Embedding(sizes.vocab_size, sizes.d_model)
        self.pos_emb = nn.Embedding(sizes.seq_len, sizes.d_model)
        self.blocks = nn.ModuleList(Block(sizes) for _ in range(sizes.n_layer))
        self.ln_f = nn.LayerNorm(sizes.d_model, eps=sizes.norm_eps)
        self._initialize()

    def _initialize(self) -> None:
        """GPT-2 init as the engine's GptModel::initRule: N(0, 0.02), residual projections scaled by
        1/sqrt(2 n_layer), biases zero, norms one. (Values differ from the engine's counter RNG; only
        the distribution matters for a speed comparison.)"""
        residual_std = self.sizes.init_std / math.sqrt(2.0 * self.sizes.n_layer)
        with torch.no_grad():
            for name, parameter in self.named_parameters():
                if name.endswith(".bias"):
                    parameter.zero_()
                elif ".ln" in name or name.startswith("ln_f"):
                    parameter.fill_(1.0)
                elif name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                    parameter.normal_(0.0, residual_std)
                else:
                    parameter.normal_(0.0, self.sizes.init_std)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.size(1), dtype=tokens.dtype)
        hidden = self.tok_emb(tokens) + self.pos_emb(positions)
        for block in self.blocks:
            hidden = block(hidden)
        return F.linear(self.ln_f(hidden), self.tok_emb.weight)  # tied LM head

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self(tokens)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def decay_groups(model: nn.Module, weight_decay: float):
    """AdamW groups: weight decay on matrices (Linear weights, embeddings), none on biases and norms."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
