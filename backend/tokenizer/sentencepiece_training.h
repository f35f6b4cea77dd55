// Training a SentencePiece BPE tokenizer with the library's own trainer (through the module), so a
// real subword tokenizer exists on any machine without downloads. LLaMA-2's recipe: BPE, byte
// fallback (any byte encodes, so decoding gives back the text exactly), no normalization, digits
// split, <unk>=0 <s>=1 </s>=2. Deterministic: the same text and size give the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace behemoth {

struct SentencePieceTrainingOptions {
  std::int64_t vocab_size = 8000;
};

// SentencePiece's options string for `options` (what train passes; the docs show it).
std::string sentencePieceTrainerArguments(const SentencePieceTrainingOptions& options);

// Throws std::invalid_argument("tokenizer train: ...") for options no corpus could satisfy (a
// vocabulary below the 256 byte pieces and 3 special tokens), before any text is read.
void checkSentencePieceTrainingOptions(const SentencePieceTrainingOptions& options);

// The serialized model (tokenizer.model's bytes) trained on `text`, one sentence per line. Throws
// std::invalid_argument("tokenizer train: ...") when the trainer refuses (a vocabulary too small
// for the text's characters, or too large for it).
std::string trainSentencePiece(const std::string& text, const SentencePieceTrainingOptions& options);

// Trains and writes DIR/tokenizer.model and DIR/tokenizer_config.json (bos/eos/unk named),
// atomically, creating DIR; openTokenizer(DIR) opens the result.
void trainSentencePieceTokenizer(const std::string& text, const SentencePieceTrainingOptions& options,
                                 const std::filesystem::path& out_dir);

}  // namespace behemoth
