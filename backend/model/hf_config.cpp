#include "backend/model/hf_config.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace behemoth {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw std::invalid_argument("hf config." + field + ": " + problem);
}

const json& required(const json& hf, const std::string& field) {
  const auto found = hf.find(field);
  if (found == hf.end() || found->is_null()) fail(field, "missing");
  return *found;
}

int readInt(const json& value, const std::string& field) {
  if (!value.is_number_integer()) fail(field, "expected an integer, got " + value.dump());
  return value.get<int>();
}

int requiredInt(const json& hf, const std::string& field) { return readInt(required(hf, field), field); }

double optionalDouble(const json& hf, const std::string& field, double fallback) {
  const auto found = hf.find(field);
  if (found == hf.end() || found->is_null()) return fallback;
  if (!found->is_number()) fail(field, "expected a number, got " + found->dump());
  return found->get<double>();
}

bool optionalBool(const json& hf, const std::string& field, bool fallback) {
  const auto found = hf.find(field);
  if (found == hf.end() || found->is_null()) return fallback;
  if (!found->is_boolean()) fail(field, "expected true or false, got " + found->dump());
  return found->get<bool>();
}

void requireStringIn(const json& hf, const std::string& field, std::initializer_list<const char*> accepted) {
  const auto found = hf.find(field);
  if (found == hf.end() || found->is_null()) return;
  if (found->is_string()) {
    for (const char* value : accepted) {
      if (found->get<std::string>() == value) return;
    }
  }
  fail(field, found->dump() + " is not supported by the zoo model");
}

ModelConfig fromGpt2(const json& hf) {
  ModelConfig config;
  config.arch = Arch::gpt;
  config.n_layer = requiredInt(hf, "n_layer");
  config.n_head = requiredInt(hf, "n_head");
  config.d_model = requiredInt(hf, "n_embd");
  config.seq_len = hf.contains("n_positions") ? requiredInt(hf, "n_positions") : requiredInt(hf, "n_ctx");
  config.vocab_size = requiredInt(hf, "vocab_size");
  config.norm_eps = optionalDouble(hf, "layer_norm_epsilon", 1e-5);
  config.init_std = optionalDouble(hf, "initializer_range", 0.02);
  config.tie_embeddings = optionalBool(hf, "tie_word_embeddings", true);
  const auto inner = hf.find("n_inner");
  if (inner != hf.end() && !inner->is_null()) config.d_ff = readInt(*inner, "n_inner");
  requireStringIn(hf, "activation_function", {"gelu_new", "gelu_pytorch_tanh"});
  // Keys that change GPT-2's attention math, which the zoo model does not implement: refused
  // rather than silently ignored.
  if (!optionalBool(hf, "scale_attn_weights", true)) fail("scale_attn_weights", "unscaled attention is not supported");
  if (optionalBool(hf, "scale_attn_by_inverse_layer_idx", false)) {
    fail("scale_attn_by_inverse_layer_idx", "scaling attention by the inverse layer index is not supported");
  }
  return config;
}

