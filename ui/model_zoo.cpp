#include "ui/model_zoo.h"

#include <cmath>

namespace behemoth::ui {
namespace {

ModelConfig gpt2(int layers, int heads, int d_model) {
  ModelConfig c;
  c.arch = Arch::gpt;
  c.n_layer = layers;
  c.n_head = heads;
  c.d_model = d_model;
  c.seq_len = 1024;
  c.vocab_size = 50257;
  c.tie_embeddings = true;
  return c;
}

ModelConfig llama(int layers, int heads, int kv_heads, int d_model, int d_ff, int vocab, int seq) {
  ModelConfig c;
  c.arch = Arch::llama;
  c.n_layer = layers;
  c.n_head = heads;
  c.n_kv_head = kv_heads == heads ? -1 : kv_heads;
  c.d_model = d_model;
  c.d_ff = d_ff;
  c.seq_len = seq;
  c.vocab_size = vocab;
  c.tie_embeddings = false;
  return c;
}

ModelConfig tiny() {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 4;
  c.d_model = 128;
  c.seq_len = 64;
  c.vocab_size = 256;
  return c;
}

}  // namespace

const std::vector<ModelPreset>& modelPresets() {
  static const std::vector<ModelPreset> presets = {
      {"Tiny", "Tiny GPT (CPU)", "2 layers, byte vocabulary: trains in a minute on a laptop CPU", tiny()},
      {"GPT-2", "GPT-2 Small (124M)", "12 layers, d_model 768, 12 heads, 1024 context (Radford et al. 2019)", gpt2(12, 12, 768)},
      {"GPT-2", "GPT-2 Medium (355M)", "24 layers, d_model 1024, 16 heads", gpt2(24, 16, 1024)},
      {"GPT-2", "GPT-2 Large (774M)", "36 layers, d_model 1280, 20 heads", gpt2(36, 20, 1280)},
      {"GPT-2", "GPT-2 XL (1.5B)", "48 layers, d_model 1600, 25 heads", gpt2(48, 25, 1600)},
      {"LLaMA", "LLaMA-style 1B", "16 layers, d_model 2048, GQA 32/8 heads, SwiGLU 8192, 2048 context",
       llama(16, 32, 8, 2048, 8192, 32000, 2048)},
      {"LLaMA", "LLaMA-style 7B", "32 layers, d_model 4096, 32 heads, SwiGLU 11008, 4096 context (LLaMA-2 7B)",
       llama(32, 32, 32, 4096, 11008, 32000, 4096)},
      {"LLaMA", "LLaMA-style 13B", "40 layers, d_model 5120, 40 heads, SwiGLU 13824 (LLaMA-2 13B)",
       llama(40, 40, 40, 5120, 13824, 32000, 4096)},
      {"LLaMA", "LLaMA-style 70B", "80 layers, d_model 8192, GQA 64/8 heads, SwiGLU 28672 (LLaMA-2 70B)",
       llama(80, 64, 8, 8192, 28672, 32000, 4096)},
  };
  return presets;
}

nlohmann::json modelJson(const ModelConfig& c) {
  nlohmann::json model = {{"arch", archName(c.arch)}, {"n_layer", c.n_layer},   {"n_head", c.n_head},
                          {"d_model", c.d_model},     {"seq_len", c.seq_len},   {"vocab_size", c.vocab_size}};
  if (c.n_kv_head > 0) model["n_kv_head"] = c.n_kv_head;
  if (c.d_ff > 0) model["d_ff"] = c.d_ff;
  // Only written when it differs from the family's default.
  if (c.tie_embeddings != (c.arch == Arch::gpt)) model["tie_embeddings"] = c.tie_embeddings;
  return model;
}

int presetIndexOf(const ModelConfig& config) {
  const auto& presets = modelPresets();
  for (std::size_t i = 0; i < presets.size(); ++i) {
    const ModelConfig& p = presets[i].config;
    if (p.arch == config.arch && p.n_layer == config.n_layer && p.n_head == config.n_head &&
        p.kvHeads() == config.kvHeads() && p.d_model == config.d_model && p.ffnHidden() == config.ffnHidden() &&
        p.seq_len == config.seq_len && p.vocab_size == config.vocab_size && p.tie_embeddings == config.tie_embeddings) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

QString humanCount(double count) {
  const double a = std::fabs(count);
  if (a >= 1e12) return QString::number(count / 1e12, 'f', 2) + "T";
  if (a >= 1e9) return QString::number(count / 1e9, 'f', 2) + "B";
  if (a >= 1e6) return QString::number(count / 1e6, 'f', 1) + "M";
  if (a >= 1e3) return QString::number(count / 1e3, 'f', 1) + "k";
  return QString::number(count, 'f', 0);
}

QString humanBytes(double bytes) {
  const double a = std::fabs(bytes);
  if (a >= 1e12) return QString::number(bytes / 1e12, 'f', 2) + " TB";
  if (a >= 1e9) return QString::number(bytes / 1e9, 'f', 2) + " GB";
  if (a >= 1e6) return QString::number(bytes / 1e6, 'f', 1) + " MB";
  if (a >= 1e3) return QString::number(bytes / 1e3, 'f', 1) + " kB";
  return QString::number(bytes, 'f', 0) + " B";
}

}  // namespace behemoth::ui
