"""A small, independent reader of the engine's checkpoints (standard library only).

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
({key: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__"}), then the raw
tensor bytes; data_offsets count from the first byte after the header. Written for the checkpoint
benchmark from the format's description, without the engine's code, so that it checks the engine
rather than repeats it. Nothing in a file is executed: the header is JSON, the rest is bytes.
"""

import json
import math
import os
import struct

ELEMENT_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                 "BOOL": 1}


class FormatError(ValueError):
    pass


def read_header(path):
    """(header length, header dict without __metadata__, metadata dict) of one safetensors file."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise FormatError(f"{path}: shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", raw)
        size = os.fstat(f.fileno()).st_size
        if 8 + length > size:
            raise FormatError(f"{path}: header length {length} runs past the end of the file ({size} bytes)")
        header = json.loads(f.read(length).decode("utf-8"))
    if not isinstance(header, dict):
        raise FormatError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    return length, header, metadata


def check_tiling(path):
    """Checks that every entry's bytes match its dtype and shape and that the entries' data offsets
    tile the data section exactly (sorted, no gap, no overlap, nothing after the last). Returns
    {"tensors": count, "data_bytes": ..., "header_bytes": ..., "file_bytes": ...}."""
    length, header, _ = read_header(path)
    file_bytes = os.stat(path).st_size
    data_bytes = file_bytes - 8 - length
    spans = []
    for key, entry in header.items():
        dtype = entry.get("dtype")
        if dtype not in ELEMENT_BYTES:
            raise FormatError(f"{path}: {key}: unknown dtype {dtype!r}")
        begin, end = entry["data_offsets"]
        expected = math.prod(entry["shape"]) * ELEMENT_BYTES[dtype]
        if end - begin != expected:
            raise FormatError(f"{path}: {key}: data_offsets span {end - begin} bytes, shape {entry['shape']} "
                              f"{dtype} needs {expected}")
        spans.append((begin, end, key))
    spans.sort()
    position = 0
    for begin, end, key in spans:
        if begin != position:
            raise FormatError(f"{path}: {key} starts at {begin}, expected {position} (gap or overlap)")
        position = end
    if position != data_bytes:
        raise FormatError(f"{path}: the tensors end at {position}, the data section holds {data_bytes} bytes")
    return {"tensors": len(spans), "data_bytes": data_bytes, "header_bytes": 8 + length, "file_bytes": file_bytes}


def read_tensor_bytes(path, key):
    """The raw bytes of one entry (and its dtype and shape), reading only those bytes."""
    length, header, _ = read_header(path)
    if key not in header:
        raise FormatError(f"{path}: no tensor {key!r}")
    entry = header[key]
    begin, end = entry["data_offsets"]
    with open(path, "rb") as f:
        f.seek(8 + length + begin)
        data = f.read(end - begin)
    if len(data) != end - begin:
        raise FormatError(f"{path}: {key}: truncated ({len(data)} of {end - begin} bytes)")
    return data, entry["dtype"], entry["shape"]


def read_index(step_dir):
    with open(os.path.join(step_dir, "index.json")) as f:
        return json.load(f)


def _row_major_strides(shape):
    strides, step = [], 1
    for extent in reversed(shape):
        strides.append(step)
        step *= extent
    return list(reversed(strides))


def assemble(step_dir, tensor):
    """The global tensor `tensor` (an entry of index.json's "tensors") as row-major bytes, put together
    from its pieces: each piece holds, of the box [begin, begin + size), the elements
    [flat_begin, flat_begin + numel) in the box's row-major order. Every element must be covered once."""
    esize = ELEMENT_BYTES[tensor["dtype"]]
    shape = tensor["shape"]
    total = math.prod(shape)
    out = bytearray(total * esize)
    runs = []  # (global element offset, count) of every run copied
    global_strides = _row_major_strides(shape)
    for piece in tensor["pieces"]:
        data, dtype, piece_shape = read_tensor_bytes(os.path.join(step_dir, piece["file"]), piece["key"])
        s = piece["slice"]
        if dtype != tensor["dtype"] or math.prod(piece_shape) != s["numel"]:
            raise FormatError(f"{piece['file']}: {piece['key']}: {dtype} {piece_shape} does not match the index "
                              f"({tensor['dtype']}, {s['numel']} elements)")
        box, begin, flat_begin, numel = s["size"], s["begin"], s["flat_begin"], s["numel"]
        if not box:  # a scalar
            out[:] = data
            runs.append((0, numel))
            continue
        row = box[-1]
        box_strides = _row_major_strides(box)
        # Walk the box's rows (runs along the last dimension) that meet [flat_begin, flat_begin + numel).
        first_row, last_row = flat_begin // row, (flat_begin + numel - 1) // row
        for r in range(first_row, last_row + 1):
            lo = max(flat_begin, r * row)
            hi = min(flat_begin + numel, (r + 1) * row)
            flat = r * row  # the row's first element, as a multi-index inside the box
            offset = 0
            for dim in range(len(box)):
                index = flat // box_strides[dim]
                flat -= index * box_strides[dim]
                offset += (begin[dim] + index) * global_strides[dim]
            offset += lo - r * row
            src = (lo - flat_begin) * esize
            out[offset * esize:(offset + hi - lo) * esize] = data[src:src + (hi - lo) * esize]
            runs.append((offset, hi - lo))
    position = 0
    for offset, count in sorted(runs):
        if offset != position:
            raise FormatError(f"{step_dir}: {tensor['name']}: element {min(offset, position)} is "
                              f"{'covered twice' if offset < position else 'in no piece'}")
        position += count
    if position != total:
        raise FormatError(f"{step_dir}: {tensor['name']}: pieces cover {position} of {total} elements")
    return bytes(out)
