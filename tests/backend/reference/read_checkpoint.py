#!/usr/bin/python3
"""An independent reader of Behemoth checkpoints, written from docs/checkpoints.md alone (numpy, no
engine code): reassembles every F32 tensor of a step directory from its pieces, checks that the
pieces cover every element exactly once, and prints one JSON object mapping each tensor's name to
[sum, sum of index * value] over its flattened global elements (float64).

    read_checkpoint.py STEP_DIR
"""

import json
import os
import struct
import sys

import numpy as np


def read_piece(step_dir, file_name, key, headers):
    path = os.path.join(step_dir, file_name)
    if path not in headers:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            headers[path] = (8 + length, json.loads(f.read(length)))
    data_start, header = headers[path]
    entry = header[key]
    begin, end = entry["data_offsets"]
    with open(path, "rb") as f:
        f.seek(data_start + begin)
        raw = f.read(end - begin)
    if entry["dtype"] != "F32":
        raise SystemExit(f"{path}: {key} is {entry['dtype']}; this reader handles F32 only")
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def assemble(step_dir, tensor, headers):
    shape = tuple(tensor["shape"])
    values = np.full(int(np.prod(shape)), np.nan)
    for piece in tensor["pieces"]:
        data = read_piece(step_dir, piece["file"], piece["key"], headers)
        s = piece["slice"]
        in_box = np.arange(s["flat_begin"], s["flat_begin"] + s["numel"])
        coordinates = np.unravel_index(in_box, tuple(s["size"]))
        global_coordinates = tuple(c + b for c, b in zip(coordinates, s["begin"]))
        flat = np.ravel_multi_index(global_coordinates, shape)
        if not np.all(np.isnan(values[flat])):
            raise SystemExit(f"{tensor['name']}: pieces overlap")
        values[flat] = data
    if np.any(np.isnan(values)):
        raise SystemExit(f"{tensor['name']}: {int(np.isnan(values).sum())} elements in no piece")
    return values


def main():
    step_dir = sys.argv[1]
    with open(os.path.join(step_dir, "index.json")) as f:
        index = json.load(f)
    headers = {}
    result = {}
    for tensor in index["tensors"]:
        values = assemble(step_dir, tensor, headers)
        result[tensor["name"]] = [float(values.sum()), float((values * np.arange(values.size)).sum())]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
