// Growing a Hugging Face model's vocabulary, as Colossal-LLaMA-2 does before continued
// pretraining on a new language: the token embedding (and an untied head) get rows for the new
// ids, each initialised to the mean of the existing rows, so a new token starts as "an average
// token" instead of noise; every other tensor, and every existing row, is copied unchanged. The
// model's logits on the old tokens therefore stay what they were. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "backend/hf/hf_writer.h"

namespace behemoth {

struct VocabularyGrowth {
  std::int64_t old_vocab_size = 0;
  std::int64_t new_vocab_size = 0;
  std::vector<std::string> grown_tensors;  // Hugging Face names
};

// Writes `out_dir`: `source_dir`'s model with vocab_size `new_vocab_size` (at least the old one),
// rows [first_new_row, new_vocab_size) of the embedding (and head) set to the mean of rows
// [0, first_new_row) -- the tokenizer's old size, which may be below the model's padded vocabulary,
// whose unused rows then become new tokens too -- its config.json updated, plus `extra` (the extended tokenizer's files, by name and contents),
// and `source_dir`'s other files that are not weights, configs or replaced by `extra`.
// Throws std::invalid_argument naming the directory, file or tensor.
VocabularyGrowth growHfVocabulary(const std::filesystem::path& source_dir, const std::filesystem::path& out_dir,
                                  std::int64_t first_new_row, std::int64_t new_vocab_size,
                                  const std::vector<std::pair<std::string, std::string>>& extra, bool replace);

}  // namespace behemoth
