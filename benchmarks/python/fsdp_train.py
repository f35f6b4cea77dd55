"""PyTorch FullyShardedDataParallel with CPUOffload(offload_params=True) on gloo, for
benchmarks/largest_model.py (run under torchrun): the same GPT, batch and timed loop as ddp_train.py.

Each block is its own FSDP unit (transformer_auto_wrap_policy on gpt_reference.Block) and the root
holds the embeddings and final norm; parameters, gradients and AdamW states are sharded over the
ranks and the parameter shards live in host memory between uses. FSDP in PyTorch 1.13 flattens each
unit's parameters into one, so AdamW gets a single parameter group (weight decay on every
parameter, biases and norms included), unlike ddp_train.py; that changes the numbers, not the
memory or the speed.

Whether it runs at all is part of the result: the script goes through three stages (import, wrap,
train) and, when one raises, rank 0 writes the report {"ran": false, "stage", "error", "where",
"torch_distributed_frame"} and every rank exits with status 3. --import-shim works around the first known failure (Python 3.11
rejects a dataclass default in torch/distributed/_shard/sharded_tensor/metadata.py, which
torch.distributed.fsdp imports) to see what fails next; a report made with it says so.

    torchrun --nproc_per_node 2 --redirects 0:1 --tee 0:1 benchmarks/python/fsdp_train.py \
        --n-layer 2 --n-head 4 --d-model 128 --seq-len 64 --global-batch 2 --steps 3 --warmup 1 --report /tmp/f.json
"""

import copy
import dataclasses
import functools
import json
import os
import sys
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddp_train  # noqa: E402
from gpt_reference import Block, Gpt  # noqa: E402

DOES_NOT_RUN = 3


class StageFailed(Exception):
    def __init__(self, stage, error):
        super().__init__(stage)
        self.stage = stage
        self.error = error


def frame_text(frame):
    return f"{frame.filename.replace('/usr/lib/python3/dist-packages/', '')}:{frame.lineno} in {frame.name}"


def describe(error):
    """The exception as one line, the innermost frame that raised it, and the innermost frame inside
    torch.distributed (the FSDP code that led there)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = frame_text(frames[-1]) if frames else ""
    inside = [f for f in frames if "torch/distributed/" in f.filename]
    return f"{type(error).__name__}: {error}", where, frame_text(inside[-1]) if inside else ""


def import_fsdp(shim):
    """torch.distributed.fsdp's FullyShardedDataParallel, CPUOffload and transformer_auto_wrap_policy.

    With shim, dataclass fields whose default is an unhashable instance get a default_factory making a
    copy instead (what Python 3.11 demands and later PyTorch releases do), only while importing."""
    original = dataclasses._get_field

    def lenient(cls, name, annotation, *rest):
        default = cls.__dict__.get(name, dataclasses.MISSING)
        if (isinstance(default, dataclasses.Field) and default.default is not dataclasses.MISSING
                and type(default.default).__hash__ is None):
            value = default.default
            default.default = dataclasses.MISSING
            default.default_factory = functools.partial(copy.copy, value)
        return original(cls, name, annotation, *rest)

    if shim:
        dataclasses._get_field = lenient
    try:
        from torch.distributed.fsdp import CPUOffload, FullyShardedDataParallel
        from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy
    finally:
        dataclasses._get_field = original
    return FullyShardedDataParallel, CPUOffload, transformer_auto_wrap_policy


def stage(name, action):
    try:
        return action()
    except Exception as error:  # any failure here is the finding, reported as such
        raise StageFailed(name, error) from error


def report_failure(args, failure):
    message, where, from_torch = describe(failure.error)
    if int(os.environ.get("RANK", "0")) == 0:
        report = {"ran": False, "stage": failure.stage, "error": message, "where": where,
                  "torch_distributed_frame": from_torch,
                  "import_shim": args.import_shim, "torch_version": torch.__version__,
                  "python": sys.version.split()[0], "cuda_available": torch.cuda.is_available()}
        if args.report:
            with open(args.report, "w") as out:
                json.dump(report, out, indent=1)
        print(f"fsdp does not run: stage {failure.stage}: {message} ({where}; from {from_torch})", flush=True)
    return DOES_NOT_RUN


def train(args):
    fsdp_class, cpu_offload, wrap_policy = stage("import", lambda: import_fsdp(args.import_shim))
    rank, world, rows = ddp_train.start_group(args)
    torch.manual_seed(args.seed)
    model = Gpt(ddp_train.sizes_from(args))
    parameters = sum(p.numel() for p in model.parameters())

    def wrap():
        policy = functools.partial(wrap_policy, transformer_layer_cls={Block})
        return fsdp_class(model, auto_wrap_policy=policy, cpu_offload=cpu_offload(offload_params=True))

    sharded = stage("wrap", wrap)

    def steps():
        optimizer = torch.optim.AdamW(sharded.parameters(), lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                                      weight_decay=args.weight_decay)
        return ddp_train.run_steps(args, sharded, optimizer, sharded.clip_grad_norm_, rank, world, rows)

    step_seconds, losses = stage("train", steps)
    ddp_train.finish(args, "fsdp", "AdamW (one group)", parameters, step_seconds, losses, rank, world,
                     {"ran": True, "import_shim": args.import_shim})
    return 0


def main(argv=None):
    parser = ddp_train.build_parser(__doc__)
    parser.add_argument("--import-shim", action="store_true",
                        help="work around the Python 3.11 dataclass failure when importing torch.distributed.fsdp")
    args = parser.parse_args(argv)
    try:
        return train(args)
    except StageFailed as failure:
        return report_failure(args, failure)


if __name__ == "__main__":
    ddp_train.exit_now(main())  # not sys.exit: see ddp_train.exit_now
