// Reading a byte-level BPE tokenizer: Hugging Face's tokenizer.json (model.type "BPE" with a
// ByteLevel pre-tokenizer, alone or after a Split by the LLaMA-3 expression), or the older
// vocab.json + merges.txt pair (always GPT-2's expression), with the special-token configuration
// beside either.
#include <sstream>

#include "backend/tokenizer/bpe_tokenizer.h"
#include "backend/tokenizer/byte_level.h"
#include "backend/tokenizer/special_tokens_config.h"
#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void readVocab(const json& vocab, const fs::path& file, const std::string& where, BpeDefinition& definition) {
  if (!vocab.is_object()) throwTokenizerError(file, where + " is not an object of token -> id");
  definition.vocab.reserve(vocab.size());
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_integer()) throwTokenizerError(file, where + ": token '" + text + "' has no integer id");
    definition.vocab.emplace_back(text, id.get<TokenId>());
  }
  definition.vocab_file = file;
}

BpeDefinition::Merge splitMerge(const std::string& line, const fs::path& file, const std::string& where) {
  const std::size_t space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
      line.find(' ', space + 1) != std::string::npos) {
    throwTokenizerError(file, where + ": '" + line + "' is not two tokens separated by one space");
  }
  return {line.substr(0, space), line.substr(space + 1), where};
}

void readMergesText(const fs::path& file, BpeDefinition& definition) {
  std::istringstream lines(readTokenizerFile(file));
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    definition.merges.push_back(splitMerge(line, file, "line " + std::to_string(number)));
  }
  definition.merges_file = file;
}

void readMergesJson(const json& merges, const fs::path& file, BpeDefinition& definition) {
  if (!merges.is_array()) throwTokenizerError(file, "model.merges is not an array");
  definition.merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const std::string where = "model.merges[" + std::to_string(i) + "]";
    const json& merge = merges[i];
    if (merge.is_string()) {
      definition.merges.push_back(splitMerge(merge.get<std::string>(), file, where));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      definition.merges.push_back({merge[0].get<std::string>(), merge[1].get<std::string>(), where});
    } else {
      throwTokenizerError(file, where + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  definition.merges_file = file;
}

// The pre-tokenizer must be byte-level; which expression it splits by decides the pattern.
void readPreTokenizer(const json& pre, const fs::path& file, BpeDefinition& definition) {
  const auto byteLevel = [&](const json& step, bool splits_itself) {
    if (step.value("use_regex", true) != splits_itself) {
      throwTokenizerError(file, "pre_tokenizer: a ByteLevel step with use_regex " +
                                    std::string(splits_itself ? "false" : "true") + " here is not supported");
    }
    definition.add_prefix_space = step.value("add_prefix_space", false);
  };
  const std::string type = pre.is_object() ? pre.value("type", "") : "";
  if (type == "ByteLevel") {
    byteLevel(pre, /*splits_itself=*/true);
    definition.pattern = PretokenizerPattern::kGpt2;
    return;
  }
  if (type == "Sequence" && pre.contains("pretokenizers") && pre.at("pretokenizers").size() == 2) {
    const json& split = pre.at("pretokenizers")[0];
    const json& level = pre.at("pretokenizers")[1];
    if (split.value("type", "") == "Split" && level.value("type", "") == "ByteLevel" && split.contains("pattern") &&
        split.at("pattern").contains("Regex") && split.value("behavior", "") == "Isolated" &&
        !split.value("invert", false)) {
      const std::string regex = split.at("pattern").at("Regex").get<std::string>();
      const auto pattern = pretokenizerPatternFor(regex);
      if (!pattern)
        throwTokenizerError(file, "pre_tokenizer splits by an expression the engine does not know: " + regex);
      byteLevel(level, /*splits_itself=*/false);
      definition.pattern = *pattern;
      return;
    }
  }
  throwTokenizerError(file, "pre_tokenizer " + (pre.is_null() ? std::string("null") : pre.dump()).substr(0, 120) +
                                " is not byte-level (GPT-2 ByteLevel, or LLaMA-3's Split + ByteLevel); a SentencePiece "
                                "tokenizer is read from its tokenizer.model");
}

void readTokenizerJsonFile(const fs::path& file, BpeDefinition& definition, std::string& unk_token) {
  const json root = readTokenizerJson(file);
  if (!root.is_object() || !root.contains("model") || !root.at("model").is_object()) {
    throwTokenizerError(file, "has no \"model\" object");
  }
  const json& model = root.at("model");
  const std::string type = model.value("type", "");
  if (type != "BPE") throwTokenizerError(file, "model.type is '" + type + "'; only BPE is read from tokenizer.json");
  if (!model.contains("vocab")) throwTokenizerError(file, "model.vocab is missing");
  if (!model.contains("merges")) throwTokenizerError(file, "model.merges is missing");
  if (model.value("byte_fallback", false))
    throwTokenizerError(file, "model.byte_fallback is set: not a byte-level BPE");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(affix) && !model.at(affix).is_null() && !model.at(affix).get<std::string>().empty()) {
      throwTokenizerError(file, std::string("model.") + affix + " is not supported");
    }
  }
  if (root.contains("normalizer") && !root.at("normalizer").is_null()) {
    throwTokenizerError(file,
                        "normalizer " + root.at("normalizer").value("type", std::string("?")) + " is not supported");
  }
  readPreTokenizer(root.value("pre_tokenizer", json()), file, definition);
  definition.ignore_merges = model.value("ignore_merges", false);
  if (model.contains("unk_token") && model.at("unk_token").is_string())
    unk_token = model.at("unk_token").get<std::string>();
  readVocab(model.at("vocab"), file, "model.vocab", definition);
  readMergesJson(model.at("merges"), file, definition);
  if (root.contains("added_tokens")) {
    const json& added = root.at("added_tokens");
    if (!added.is_array()) throwTokenizerError(file, "added_tokens is not an array");
    for (const json& token : added) {
      if (!token.is_object() || !token.contains("id") || !token.contains("content") ||
          !token.at("id").is_number_integer() || !token.at("content").is_string()) {
        throwTokenizerError(file, "an added_tokens entry has no integer \"id\" and string \"content\"");
      }
      definition.added.push_back({token.at("content").get<std::string>(), token.at("id").get<TokenId>()});
    }
  }
}

