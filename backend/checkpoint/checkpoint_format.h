// What a checkpoint directory holds, as data (no LibTorch: the Studio and the CLI tools read it).
//
//   OUT_DIR/checkpoints/
//     latest                    one line: the name of the newest complete checkpoint
//     step-0000100/
//       index.json              every tensor: global name, shape, dtype, and which slice each file holds
//       state.json              training state: step, data position, loss scaler, seed, project, plan
//       rank-00000.safetensors  what rank 0 held (its own pieces only: nothing is gathered to save)
//       rank-00001.safetensors  ...
//
// A slice is the box [begin, begin + size) of the global tensor and, of that box's elements in
// row-major order, those in [flat_begin, flat_begin + numel). A tensor-parallel shard is a box; a
// ZeRO partition is a flat range of its rank's box; a replicated tensor is the whole box. The one
// form covers every layout (2D/3D tensor parallelism are boxes too; pipeline stages hold whole
// tensors). See docs/checkpoints.md.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace behemoth {

inline constexpr int kCheckpointFormatVersion = 1;

struct TensorSlice {
  std::vector<std::int64_t> begin;  // per dimension, inside the global shape
  std::vector<std::int64_t> size;   // per dimension
  std::int64_t flat_begin = 0;      // first element taken, in the box's row-major order
  std::int64_t numel = 0;           // elements taken

  std::int64_t boxNumel() const;
  bool wholeBox() const { return flat_begin == 0 && numel == boxNumel(); }
};

// One slice stored in one file under `key` (a 1-D tensor of slice.numel elements).
struct StoredPiece {
  std::string file;      // e.g. "rank-00001.safetensors"
  std::string key;       // the tensor's key inside that file
  TensorSlice slice;
  std::string checksum;  // of the piece's bytes ("xxh3-64:<16 hex digits>")
};

struct IndexedTensor {
  std::string name;                 // "model/h.0.attn.qkv.weight", "exp_avg/...", ...
  std::vector<std::int64_t> shape;  // the global (unsharded, unpadded) shape
  std::string dtype;                // safetensors names: "F32", "BF16", "F16", "I64"
  std::vector<StoredPiece> pieces;  // together they cover every element exactly once
};

struct IndexedFile {
  std::string name;  // relative to the checkpoint directory
  int rank = 0;      // the global rank that wrote it
  std::int64_t bytes = 0;
  std::string checksum;  // of the whole file
};

struct CheckpointIndex {
  int format = kCheckpointFormatVersion;
  std::int64_t step = 0;
  int world_size = 1;
  std::vector<IndexedFile> files;      // one per rank that wrote anything
  std::vector<IndexedTensor> tensors;  // sorted by name

  const IndexedTensor* find(const std::string& name) const;
};

nlohmann::json indexToJson(const CheckpointIndex& index);
// Throws std::invalid_argument "<where>: ..." naming the first malformed field.
CheckpointIndex indexFromJson(const nlohmann::json& json, const std::string& where);

// Everything besides the tensors that an exact resume needs.
struct TrainingState {
  std::int64_t step = 0;               // optimizer steps completed: the next step to run
  std::int64_t optimizer_updates = 0;  // AdamW updates applied (fp16 overflow skips excluded)
  double loss_scale = 1.0;             // fp16 dynamic loss scaler
  int loss_scale_clean_steps = 0;
  std::int64_t data_position = 0;      // the batch sampler's position
  std::uint64_t seed = 0;
  std::string precision;               // "fp32", "bf16", "fp16"
  int world_size = 1;
  std::string layout;                  // for people: "dp 2 × tp 2, ZeRO-2"
  std::string engine_version;
  std::string saved_at;                // UTC, ISO 8601
  std::string project_json;            // the resolved project the run trained (compact JSON text)
};

nlohmann::json trainingStateToJson(const TrainingState& state);
TrainingState trainingStateFromJson(const nlohmann::json& json, const std::string& where);

// "dp 2 × tp 2, ZeRO-2, SP" from a project's `parallel` section.
std::string layoutDescription(const nlohmann::json& parallel);

}  // namespace behemoth
