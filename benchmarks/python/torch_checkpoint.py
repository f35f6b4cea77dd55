#!/usr/bin/python3
"""The PyTorch side of benchmarks/checkpoint_vs_torch.py: torch.save / torch.load of one model's full
training state, on one process (rank 0), as PyTorch users save.

The state is the engine checkpoint's own: every tensor of its index.json, put together at its global
shape and dtype from the rank files by benchmarks/python/safetensors_reader.py (not timed), so both
sides hold exactly the same bytes. Then, timed with time.perf_counter:

  save: open, torch.save(state, file), flush, os.fsync (the engine fsyncs its files too), close;
  load: torch.load(path) into fresh tensors.

Afterwards (not timed) every loaded tensor is compared with the saved one, bit for bit.

    /usr/bin/python3 benchmarks/python/torch_checkpoint.py --checkpoint RUN/checkpoints/step-0000001 \
        --out /tmp/state.pt --report report.json
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_reader  # noqa: E402

TORCH_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64,
                "I64": torch.int64, "I32": torch.int32}


def state_from_checkpoint(step_dir):
    """{global name: tensor} of every tensor the engine checkpoint holds."""
    index = safetensors_reader.read_index(step_dir)
    state = {}
    for tensor in index["tensors"]:
        data = bytearray(safetensors_reader.assemble(step_dir, tensor))
        flat = torch.frombuffer(data, dtype=TORCH_DTYPES[tensor["dtype"]]) if data else \
            torch.empty(0, dtype=TORCH_DTYPES[tensor["dtype"]])
        state[tensor["name"]] = flat.reshape(tensor["shape"]).clone()
    return state


def save(state, path):
    started = time.perf_counter()
    with open(path, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - started


def load(path):
    started = time.perf_counter()
    state = torch.load(path)
    return time.perf_counter() - started, state


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="an engine checkpoint step directory")
    parser.add_argument("--out", required=True, help="the file torch.save writes (removed afterwards)")
    parser.add_argument("--report", required=True, help="JSON with the timings")
    args = parser.parse_args()
    torch.set_num_threads(1)
    state = state_from_checkpoint(args.checkpoint)
    state_bytes = sum(t.numel() * t.element_size() for t in state.values())
    save_s = save(state, args.out)
    file_bytes = os.stat(args.out).st_size
    load_s, loaded = load(args.out)
    mismatched = [name for name, t in state.items()
                  if name not in loaded or loaded[name].dtype != t.dtype or not torch.equal(loaded[name], t)]
    os.remove(args.out)
    report = {"save_s": save_s, "load_s": load_s, "file_bytes": file_bytes, "state_bytes": state_bytes,
              "tensors": len(state), "mismatched": mismatched, "torch": torch.__version__}
    with open(args.report, "w") as f:
        json.dump(report, f)
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