void addIfMissing(BpeDefinition& definition, const std::string& content, TokenId id) {
  for (const BpeDefinition::AddedToken& token : definition.added) {
    if (token.content == content) return;
  }
  definition.added.push_back({content, id});
}

// Special tokens by name, resolved to ids; each becomes an added token (matched whole in text),
// as Hugging Face treats special tokens.
void resolveSpecial(const NamedSpecialTokens& names, const std::string& json_unk, BpeDefinition& definition) {
  const auto idOf = [&](const std::string& text) -> std::optional<TokenId> {
    for (const BpeDefinition::AddedToken& token : definition.added) {
      if (token.content == text) return token.id;
    }
    const std::string byte_level = toByteLevel(text);
    for (const auto& [token, id] : definition.vocab) {
      if (token == byte_level || token == text) return id;
    }
    return std::nullopt;
  };
  const auto resolve = [&](const NamedSpecialTokens::Name& name,
                           std::optional<std::string> fallback) -> std::optional<TokenId> {
    std::optional<std::string> text = name.given ? name.text : fallback;
    if (!text) return std::nullopt;
    const std::optional<TokenId> id = idOf(*text);
    if (!id) {
      if (!name.given) return std::nullopt;  // a fallback that this vocabulary lacks names nothing
      throwTokenizerError(name.file, name.key + " '" + *text + "' is not in the vocabulary");
    }
    addIfMissing(definition, *text, *id);
    return id;
  };
  // GPT-2's convention when nothing names them: <|endoftext|> begins and ends a text.
  const std::string gpt2 = "<|endoftext|>";
  definition.special.bos = resolve(names.bos, gpt2);
  definition.special.eos = resolve(names.eos, gpt2);
  definition.special.pad = resolve(names.pad, std::nullopt);
  definition.special.unk = resolve(names.unk, json_unk.empty() ? std::nullopt : std::optional<std::string>(json_unk));
}

}  // namespace

std::unique_ptr<const Tokenizer> openBpeTokenizer(const fs::path& file) {
  const fs::path folder = file.parent_path();
  BpeDefinition definition;
  std::string json_unk;
  if (file.filename() == "tokenizer.json") {
    readTokenizerJsonFile(file, definition, json_unk);
    definition.files.push_back(file);
  } else {
    const fs::path merges = folder / "merges.txt";
    if (!fs::is_regular_file(merges)) throwTokenizerError(folder, "has vocab.json but no merges.txt beside it");
    readVocab(readTokenizerJson(file), file, "the vocabulary", definition);
    readMergesText(merges, definition);
    definition.files = {file, merges};
    const fs::path added = folder / "added_tokens.json";
    if (fs::is_regular_file(added)) {
      const json tokens = readTokenizerJson(added);
      if (!tokens.is_object()) throwTokenizerError(added, "is not an object of token -> id");
      for (const auto& [content, id] : tokens.items()) {
        if (!id.is_number_integer()) throwTokenizerError(added, "token '" + content + "' has no integer id");
        definition.added.push_back({content, id.get<TokenId>()});
      }
      definition.files.push_back(added);
    }
  }
  const NamedSpecialTokens names = readSpecialTokenConfig(folder);
  for (const auto& [id, content] : names.added) addIfMissing(definition, content, id);
  resolveSpecial(names, json_unk, definition);
  definition.files.insert(definition.files.end(), names.files.begin(), names.files.end());
  return makeBpeTokenizer(std::move(definition));
}

}  // namespace behemoth
