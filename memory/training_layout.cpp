#include "memory/training_layout.h"

#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace behemoth {
namespace {

template <typename Enum, std::size_t N>
Enum fromName(const std::array<std::pair<const char*, Enum>, N>& names, const std::string& name, const char* what) {
  std::string accepted;
  for (const auto& [text, value] : names) {
    if (name == text) return value;
    accepted += (accepted.empty() ? "" : ", ") + std::string(text);
  }
  throw std::invalid_argument(std::string(what) + ": unknown value '" + name + "' (expected one of " + accepted + ")");
}

template <typename Enum, std::size_t N>
std::string toName(const std::array<std::pair<const char*, Enum>, N>& names, Enum value) {
  for (const auto& [text, candidate] : names) {
    if (candidate == value) return text;
  }
  return "?";
}

const std::array<std::pair<const char*, NumericFormat>, 3> kFormats = {
    {{"fp32", NumericFormat::fp32}, {"bf16", NumericFormat::bf16}, {"fp16", NumericFormat::fp16}}};
const std::array<std::pair<const char*, TensorMode>, 4> kTensorModes = {{{"1d", TensorMode::one_d},
                                                                         {"2d", TensorMode::two_d},
                                                                         {"2.5d", TensorMode::two_and_half_d},
                                                                         {"3d", TensorMode::three_d}}};
const std::array<std::pair<const char*, ContextMode>, 2> kContextModes = {
    {{"ulysses", ContextMode::ulysses}, {"ring", ContextMode::ring}}};
const std::array<std::pair<const char*, PipelineSchedule>, 4> kSchedules = {
    {{"gpipe", PipelineSchedule::gpipe},
     {"1f1b", PipelineSchedule::one_f_one_b},
     {"interleaved", PipelineSchedule::interleaved},
     {"zero_bubble", PipelineSchedule::zero_bubble}}};
const std::array<std::pair<const char*, Recompute>, 3> kRecompute = {
    {{"none", Recompute::none}, {"selective", Recompute::selective}, {"full", Recompute::full}}};

const std::array<std::pair<const char*, ChunkPolicy>, 2> kChunkPolicies = {
    {{"static", ChunkPolicy::static_fractions}, {"auto", ChunkPolicy::automatic}}};

[[noreturn]] void reject(const std::string& message) { throw std::invalid_argument("layout." + message); }

bool isPerfectPower(int value, int exponent) {
  const int root = static_cast<int>(std::lround(std::pow(value, 1.0 / exponent)));
  int product = 1;
  for (int k = 0; k < exponent; ++k) product *= root;
  return product == value;
}

}  // namespace

std::string numericFormatName(NumericFormat format) { return toName(kFormats, format); }
std::string tensorModeName(TensorMode mode) { return toName(kTensorModes, mode); }
std::string contextModeName(ContextMode mode) { return toName(kContextModes, mode); }
std::string pipelineScheduleName(PipelineSchedule schedule) { return toName(kSchedules, schedule); }
std::string recomputeName(Recompute recompute) { return toName(kRecompute, recompute); }
NumericFormat numericFormatFromName(const std::string& name) { return fromName(kFormats, name, "precision"); }
TensorMode tensorModeFromName(const std::string& name) { return fromName(kTensorModes, name, "tensor_mode"); }
ContextMode contextModeFromName(const std::string& name) { return fromName(kContextModes, name, "context_mode"); }
PipelineSchedule pipelineScheduleFromName(const std::string& name) { return fromName(kSchedules, name, "schedule"); }
Recompute recomputeFromName(const std::string& name) { return fromName(kRecompute, name, "recompute"); }
std::string chunkPolicyName(ChunkPolicy policy) { return toName(kChunkPolicies, policy); }
ChunkPolicy chunkPolicyFromName(const std::string& name) { return fromName(kChunkPolicies, name, "placement"); }

void TrainingLayout::validate() const {
  const std::pair<const char*, int> axes[] = {{"dp", dp}, {"pp", pp}, {"tp", tp}, {"sp", sp}, {"ep", ep}};
  for (const auto& [name, value] : axes) {
    if (value < 1) reject(std::string(name) + ": must be >= 1, got " + std::to_string(value));
  }
  if (zero < 0 || zero > 3) reject("zero: must be 0, 1, 2 or 3, got " + std::to_string(zero));
  if (micro_batch_size < 1) reject("micro_batch_size: must be >= 1, got " + std::to_string(micro_batch_size));
  if (micro_batches < 1) reject("micro_batches: must be >= 1, got " + std::to_string(micro_batches));
  if (optimizer_state_bytes < 0) reject("optimizer_state_bytes: must be >= 0");
  if (!(optimizer_offload >= 0.0 && optimizer_offload <= 1.0)) reject("optimizer_offload: must be in [0, 1]");
  if (!(parameter_offload >= 0.0 && parameter_offload <= 1.0)) reject("parameter_offload: must be in [0, 1]");
  if (parameter_offload > 0.0 && zero != 3) {
    reject("parameter_offload: offloading parameters needs ZeRO stage 3 (chunks that move on demand)");
  }
  if (chunk_elements < 0) reject("chunk_elements: must be >= 0");
  if (!(disk_optim_fraction >= 0.0 && disk_optim_fraction <= 1.0)) reject("disk_optim_fraction: must be in [0, 1]");
  if (optimizer_offload + disk_optim_fraction > 1.0 + 1e-12) {
    reject("disk_optim_fraction: with optimizer_offload it exceeds the whole optimizer (1)");
  }
  if (disk_optim_fraction > 0.0 && zero != 3) reject("disk_optim_fraction: optimizer chunks on disk need ZeRO stage 3");
  if (device_budget_bytes < 0) reject("device_budget_bytes: must be >= 0");
  if (placement == ChunkPolicy::automatic && zero != 3) reject("placement: auto placement needs ZeRO stage 3");
  if (prefetch < 0) reject("prefetch: must be >= 0");
  if (bucket_mb <= 0.0) reject("bucket_mb: must be positive");
  if (virtual_stages < 1) reject("virtual_stages: must be >= 1");
  if (virtual_stages > 1 && schedule != PipelineSchedule::interleaved) {
    reject("virtual_stages: only the interleaved schedule runs several model chunks per rank");
  }
  if (tensor_depth < 1) reject("tensor_depth: must be >= 1");
  switch (tensor_mode) {
    case TensorMode::one_d: break;
    case TensorMode::two_d:
      if (!isPerfectPower(tp, 2)) reject("tp: 2D tensor parallelism needs a square tp (q*q), got " + std::to_string(tp));
      break;
    case TensorMode::two_and_half_d:
      if (tp % tensor_depth != 0 || !isPerfectPower(tp / tensor_depth, 2)) {
        reject("tp: 2.5D tensor parallelism needs tp = q*q*depth, got tp " + std::to_string(tp) + " depth " +
               std::to_string(tensor_depth));
      }
      break;
    case TensorMode::three_d:
      if (!isPerfectPower(tp, 3)) reject("tp: 3D tensor parallelism needs a cubic tp (q*q*q), got " + std::to_string(tp));
      break;
  }
}

}  // namespace behemoth
