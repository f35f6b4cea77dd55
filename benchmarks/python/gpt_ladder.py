"""A ladder of GPT shapes growing by a fixed factor in parameters (torch-free).

Every rung is (n_layer, d_model, n_head) of the engine's `gpt` (tied head, vocab 256 by default)
with 64-wide heads. For each target count the shapes within 3 % of it are candidates and the one
whose width per layer is closest to 80 is taken (GPT-3's family runs from 64 to 128), so the rungs
look like models people train rather than one very deep or very wide stack.

    python3 benchmarks/python/gpt_ladder.py --base-m 50 --growth 1.4 --rungs 12
"""

import argparse
import math
from dataclasses import dataclass

HEAD_DIM = 64
TARGET_WIDTH_PER_LAYER = 80.0
TOLERANCE = 0.03


@dataclass(frozen=True)
class Rung:
    name: str
    n_layer: int
    d_model: int
    n_head: int
    seq_len: int
    vocab_size: int
    parameters: int

    def block_parameters(self):
        return block_parameters(self.d_model)


def block_parameters(d_model):
    """One pre-LN block: two LayerNorms, fused qkv + output projection with biases, 4x MLP."""
    d, ff = d_model, 4 * d_model
    return 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d)


def gpt_parameters(n_layer, d_model, seq_len, vocab_size):
    """ModelConfig::parameterCount() for a tied GPT (the same closed form as gpt_reference.GptSizes)."""
    return vocab_size * d_model + seq_len * d_model + n_layer * block_parameters(d_model) + 2 * d_model


def shape_for(target, seq_len, vocab_size, max_layers=128, max_width=16384):
    best, best_key = None, None
    for d_model in range(HEAD_DIM, max_width + 1, HEAD_DIM):
        # the layer count nearest the target for this width (and its neighbours)
        per_layer = block_parameters(d_model)
        fixed = gpt_parameters(0, d_model, seq_len, vocab_size)
        guess = round((target - fixed) / per_layer)
        for n_layer in (guess - 1, guess, guess + 1):
            if not 1 <= n_layer <= max_layers:
                continue
            count = gpt_parameters(n_layer, d_model, seq_len, vocab_size)
            miss = abs(count / target - 1.0)
            aspect = abs(math.log(d_model / n_layer / TARGET_WIDTH_PER_LAYER))
            key = (0, aspect) if miss <= TOLERANCE else (1, miss)  # in tolerance first, then nearest
            if best_key is None or key < best_key:
                best, best_key = (n_layer, d_model, count), key
    return best


def ladder(base_m=50.0, growth=1.4, rungs=14, seq_len=128, vocab_size=256):
    steps = []
    for index in range(rungs):
        target = base_m * 1e6 * growth ** index
        n_layer, d_model, count = shape_for(target, seq_len, vocab_size)
        name = f"{count / 1e9:.2f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"
        steps.append(Rung(name=name, n_layer=n_layer, d_model=d_model, n_head=d_model // HEAD_DIM, seq_len=seq_len,
                          vocab_size=vocab_size, parameters=count))
    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-m", type=float, default=50.0)
    parser.add_argument("--growth", type=float, default=1.4)
    parser.add_argument("--rungs", type=int, default=14)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args()
    previous = None
    for rung in ladder(args.base_m, args.growth, args.rungs, args.seq_len):
        ratio = f"{rung.parameters / previous:.3f}x" if previous else ""
        print(f"{rung.name:>7}  n_layer {rung.n_layer:3}  d_model {rung.d_model:5}  n_head {rung.n_head:3}  "
              f"{rung.parameters:>13,}  {ratio}")
        previous = rung.parameters


if __name__ == "__main__":
    main()
