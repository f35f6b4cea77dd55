"""PyTorch DistributedDataParallel baseline for benchmarks/dp_vs_ddp.py (run under torchrun).

Trains gpt_reference.Gpt with the engine's recipe (backend/train/trainer.cpp): the global batch split
evenly over the ranks, AdamW (betas 0.9/0.95, eps 1e-8, weight decay on matrices only), linear warmup
then cosine decay, clipping by the global gradient norm, one math thread per rank, gloo.

A step is timed as the engine times it: from before the batch is built until after the optimizer
step (the loss is read with .item() inside the step, as the engine does); the loss average across
ranks used for logging is bookkeeping outside the timed region, as in the engine.

Rank 0 writes a JSON report (--report): per-step seconds after the warmup steps, every step's
global-batch loss, peak RSS of every rank (getrusage), parameter count, final loss.

    torchrun --nproc_per_node 2 benchmarks/python/ddp_train.py --n-layer 4 --n-head 8 --d-model 256 \
        --seq-len 128 --global-batch 16 --steps 30 --warmup 5 --report /tmp/ddp.json
    python3 benchmarks/python/ddp_train.py --check-params --n-layer 4 --n-head 8 --d-model 256 --seq-len 128
"""

import argparse
import glob
import json
import math
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt_reference import Gpt, GptSizes, decay_groups  # noqa: E402

CORPUS_GLOB = "/usr/share/common-licenses/*"


def build_parser(description=__doc__):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-layer", type=int, required=True)
    parser.add_argument("--n-head", type=int, required=True)
    parser.add_argument("--d-model", type=int, required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    parser.add_argument("--vocab-size", type=int, default=256)
    parser.add_argument("--global-batch", type=int, default=16, help="sequences per step over all ranks")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="first steps left out of the timings")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--lr-warmup-steps", type=int, default=0)
    parser.add_argument("--min-lr-ratio", type=float, default=0.1)
    parser.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket_cap_mb (PyTorch default 25)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zero", action="store_true",
                        help="shard AdamW's states over the ranks with torch.distributed.optim.ZeroRedundancyOptimizer")
    parser.add_argument("--report", help="JSON file rank 0 writes")
    parser.add_argument("--check-params", action="store_true",
                        help="print the parameter count (built model and closed form) and exit; no torchrun needed")
    parser.add_argument("--bf16", action="store_true",
                        help="forward and loss under torch.autocast('cpu', dtype=torch.bfloat16), as the engine's precision bf16")
    parser.add_argument("--plain", action="store_true",
                        help="the model without the DDP wrapper (for one process: plain PyTorch training)")
    parser.add_argument("--progress", action="store_true",
                        help="rank 0 prints every step's loss and seconds as it finishes (flushed)")
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def sizes_from(args) -> GptSizes:
    return GptSizes(n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model, seq_len=args.seq_len,
                    vocab_size=args.vocab_size)


def check_params(args) -> int:
    torch.set_num_threads(1)
    sizes = sizes_from(args)
    built = sum(p.numel() for p in Gpt(sizes).parameters())
    formula = sizes.parameter_count()
    print(json.dumps({"parameters": built, "formula": formula}))
    return 0 if built == formula else 1


def load_corpus() -> torch.Tensor:
    """Bytes of the license texts every Debian machine has; content does not matter for speed."""
    data = b"".join(open(path, "rb").read() for path in sorted(glob.glob(CORPUS_GLOB)) if os.path.isfile(path))
    if len(data) < 1 << 16:  # fall back to random bytes if the folder is missing
        data = bytes(torch.randint(0, 256, (1 << 20,), generator=torch.Generator().manual_seed(0)).tolist())
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(torch.long)


def local_batch(corpus: torch.Tensor, step: int, first_row: int, rows: int, seq_len: int, seed: int):
    """Rows [first_row, first_row + rows) of the global batch of `step`: random windows of seq_len + 1."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    starts = torch.randint(0, corpus.numel() - seq_len - 1, (first_row + rows,), generator=generator)[first_row:]
    windows = torch.stack([corpus[s:s + seq_len + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def learning_rate(args, step: int) -> float:
    """backend/train/lr_schedule.cpp: linear warmup, then cosine to lr * min_lr_ratio at the last step."""
    if args.lr_warmup_steps > 0 and step < args.lr_warmup_steps:
        return args.lr * (step + 1) / args.lr_warmup_steps
    decay_steps = max(1, args.steps - args.lr_warmup_steps - 1)
    progress = min(max((step - args.lr_warmup_steps) / decay_steps, 0.0), 1.0)
    floor = args.lr * args.min_lr_ratio
    return floor + (args.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def start_group(args):
    """One math thread, the gloo group, the checks; returns (rank, world, rows per rank)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.global_batch % world != 0:
        raise SystemExit(f"--global-batch {args.global_batch} is not divisible by the world size {world}")
    if args.steps <= args.warmup:
        raise SystemExit(f"--steps {args.steps} must exceed --warmup {args.warmup}")
    return rank, world, args.global_batch // world


