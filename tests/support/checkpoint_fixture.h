// Small checkpoint directories written by the tests themselves with the format's own API (the
// safetensors writer, indexToJson, trainingStateToJson, checksumOf): the verifier, the
// `behemoth checkpoint` commands and the Studio read them without a training run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_format.h"

namespace behemoth {

// One slice of a tensor held by one rank: the box [begin, begin + size) and, of its row-major
// elements, [flat_begin, flat_begin + numel) (numel -1: the whole box).
struct FixturePiece {
  int rank = 0;
  std::vector<std::int64_t> begin;
  std::vector<std::int64_t> size;
  std::int64_t flat_begin = 0;
  std::int64_t numel = -1;
};

struct FixtureTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string dtype = "F32";  // F32 or I64
  std::vector<FixturePiece> pieces;
};

struct FixtureCheckpoint {
  std::int64_t step = 100;
  int world_size = 2;
  std::string layout = "tp 2";
  std::string precision = "fp32";
  std::vector<FixtureTensor> tensors;
};

// Two ranks: tensor-parallel row and column boxes, a ZeRO flat partition, a whole tensor on one
// rank and an I64 scalar.
FixtureCheckpoint twoRankCheckpoint(std::int64_t step = 100);

// Writes STEP_DIR (created) with index.json, state.json and rank-NNNNN.safetensors files; returns
// the index written.
CheckpointIndex writeFixtureCheckpoint(const std::filesystem::path& step_dir, const FixtureCheckpoint& spec);

// Writes OUT_DIR/checkpoints/step-NNNNNNN for each step and `latest` naming the last.
void writeFixtureRun(const std::filesystem::path& out_dir, const std::vector<std::int64_t>& steps);

// Records a file's current size and checksum in index.json (after a test rewrote the file on
// purpose, so that only what it meant to break is wrong).
void rerecordFile(const std::filesystem::path& step_dir, const std::string& file);

// Rewrites a safetensors file without `key` (its header and data), a valid file otherwise.
void removeKeyFromFile(const std::filesystem::path& file, const std::string& key);

// The byte offset in FILE of the first data byte of `key`.
std::int64_t dataOffsetOf(const std::filesystem::path& file, const std::string& key);

// Flips the bits of one byte of a file in place (a corrupted checkpoint).
void flipByte(const std::filesystem::path& file, std::int64_t offset);

}  // namespace behemoth
