// How the zoo models' parameters are named and laid out in Hugging Face checkpoints:
//   GPT-2 (GPT2LMHeadModel): "h.N.attn.c_attn.weight" and the other Conv1D weights are stored
//     [in, out], the transpose of the engine's [out, in]; q, k and v fused in c_attn in that order,
//     as the engine's qkv. Published files name tensors with or without a "transformer." prefix.
//   LLaMA / Mistral (LlamaForCausalLM): "model.layers.N.self_attn.q_proj.weight", ... stored as
//     the engine stores them; rotary embedding in the same rotate-half convention.
// Torch-free: the CLI's pre-launch checks and the Studio use it too.
#pragma once

#include <string>

#include "backend/model/model_config.h"

namespace behemoth {

struct HfTensorName {
  std::string name;         // the Hugging Face tensor name (GPT-2: without "transformer.")
  bool transposed = false;  // stored as the transpose of the engine's 2-D parameter
};

// The Hugging Face tensor that holds engine parameter `engine_name`. Throws std::invalid_argument
// for a name the mapping does not know.
HfTensorName hfTensorNameOf(Arch arch, const std::string& engine_name);

// A file's tensor name without the prefixes published files differ by (GPT-2's "transformer.").
std::string normalizedHfName(Arch arch, const std::string& file_name);

// Tensors that Hugging Face files may carry beside the parameters and that the engine recomputes:
// GPT-2's causal-mask buffers ("h.N.attn.bias", "h.N.attn.masked_bias"), LLaMA's rotary inverse
// frequencies, and a tied model's "lm_head.weight" (a copy of the embedding). Skipped on import.
bool isSkippedHfTensor(Arch arch, const std::string& normalized_name, bool tied_embeddings);

}  // namespace behemoth
