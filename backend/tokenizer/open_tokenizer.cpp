// openTokenizer: which kind a spec names. A folder is read by the first of its files found in this
// order: tokenizer.model (SentencePiece; Hugging Face LLaMA-2 / Mistral folders also hold a
// tokenizer.json that is not byte-level), tokenizer.json, vocab.json (+ merges.txt).
#include <system_error>

#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {

namespace {

namespace fs = std::filesystem;

std::unique_ptr<const Tokenizer> openFile(const fs::path& file) {
  const std::string name = file.filename().string();
  if (name == "tokenizer.json" || name == "vocab.json") return openBpeTokenizer(file);
  if (file.extension() == ".model") return openSentencePieceTokenizer(file);
  throwTokenizerError(file, "is not a tokenizer file (tokenizer.json, vocab.json, or a SentencePiece .model)");
}

}  // namespace

std::unique_ptr<const Tokenizer> openTokenizer(const std::string& spec) {
  if (spec == "byte") return makeByteTokenizer();
  if (spec.empty()) throw std::invalid_argument("data.tokenizer: is empty (\"byte\", or a tokenizer folder or file)");
  const fs::path path(spec);
  std::error_code error;
  if (fs::is_regular_file(path, error)) return openFile(path);
  if (!fs::is_directory(path, error))
    throwTokenizerError(path, "does not exist (\"byte\", or a tokenizer folder or file)");
  for (const char* name : {"tokenizer.model", "tokenizer.json", "vocab.json"}) {
    if (fs::is_regular_file(path / name, error)) return openFile(path / name);
  }
  throwTokenizerError(path, "holds no tokenizer files (tokenizer.model, tokenizer.json, or vocab.json + merges.txt)");
}

}  // namespace behemoth
