#include "backend/tokenizer/sentencepiece_training.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "backend/checkpoint/durable_files.h"
#include "backend/tokenizer/spm_module.h"

namespace behemoth {

std::string sentencePieceTrainerArguments(const SentencePieceTrainingOptions& options) {
  return "--model_type=bpe --vocab_size=" + std::to_string(options.vocab_size) +
         " --character_coverage=1.0 --byte_fallback=true --normalization_rule_name=identity"
         " --remove_extra_whitespaces=false --add_dummy_prefix=true --split_digits=true"
         " --allow_whitespace_only_pieces=true --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
         " --input_sentence_size=0 --shuffle_input_sentence=false --max_sentence_length=65536"
         " --num_threads=1";  // recorded in the model: any other count would change its bytes
}

namespace {

// The trainer's refusal, in the command's words where it names a size ("... smaller than
// required_chars. 300 vs 365. Increase vocab_size or decrease character_coverage ...": the
// engine has no --character_coverage, every character is kept).
std::string refusal(const std::string& trainer_message, const SentencePieceTrainingOptions& options) {
  const std::string marker = "Vocabulary size is smaller than required_chars. ";
  const std::size_t at = trainer_message.find(marker);
  if (at != std::string::npos) {
    const std::size_t vs = trainer_message.find(" vs ", at);
    const std::size_t end = vs == std::string::npos ? vs : trainer_message.find('.', vs);
    if (end != std::string::npos) {
      const std::string needed = trainer_message.substr(vs + 4, end - vs - 4);
      return "tokenizer train: --vocab " + std::to_string(options.vocab_size) + " is too small for this corpus: its " +
             "characters, 256 byte pieces and 3 special tokens need at least " + needed;
    }
  }
  return "tokenizer train: SentencePiece's trainer refused: " + trainer_message;
}

}  // namespace

void checkSentencePieceTrainingOptions(const SentencePieceTrainingOptions& options) {
  if (options.vocab_size < 260) {
    throw std::invalid_argument("tokenizer train: --vocab " + std::to_string(options.vocab_size) +
                                " is too small (256 byte pieces and 3 special tokens come first)");
  }
}

std::string trainSentencePiece(const std::string& text, const SentencePieceTrainingOptions& options) {
  checkSentencePieceTrainingOptions(options);
  const BehemothSpmApi& api = sentencePieceModule();
  SpmBytes model, error;
  const std::string arguments = sentencePieceTrainerArguments(options);
  if (api.train(arguments.c_str(), text.data(), text.size(), &SpmBytes::sink, &model, &SpmBytes::sink, &error) != 0) {
    throw std::invalid_argument(refusal(error.bytes, options));
  }
  return model.bytes;
}

void trainSentencePieceTokenizer(const std::string& text, const SentencePieceTrainingOptions& options,
                                 const std::filesystem::path& out_dir) {
  const std::string model = trainSentencePiece(text, options);
  std::filesystem::create_directories(out_dir);
  writeFileDurably(out_dir / "tokenizer.model", model);
  const nlohmann::json config = {{"bos_token", "<s>"},
                                 {"eos_token", "</s>"},
                                 {"unk_token", "<unk>"},
                                 {"pad_token", nullptr},
                                 {"add_bos_token", true},
                                 {"add_eos_token", false},
                                 {"trained_by", "behemoth tokenizer train"}};
  writeFileDurably(out_dir / "tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace behemoth
