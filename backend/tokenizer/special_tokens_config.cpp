#include "backend/tokenizer/special_tokens_config.h"

#include "backend/tokenizer/tokenizer_files.h"

namespace behemoth {

namespace {

void readName(const nlohmann::json& config, const std::filesystem::path& file, const std::string& key,
              NamedSpecialTokens::Name& name) {
  if (name.given || !config.contains(key)) return;
  const nlohmann::json& value = config.at(key);
  name.given = true;
  name.file = file;
  name.key = key;
  if (value.is_null()) return;
  if (value.is_string()) {
    name.text = value.get<std::string>();
  } else if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    name.text = value.at("content").get<std::string>();
  } else {
    throwTokenizerError(file, key + " is neither a string nor an object with a \"content\" string");
  }
}

}  // namespace

NamedSpecialTokens readSpecialTokenConfig(const std::filesystem::path& folder) {
  NamedSpecialTokens names;
  for (const char* file_name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::filesystem::path file = folder / file_name;
    if (!std::filesystem::is_regular_file(file)) continue;
    const nlohmann::json config = readTokenizerJson(file);
    if (!config.is_object()) throwTokenizerError(file, "is not a JSON object");
    names.files.push_back(file);
    readName(config, file, "bos_token", names.bos);
    readName(config, file, "eos_token", names.eos);
    readName(config, file, "pad_token", names.pad);
    readName(config, file, "unk_token", names.unk);
    if (config.contains("added_tokens_decoder")) {
      const nlohmann::json& decoder = config.at("added_tokens_decoder");
      if (!decoder.is_object()) throwTokenizerError(file, "added_tokens_decoder is not an object");
      for (const auto& [id_text, token] : decoder.items()) {
        TokenId id = 0;
        try {
          id = std::stoi(id_text);
        } catch (const std::exception&) {
          throwTokenizerError(file, "added_tokens_decoder key '" + id_text + "' is not a token id");
        }
        if (!token.is_object() || !token.contains("content") || !token.at("content").is_string()) {
          throwTokenizerError(file, "added_tokens_decoder[\"" + id_text + "\"] has no \"content\" string");
        }
        names.added.emplace_back(id, token.at("content").get<std::string>());
      }
    }
  }
  return names;
}

}  // namespace behemoth
