// `behemoth tokenizer train|encode|decode|show`: make a SentencePiece tokenizer from a corpus, and
// look at what any tokenizer (data.tokenizer's spec) does with a text (docs/tokenizers.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend/cli/commands.h"
#include "backend/data/corpus.h"
#include "backend/tokenizer/sentencepiece_training.h"
#include "backend/hf/vocabulary_growth.h"
#include "backend/model/hf_config.h"
#include "backend/tokenizer/tokenizer.h"
#include "backend/tokenizer/vocabulary_extension.h"

namespace behemoth {

namespace {

struct TokenizerOptions {
  std::string corpus;
  std::string out_dir;
  SentencePieceTrainingOptions training;
  std::string spec;
  std::string text;
  std::vector<TokenId> ids;
  std::string tokens_file;
  bool force = false;
};

int trainCommand(const TokenizerOptions& options) {
  checkSentencePieceTrainingOptions(options.training);
  const Corpus corpus = loadCorpus(options.corpus);
  // On stdout: stderr is the one line of a refusal, alone.
  std::cout << "training a SentencePiece BPE tokenizer of " << options.training.vocab_size << " tokens on "
            << corpus.source << std::endl;
  trainSentencePieceTokenizer(corpus.bytes, options.training, options.out_dir);
  const auto tokenizer = openTokenizer(options.out_dir);
  const std::size_t tokens = tokenizer->encode(corpus.bytes).size();
  std::cout << "wrote " << options.out_dir << "/tokenizer.model: " << tokenizer->vocabSize() << " tokens, " << tokens
            << " on the corpus of " << corpus.size() << " bytes ("
            << static_cast<double>(corpus.size()) / static_cast<double>(tokens) << " bytes per token)\n";
  return 0;
}

std::string idsText(const std::vector<TokenId>& ids) {
  std::ostringstream text;
  for (std::size_t i = 0; i < ids.size(); ++i) text << (i ? " " : "") << ids[i];
  return text.str();
}

nlohmann::json describe(const Tokenizer& tokenizer) {
  const SpecialTokens special = tokenizer.special();
  const auto id = [](const std::optional<TokenId>& value) { return value ? nlohmann::json(*value) : nlohmann::json(); };
  nlohmann::json files = nlohmann::json::array();
  for (const auto& file : tokenizer.files()) files.push_back(file.string());
  return {{"kind", tokenizer.kind()},
          {"vocab_size", tokenizer.vocabSize()},
          {"bos", id(special.bos)},
          {"eos", id(special.eos)},
          {"pad", id(special.pad)},
          {"unk", id(special.unk)},
          {"content_key", tokenizer.contentKey()},
          {"files", files}};
}

// `tokenizer extend MODEL_DIR --tokens FILE --out DIR`: the tokenizer gains the file's tokens and
// the model an embedding (and head) row for each, the mean of the old rows.
int extendCommand(const TokenizerOptions& options) {
  const std::filesystem::path model_dir = options.spec;
  const TokenizerExtension extension = extendTokenizer(model_dir, readTokenList(options.tokens_file));
  const ModelConfig config = modelConfigFromHfFile((model_dir / "config.json").string());
  const std::int64_t vocab = std::max<std::int64_t>(config.vocab_size, extension.new_size);
  const VocabularyGrowth growth =
      growHfVocabulary(model_dir, options.out_dir, extension.old_size, vocab, extension.files, options.force);
  std::cout << "added " << extension.added.size() << " tokens (ids " << extension.old_size << " to "
            << extension.new_size - 1 << "); " << extension.already_present.size()
            << " were single tokens already; vocabulary " << growth.old_vocab_size << " -> " << growth.new_vocab_size
            << ", new rows of";
  for (const std::string& name : growth.grown_tensors) std::cout << " " << name;
  std::cout << " set to the mean of the old rows; wrote " << options.out_dir << "\n";
  return 0;
}

}  // namespace

void addTokenizerCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<TokenizerOptions>();
  CLI::App* tokenizer = app.add_subcommand("tokenizer", "Train a SentencePiece tokenizer; encode and decode with any");
  tokenizer->require_subcommand(1);

  CLI::App* train = tokenizer->add_subcommand("train", "Train a SentencePiece BPE tokenizer on a corpus");
  train->add_option("corpus", options->corpus, "\"builtin\", a text file, or a folder of them")->required();
  train->add_option("--vocab", options->training.vocab_size, "Vocabulary size")->required();
  train->add_option("--out", options->out_dir, "Folder for tokenizer.model and tokenizer_config.json")->required();

  CLI::App* encode = tokenizer->add_subcommand("encode", "Print the ids of a text");
  encode->add_option("tokenizer", options->spec, "\"byte\", or a tokenizer folder or file")->required();
  encode->add_option("text", options->text, "The text")->required();
  CLI::App* decode = tokenizer->add_subcommand("decode", "Print the text of ids");
  decode->add_option("tokenizer", options->spec, "\"byte\", or a tokenizer folder or file")->required();
  decode->add_option("ids", options->ids, "Token ids")->required();
  CLI::App* show = tokenizer->add_subcommand("show", "Kind, vocabulary size, special tokens, content key (JSON)");
  show->add_option("tokenizer", options->spec, "\"byte\", or a tokenizer folder or file")->required();

  CLI::App* extend = tokenizer->add_subcommand("extend", "Add tokens to a Hugging Face model's tokenizer and grow its embedding");
  extend->add_option("model", options->spec, "A Hugging Face model directory with its tokenizer")->required();
  extend->add_option("--tokens", options->tokens_file, "A file of new tokens, one per line")->required();
  extend->add_option("--out", options->out_dir, "The directory of the extended model")->required();
  extend->add_flag("--force", options->force, "Replace --out if it exists and is not empty");

  tokenizer->callback([&action, options, train, encode, decode, extend] {
    action = [=] {
      if (train->parsed()) return trainCommand(*options);
      if (extend->parsed()) return extendCommand(*options);
      const auto opened = openTokenizer(options->spec);
      if (encode->parsed()) {
        std::cout << idsText(opened->encode(options->text)) << "\n";
      } else if (decode->parsed()) {
        std::cout << opened->decode(options->ids) << "\n";
      } else {
        std::cout << describe(*opened).dump(2) << "\n";
      }
      return 0;
    };
  });
}

}  // namespace behemoth
