"""Small random Hugging Face model directories and their logits, for tests/backend/hf_import_test.cpp.

Run with /usr/bin/python3 (Debian's PyTorch; no transformers, no safetensors package, no engine
code). Usage: hf_reference.py OUT_DIR. Writes, each with config.json, weights and logits.json
(the float64 logits of TOKENS from this file's own forward, written from the Hugging Face model
definitions of GPT2LMHeadModel and LlamaForCausalLM):

  gpt2/             GPT-2, fp32, one model.safetensors, names without a prefix, Conv1D weights
                    stored [in, out], plus the causal-mask buffers old files carry
  gpt2-prefixed/    the same weights named "transformer.h.0...." and stored in bf16
  llama/            LLaMA with grouped-query attention (4 heads, 2 key/value heads), untied head,
                    sharded over two files with model.safetensors.index.json

hf_reference.py --logits DIR reads a directory the engine exported (its own safetensors reader,
one file or shards listed by model.safetensors.index.json) and writes DIR/reference-logits.json,
the float64 logits of TOKENS from the same forward.
"""
import json
import math
import os
import struct
import sys

import torch

torch.manual_seed(20261201)
TOKENS = [[1, 5, 2, 9, 3, 7, 200, 31], [7, 0, 4, 4, 10, 2, 255, 128]]
VOCAB = 256


# ---- safetensors, written by hand ----

DTYPES = {torch.float32: ("F32", 4), torch.bfloat16: ("BF16", 2), torch.float16: ("F16", 2)}


def tensor_bytes(tensor):
    """Raw little-endian bytes of a tensor (bf16 through its 16-bit pattern)."""
    tensor = tensor.contiguous()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().tobytes()
    return tensor.numpy().tobytes()


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, tensor in tensors.items():
        dtype, size = DTYPES[tensor.dtype]
        data = tensor_bytes(tensor)
        assert len(data) == tensor.numel() * size
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for blob in blobs:
            out.write(blob)


def write_json(path, value):
    with open(path, "w") as out:
        json.dump(value, out, indent=1)


# ---- GPT-2 (GPT2LMHeadModel): Conv1D computes x @ W + b with W stored [in, out] ----

def gpt2_weights(c):
    d, ff = c["n_embd"], 4 * c["n_embd"]
    w = {"wte.weight": torch.randn(VOCAB, d) * 0.3, "wpe.weight": torch.randn(c["n_positions"], d) * 0.3}
    for i in range(c["n_layer"]):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1 + 0.1 * torch.randn(d)
        w[p + "ln_1.bias"] = 0.1 * torch.randn(d)
        w[p + "attn.c_attn.weight"] = torch.randn(d, 3 * d) * 0.3
        w[p + "attn.c_attn.bias"] = 0.1 * torch.randn(3 * d)
        w[p + "attn.c_proj.weight"] = torch.randn(d, d) * 0.3
        w[p + "attn.c_proj.bias"] = 0.1 * torch.randn(d)
        w[p + "ln_2.weight"] = 1 + 0.1 * torch.randn(d)
        w[p + "ln_2.bias"] = 0.1 * torch.randn(d)
        w[p + "mlp.c_fc.weight"] = torch.randn(d, ff) * 0.3
        w[p + "mlp.c_fc.bias"] = 0.1 * torch.randn(ff)
        w[p + "mlp.c_proj.weight"] = torch.randn(ff, d) * 0.2
        w[p + "mlp.c_proj.bias"] = 0.1 * torch.randn(d)
    w["ln_f.weight"] = 1 + 0.1 * torch.randn(d)
    w["ln_f.bias"] = 0.1 * torch.randn(d)
    return w


def causal_attention(q, k, v):  # [B, H, T, D]
    t = q.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), -1) @ v


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_logits(c, w):
    w = {k: v.double() for k, v in w.items()}
    d, heads, eps = c["n_embd"], c["n_head"], c["layer_norm_epsilon"]
    tokens = torch.tensor(TOKENS)
    b, t = tokens.shape
    x = w["wte.weight"][tokens] + w["wpe.weight"][:t]
    for i in range(c["n_layer"]):
        p = f"h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (z.reshape(b, t, heads, d // heads).transpose(1, 2) for z in qkv.split(d, -1))
        y = causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        x = x + gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] + \
            w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w.get("lm_head.weight", w["wte.weight"]).T  # tied unless the file has a head


# ---- LLaMA (LlamaForCausalLM): rotate_half rotary, repeat_kv for grouped-query attention ----

def llama_weights(c):
    d, ff, heads, kv = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = d // heads
    w = {"model.embed_tokens.weight": torch.randn(VOCAB, d) * 0.3}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(d)
        w[p + "self_attn.q_proj.weight"] = torch.randn(heads * hd, d) * 0.3
        w[p + "self_attn.k_proj.weight"] = torch.randn(kv * hd, d) * 0.3
        w[p + "self_attn.v_proj.weight"] = torch.randn(kv * hd, d) * 0.3
        w[p + "self_attn.o_proj.weight"] = torch.randn(d, heads * hd) * 0.3
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(d)
        w[p + "mlp.gate_proj.weight"] = torch.randn(ff, d) * 0.3
        w[p + "mlp.up_proj.weight"] = torch.randn(ff, d) * 0.3
        w[p + "mlp.down_proj.weight"] = torch.randn(d, ff) * 0.2
    w["model.norm.weight"] = 1 + 0.1 * torch.randn(d)
    w["lm_head.weight"] = torch.randn(VOCAB, d) * 0.3
    return w


