#!/usr/bin/env python3
"""Writes a Hugging Face model directory shaped like Mistral-7B-v0.1, for the Studio's screenshot.

Usage: hf_shaped_dir.py OUT_DIR

config.json has Mistral-7B-v0.1's sizes; the weights are two BF16 safetensors shards with
model.safetensors.index.json, under Hugging Face's LlamaForCausalLM / MistralForCausalLM names.
Every weight is zero and the files are sparse (their 14.5 GB take no disk): the model picker reads
only the headers, so this is a directory to look at, not one to train. Python stdlib only.
"""
import json
import os
import struct
import sys

CONFIG = {
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_act": "silu",
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
    "tie_word_embeddings": False, "vocab_size": 32000, "torch_dtype": "bfloat16",
}


def tensors():
    c = CONFIG
    d, ff, vocab = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    kv = c["num_key_value_heads"] * d // c["num_attention_heads"]
    out = [("model.embed_tokens.weight", [vocab, d])]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", [d]), (p + "self_attn.q_proj.weight", [d, d]),
                (p + "self_attn.k_proj.weight", [kv, d]), (p + "self_attn.v_proj.weight", [kv, d]),
                (p + "self_attn.o_proj.weight", [d, d]), (p + "post_attention_layernorm.weight", [d]),
                (p + "mlp.gate_proj.weight", [ff, d]), (p + "mlp.up_proj.weight", [ff, d]),
                (p + "mlp.down_proj.weight", [d, ff])]
    out += [("model.norm.weight", [d]), ("lm_head.weight", [vocab, d])]
    return out


def write_shard(path, entries):
    """A safetensors file of zero BF16 tensors: the header, then a hole as long as the data."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in entries:
        size = 2
        for extent in shape:
            size *= extent
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        out.truncate(8 + len(text) + offset)
    return offset


def main(out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    everything = tensors()
    half = 1 + 9 * 16  # the embedding and layers 0-15; the rest in the second shard
    shards = {"model-00001-of-00002.safetensors": everything[:half],
              "model-00002-of-00002.safetensors": everything[half:]}
    weight_map, total = {}, 0
    for name, entries in shards.items():
        total += write_shard(os.path.join(out, name), entries)
        weight_map.update({tensor: name for tensor, _ in entries})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    print(f"wrote {out}: {len(everything)} tensors, {total} bytes of BF16 zeros in 2 sparse shards")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
