#include "backend/hf/hf_names.h"

#include <regex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace behemoth {
namespace {

struct Rename {
  std::regex engine;
  std::string hf;  // std::regex_replace format ($1: the block index)
  bool transposed;
};

const std::vector<Rename>& gptRenames() {
  static const std::vector<Rename> renames = {
      {std::regex(R"(tok_emb\.weight)"), "wte.weight", false},
      {std::regex(R"(pos_emb\.weight)"), "wpe.weight", false},
      {std::regex(R"(blocks\.(\d+)\.ln1\.(weight|bias))"), "h.$1.ln_1.$2", false},
      {std::regex(R"(blocks\.(\d+)\.ln2\.(weight|bias))"), "h.$1.ln_2.$2", false},
      {std::regex(R"(blocks\.(\d+)\.attn\.qkv\.weight)"), "h.$1.attn.c_attn.weight", true},
      {std::regex(R"(blocks\.(\d+)\.attn\.qkv\.bias)"), "h.$1.attn.c_attn.bias", false},
      {std::regex(R"(blocks\.(\d+)\.attn\.proj\.weight)"), "h.$1.attn.c_proj.weight", true},
      {std::regex(R"(blocks\.(\d+)\.attn\.proj\.bias)"), "h.$1.attn.c_proj.bias", false},
      {std::regex(R"(blocks\.(\d+)\.mlp\.fc\.weight)"), "h.$1.mlp.c_fc.weight", true},
      {std::regex(R"(blocks\.(\d+)\.mlp\.fc\.bias)"), "h.$1.mlp.c_fc.bias", false},
      {std::regex(R"(blocks\.(\d+)\.mlp\.proj\.weight)"), "h.$1.mlp.c_proj.weight", true},
      {std::regex(R"(blocks\.(\d+)\.mlp\.proj\.bias)"), "h.$1.mlp.c_proj.bias", false},
      {std::regex(R"(ln_f\.(weight|bias))"), "ln_f.$1", false},
      {std::regex(R"(lm_head\.weight)"), "lm_head.weight", false},
  };
  return renames;
}

const std::vector<Rename>& llamaRenames() {
  static const std::vector<Rename> renames = {
      {std::regex(R"(tok_emb\.weight)"), "model.embed_tokens.weight", false},
      {std::regex(R"(blocks\.(\d+)\.attn_norm\.weight)"), "model.layers.$1.input_layernorm.weight", false},
      {std::regex(R"(blocks\.(\d+)\.mlp_norm\.weight)"), "model.layers.$1.post_attention_layernorm.weight", false},
      {std::regex(R"(blocks\.(\d+)\.attn\.(q|k|v|o)\.weight)"), "model.layers.$1.self_attn.$2_proj.weight", false},
      {std::regex(R"(blocks\.(\d+)\.mlp\.(gate|up|down)\.weight)"), "model.layers.$1.mlp.$2_proj.weight", false},
      {std::regex(R"(norm_f\.weight)"), "model.norm.weight", false},
      {std::regex(R"(lm_head\.weight)"), "lm_head.weight", false},
  };
  return renames;
}

}  // namespace

HfTensorName hfTensorNameOf(Arch arch, const std::string& engine_name) {
  for (const Rename& rename : arch == Arch::gpt ? gptRenames() : llamaRenames()) {
    if (std::regex_match(engine_name, rename.engine)) {
      return {std::regex_replace(engine_name, rename.engine, rename.hf), rename.transposed};
    }
  }
  throw std::invalid_argument("no Hugging Face name for the " + archName(arch) + " parameter '" + engine_name + "'");
}

std::string normalizedHfName(Arch arch, const std::string& file_name) {
  const std::string prefix = "transformer.";
  if (arch == Arch::gpt && file_name.rfind(prefix, 0) == 0) return file_name.substr(prefix.size());
  return file_name;
}

bool isSkippedHfTensor(Arch arch, const std::string& normalized_name, bool tied_embeddings) {
  if (tied_embeddings && normalized_name == "lm_head.weight") return true;
  static const std::regex gpt_buffers(R"(h\.\d+\.attn\.(bias|masked_bias))");
  static const std::regex llama_buffers(R"(model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq)");
  return std::regex_match(normalized_name, arch == Arch::gpt ? gpt_buffers : llama_buffers);
}

}  // namespace behemoth
