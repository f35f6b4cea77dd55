#!/usr/bin/env python3
"""An independent reader of the token cache format (docs/data.md#tokenized-datasets), written from
the documented layout alone: checks the header and prints the ids as JSON.

usage: read_token_cache.py FILE -> {"id_bytes": 2|4, "vocab": N, "key": "<16 hex>", "ids": [...]}"""
import json
import struct
import sys


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"BHMTOKEN":
        sys.exit("wrong magic")
    version, id_bytes, count, key = struct.unpack_from("<IIQQ", data, 8)
    checksum = data[32:56].decode("ascii")
    (vocab,) = struct.unpack_from("<Q", data, 56)
    if version != 1 or id_bytes not in (2, 4) or not checksum.startswith("xxh3-64:"):
        sys.exit("bad header")
    if len(data) != 64 + count * id_bytes:
        sys.exit("size %d does not match %d ids of %d bytes" % (len(data), count, id_bytes))
    ids = list(struct.unpack_from("<%d%s" % (count, "H" if id_bytes == 2 else "I"), data, 64))
    print(json.dumps({"id_bytes": id_bytes, "vocab": vocab, "key": "%016x" % key, "ids": ids}))


if __name__ == "__main__":
    main(sys.argv[1])