ModelConfig fromLlama(const json& hf) {
  ModelConfig config;
  config.arch = Arch::llama;
  config.n_layer = requiredInt(hf, "num_hidden_layers");
  config.n_head = requiredInt(hf, "num_attention_heads");
  config.n_kv_head = hf.contains("num_key_value_heads") && !hf["num_key_value_heads"].is_null()
                         ? requiredInt(hf, "num_key_value_heads")
                         : config.n_head;
  config.d_model = requiredInt(hf, "hidden_size");
  config.d_ff = requiredInt(hf, "intermediate_size");
  config.seq_len = requiredInt(hf, "max_position_embeddings");
  config.vocab_size = requiredInt(hf, "vocab_size");
  config.norm_eps = optionalDouble(hf, "rms_norm_eps", 1e-6);
  config.rope_theta = optionalDouble(hf, "rope_theta", 10000.0);
  config.init_std = optionalDouble(hf, "initializer_range", 0.02);
  config.tie_embeddings = optionalBool(hf, "tie_word_embeddings", false);
  requireStringIn(hf, "hidden_act", {"silu"});
  if (optionalBool(hf, "attention_bias", false)) fail("attention_bias", "biased attention is not supported");
  if (optionalBool(hf, "mlp_bias", false)) fail("mlp_bias", "biased MLP is not supported");
  const auto scaling = hf.find("rope_scaling");
  if (scaling != hf.end() && !scaling->is_null()) fail("rope_scaling", "rotary scaling is not supported");
  const auto head_dim = hf.find("head_dim");
  if (head_dim != hf.end() && !head_dim->is_null() && config.n_head > 0 &&
      readInt(*head_dim, "head_dim") != config.d_model / config.n_head) {
    fail("head_dim", head_dim->dump() + " differs from hidden_size / num_attention_heads");
  }
  return config;
}

}  // namespace

ModelConfig modelConfigFromHfJson(const json& hf) {
  if (!hf.is_object()) throw std::invalid_argument("hf config: expected a JSON object");
  const json& type = required(hf, "model_type");
  if (!type.is_string()) fail("model_type", "expected a string, got " + type.dump());
  const std::string model_type = type.get<std::string>();
  ModelConfig config;
  if (model_type == "gpt2") {
    config = fromGpt2(hf);
  } else if (model_type == "llama" || model_type == "mistral") {
    config = fromLlama(hf);
  } else {
    fail("model_type", "'" + model_type + "' is not supported (expected gpt2, llama or mistral)");
  }
  config.validate();
  return config;
}

json hfJsonFromModelConfig(const ModelConfig& c, const std::string& torch_dtype) {
  json hf;
  if (c.arch == Arch::gpt) {
    hf = {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"n_layer", c.n_layer},
          {"n_head", c.n_head},
          {"n_embd", c.d_model},
          {"n_inner", c.ffnHidden()},
          {"n_positions", c.seq_len},
          {"n_ctx", c.seq_len},
          {"vocab_size", c.vocab_size},
          {"layer_norm_epsilon", c.norm_eps},
          {"activation_function", "gelu_new"},  // the engine's GELU is the tanh approximation
          {"resid_pdrop", c.dropout},
          {"embd_pdrop", c.dropout},
          {"attn_pdrop", c.dropout},
          {"scale_attn_weights", true},
          {"scale_attn_by_inverse_layer_idx", false},
          {"reorder_and_upcast_attn", false}};
  } else {
    // Written as LLaMA even when the weights came from a Mistral config: the engine computes full
    // causal attention (no sliding window), which is what LlamaForCausalLM computes.
    hf = {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"num_hidden_layers", c.n_layer},
          {"num_attention_heads", c.n_head},
          {"num_key_value_heads", c.kvHeads()},
          {"hidden_size", c.d_model},
          {"head_dim", c.headDim()},
          {"intermediate_size", c.ffnHidden()},
          {"max_position_embeddings", c.seq_len},
          {"vocab_size", c.vocab_size},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"rope_scaling", nullptr},
          {"hidden_act", "silu"},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"attention_dropout", c.dropout}};
  }
  hf["initializer_range"] = c.init_std;
  hf["tie_word_embeddings"] = c.tie_embeddings;
  hf["torch_dtype"] = torch_dtype;
  hf["use_cache"] = true;
  return hf;
}

ModelConfig modelConfigFromHfFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("hf config: cannot open " + path);
  json hf;
  try {
    hf = json::parse(in);
  } catch (const json::parse_error& error) {
    throw std::invalid_argument("hf config: " + path + " is not valid JSON: " + error.what());
  }
  try {
    return modelConfigFromHfJson(hf);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string(error.what()) + " (in " + path + ")");
  }
}

}  // namespace behemoth