def rms_norm(x, weight, eps):
    return weight * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


def llama_logits(c, w):
    w = {k: v.double() for k, v in w.items()}
    d, heads, kv, eps = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["rms_norm_eps"]
    hd = d // heads
    tokens = torch.tensor(TOKENS)
    b, t = tokens.shape
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(t, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos(), emb.sin()
    x = w["model.embed_tokens.weight"][tokens]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).view(b, t, heads, hd).transpose(1, 2)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).view(b, t, kv, hd).transpose(1, 2)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(b, t, kv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        # repeat_kv: each key/value head serves heads // kv consecutive query heads.
        k = k[:, :, None].expand(b, kv, heads // kv, t, hd).reshape(b, heads, t, hd)
        v = v[:, :, None].expand(b, kv, heads // kv, t, hd).reshape(b, heads, t, hd)
        y = causal_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        x = x + y @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        x = x + (gate * torch.sigmoid(gate) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    return x @ w.get("lm_head.weight", w["model.embed_tokens.weight"]).T


# ---- safetensors, read by hand ----

READ_DTYPES = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2)}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    metadata = header.pop("__metadata__", {})
    assert metadata.get("format") == "pt", f"{path}: Hugging Face needs metadata format pt, got {metadata}"
    data = blob[8 + length:]
    tensors, end = {}, 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        dtype, size = READ_DTYPES[entry["dtype"]]
        begin, stop = entry["data_offsets"]
        assert begin == end, f"{path}: {name} does not follow the previous tensor"
        count = math.prod(entry["shape"])
        assert stop - begin == count * size, f"{path}: {name} has {stop - begin} bytes for shape {entry['shape']}"
        raw = torch.frombuffer(bytearray(data[begin:stop]), dtype=torch.int16 if size == 2 else torch.float32)
        tensors[name] = raw.view(dtype).reshape(entry["shape"]).float()
        end = stop
    assert end == len(data), f"{path}: {len(data) - end} bytes after the last tensor"
    return tensors


def read_model(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors = {}
        for file in sorted(set(weight_map.values())):
            shard = read_safetensors(os.path.join(directory, file))
            assert {n for n, f in weight_map.items() if f == file} == set(shard), f"{file}: not what the index lists"
            tensors.update(shard)
        return tensors
    return read_safetensors(os.path.join(directory, "model.safetensors"))


def exported_logits(directory):
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    weights = read_model(directory)
    if config["model_type"] == "gpt2":
        weights = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in weights.items()}
        logits = gpt2_logits(config, weights)
    else:
        logits = llama_logits(config, weights)
    write_json(os.path.join(directory, "reference-logits.json"),
               {"tokens": TOKENS, "shape": list(logits.shape), "logits": logits.reshape(-1).tolist()})


def write_logits(directory, logits):
    write_json(os.path.join(directory, "logits.json"),
               {"tokens": TOKENS, "shape": list(logits.shape), "logits": logits.reshape(-1).tolist()})


def main(out):
    gpt2 = {"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 16, "n_positions": 16, "vocab_size": VOCAB,
            "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "tie_word_embeddings": True}
    weights = gpt2_weights(gpt2)
    plain = os.path.join(out, "gpt2")
    os.makedirs(plain)
    write_json(os.path.join(plain, "config.json"), gpt2)
    buffers = {f"h.{i}.attn.bias": torch.tril(torch.ones(1, 1, 16, 16)) for i in range(gpt2["n_layer"])}
    write_safetensors(os.path.join(plain, "model.safetensors"), {**weights, **buffers})
    write_logits(plain, gpt2_logits(gpt2, weights))

    prefixed = os.path.join(out, "gpt2-prefixed")
    os.makedirs(prefixed)
    write_json(os.path.join(prefixed, "config.json"), gpt2)
    stored = {"transformer." + k: v.to(torch.bfloat16) for k, v in weights.items()}
    write_safetensors(os.path.join(prefixed, "model.safetensors"), stored)
    # The reference computes with the values as stored: bf16, widened exactly.
    write_logits(prefixed, gpt2_logits(gpt2, {k: v.to(torch.bfloat16).float() for k, v in weights.items()}))

    llama = {"model_type": "llama", "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "hidden_size": 16, "intermediate_size": 24, "max_position_embeddings": 16, "vocab_size": VOCAB,
             "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False}
    weights = llama_weights(llama)
    directory = os.path.join(out, "llama")
    os.makedirs(directory)
    write_json(os.path.join(directory, "config.json"), llama)
    names = list(weights)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    weight_map = {}
    for file, members in shards.items():
        write_safetensors(os.path.join(directory, file), {n: weights[n] for n in members})
        weight_map.update({n: file for n in members})
    write_json(os.path.join(directory, "model.safetensors.index.json"),
               {"metadata": {"total_size": sum(v.numel() * 4 for v in weights.values())}, "weight_map": weight_map})
    write_logits(directory, llama_logits(llama, weights))
    print("wrote", out)


if __name__ == "__main__":
    if sys.argv[1] == "--logits":
        exported_logits(sys.argv[2])
    else:
        main(sys.argv[1])
