#include "backend/tokenizer/vocabulary_extension.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "backend/tokenizer/tokenizer.h"
#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void appendVarint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

const fs::path* fileNamed(const std::vector<fs::path>& files, const std::string& name) {
  for (const fs::path& file : files) {
    if (file.filename() == name) return &file;
  }
  return nullptr;
}

}  // namespace

std::string appendSentencePieces(std::string model, const std::vector<std::string>& pieces) {
  constexpr char kPieceField = 0x0a;   // ModelProto.pieces (1, length-delimited)
  constexpr char kTextField = 0x0a;    // SentencePiece.piece (1, length-delimited)
  constexpr char kScoreField = 0x15;   // SentencePiece.score (2, 32-bit float)
  constexpr char kTypeField = 0x18;    // SentencePiece.type (3, varint)
  constexpr int kUserDefined = 4;      // SentencePiece.Type.USER_DEFINED
  for (const std::string& piece : pieces) {
    std::string message;
    message.push_back(kTextField);
    appendVarint(message, piece.size());
    message += piece;
    message.push_back(kScoreField);
    message.append(4, '\0');  // score 0.0f: user-defined pieces are matched whole, not scored
    message.push_back(kTypeField);
    appendVarint(message, kUserDefined);
    model.push_back(kPieceField);
    appendVarint(model, message.size());
    model += message;
  }
  return model;
}

std::vector<std::string> readTokenList(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::invalid_argument("tokens: " + file.string() + ": cannot be read");
  std::vector<std::string> tokens;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) tokens.push_back(line);
  }
  if (tokens.empty()) throw std::invalid_argument("tokens: " + file.string() + ": holds no tokens");
  return tokens;
}

TokenizerExtension extendTokenizer(const fs::path& folder, const std::vector<std::string>& tokens) {
  const auto tokenizer = openTokenizer(folder.string());
  if (tokenizer->kind() == "byte") {
    throw std::invalid_argument("tokenizer extend: " + folder.string() +
                                " holds no tokenizer files (tokenizer.model, tokenizer.json, vocab.json): nothing to extend");
  }
  TokenizerExtension extension;
  extension.old_size = tokenizer->vocabSize();
  std::set<std::string> seen;
  for (const std::string& token : tokens) {
    if (!seen.insert(token).second) continue;
    if (tokenizer->encode(token).size() == 1) {
      extension.already_present.push_back(token);
    } else {
      extension.added.push_back(token);
    }
  }
  extension.new_size = extension.old_size + static_cast<std::int64_t>(extension.added.size());
  const std::vector<fs::path> files = tokenizer->files();
  if (tokenizer->kind() == "sentencepiece") {
    const fs::path* model = fileNamed(files, "tokenizer.model");
    const fs::path source = model ? *model : files.front();
    extension.files.emplace_back(source.filename().string(), appendSentencePieces(readTokenizerFile(source), extension.added));
  } else if (const fs::path* file = fileNamed(files, "tokenizer.json")) {
    json root = readTokenizerJson(*file);
    json& added = root["added_tokens"];
    if (added.is_null()) added = json::array();
    for (std::size_t k = 0; k < extension.added.size(); ++k) {
      added.push_back({{"id", extension.old_size + static_cast<std::int64_t>(k)},
                       {"content", extension.added[k]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", false}});
    }
    extension.files.emplace_back("tokenizer.json", root.dump(2) + "\n");
  } else {
    const fs::path* existing = fileNamed(files, "added_tokens.json");
    json added = existing ? readTokenizerJson(*existing) : json::object();
    for (std::size_t k = 0; k < extension.added.size(); ++k) {
      added[extension.added[k]] = extension.old_size + static_cast<std::int64_t>(k);
    }
    extension.files.emplace_back("added_tokens.json", added.dump(2) + "\n");
  }
  return extension;
}

}  // namespace behemoth