def run_steps(args, module, optimizer, clip, rank, world, rows):
    """The timed training loop; clip() clips the gradients by their global norm. Returns the seconds
    of every step and the global-batch loss of every step."""
    import torch.distributed as dist

    corpus = load_corpus()
    step_seconds, losses = [], []
    for step in range(args.steps):
        start = time.perf_counter()
        inputs, targets = local_batch(corpus, step, rank * rows, rows, args.seq_len, args.seed)
        optimizer.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = module(inputs)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        loss.backward()
        local_loss = loss.item()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(args, step)
        if args.grad_clip > 0:
            clip(args.grad_clip)
        optimizer.step()
        step_seconds.append(time.perf_counter() - start)

        # Bookkeeping, outside the timed region as in the engine: the global-batch loss for the log.
        mean_loss = torch.tensor([local_loss], dtype=torch.float64)
        dist.all_reduce(mean_loss)
        losses.append(mean_loss.item() / world)
        if args.progress and rank == 0:
            print(f"step {step + 1} loss {losses[-1]:.6f} seconds {step_seconds[-1]:.3f}", flush=True)
    return step_seconds, losses


def finish(args, label, optimizer_name, parameters, step_seconds, losses, rank, world, extra=None):
    """Gathers every rank's peak RSS; rank 0 writes the report (--report) and prints a summary line.
    Then the process ends here (exit_now), while the caller's model wrappers are still alive."""
    import torch.distributed as dist

    rss = torch.tensor([peak_rss_bytes()], dtype=torch.float64)
    every_rss = [torch.zeros_like(rss) for _ in range(world)]
    dist.all_gather(every_rss, rss)
    if rank == 0:
        timed = step_seconds[args.warmup:]
        mean = sum(timed) / len(timed)
        report = {
            "world_size": world,
            "optimizer": optimizer_name,
            "parameters": parameters,
            "steps": args.steps,
            "warmup": args.warmup,
            "global_batch": args.global_batch,
            "seq_len": args.seq_len,
            "step_seconds": timed,
            "mean_step_s": mean,
            "median_step_s": sorted(timed)[len(timed) // 2],
            "tokens_per_s": args.global_batch * args.seq_len / mean,
            "peak_rss_bytes_per_rank": [int(t.item()) for t in every_rss],
            "final_loss": losses[-1],
            "losses": losses,
            "torch_version": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        report.update(extra or {})
        if args.report:
            with open(args.report, "w") as out:
                out.write(json.dumps(report, indent=1))
        print(f"{label}: {mean * 1e3:.1f} ms/step, {report['tokens_per_s']:.0f} tokens/s, "
              f"final loss {losses[-1]:.4f}, peak RSS {max(report['peak_rss_bytes_per_rank']) / 2**20:.0f} MiB")
    exit_now(0)


def train(args) -> int:
    from torch.nn.parallel import DistributedDataParallel

    rank, world, rows = start_group(args)
    torch.manual_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    model = Gpt(sizes_from(args))
    parameters = sum(p.numel() for p in model.parameters())
    if args.plain and world > 1:
        raise SystemExit("--plain trains one process; run it with --nproc_per_node 1")
    ddp = model if args.plain else DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    if args.zero:
        from torch.distributed.optim import ZeroRedundancyOptimizer
        # DDP still all-reduces whole gradients; each rank updates its share of the parameters and
        # broadcasts them (PyTorch's ZeRO-1).
        optimizer = ZeroRedundancyOptimizer(decay_groups(model, args.weight_decay), optimizer_class=torch.optim.AdamW,
                                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    else:
        optimizer = torch.optim.AdamW(decay_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    def clip(max_norm):
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)

    step_seconds, losses = run_steps(args, ddp, optimizer, clip, rank, world, rows)
    finish(args, "plain" if args.plain else ("ddp+zero" if args.zero else "ddp"), "ZeroRedundancyOptimizer(AdamW)" if args.zero else "AdamW",
           parameters, step_seconds, losses, rank, world)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.check_params:
        return check_params(args)
    return train(args)


def exit_now(status):
    """Leaves without running destructors or destroy_process_group(): in PyTorch 1.13 a
    DistributedDataParallel's Reducer freed after destroy_process_group() sometimes deadlocks in
    ~ProcessGroupGloo (seen with gdb: rank 0 blocked on a mutex there after writing its report, in
    2 of ~20 short runs), which would hang the job forever. Nothing is left to do by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    exit_now(main())
