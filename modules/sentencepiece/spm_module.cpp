// libbehemoth_spm.so: SentencePiece behind the C interface of backend/tokenizer/spm_module_abi.h.
// Linked against libsentencepiece only (never LibTorch); see that header for why.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/tokenizer/spm_module_abi.h"

namespace sentencepiece::logging {
void SetMinLogLevel(int level);  // exported by libsentencepiece, not declared in its headers
}

namespace {

void report(BehemothSpmBytesSink sink, void* context, const std::string& message) {
  sink(context, message.data(), message.size());
}

sentencepiece::SentencePieceProcessor& processorOf(void* handle) {
  return *static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

void* open(const char* model, size_t size, BehemothSpmBytesSink error, void* error_context) {
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->LoadFromSerializedProto(std::string_view(model, size));
  if (!status.ok()) {
    report(error, error_context, status.ToString());
    return nullptr;
  }
  return processor.release();  // owned by the caller's handle, freed by close()
}

void close(void* processor) { delete static_cast<sentencepiece::SentencePieceProcessor*>(processor); }

int32_t pieceCount(void* processor) { return processorOf(processor).GetPieceSize(); }

void piece(void* processor, int32_t id, BehemothSpmBytesSink sink, void* context) {
  report(sink, context, processorOf(processor).IdToPiece(id));
}

int32_t specialId(void* processor, int which) {
  const auto& p = processorOf(processor);
  switch (which) {
    case kBehemothSpmBos:
      return p.bos_id();
    case kBehemothSpmEos:
      return p.eos_id();
    case kBehemothSpmPad:
      return p.pad_id();
    default:
      return p.unk_id();
  }
}

int encode(void* processor, const char* text, size_t size, BehemothSpmIdsSink sink, void* context,
           BehemothSpmBytesSink error, void* error_context) {
  std::vector<int> ids;
  const auto status = processorOf(processor).Encode(std::string_view(text, size), &ids);
  if (!status.ok()) {
    report(error, error_context, status.ToString());
    return 1;
  }
  static_assert(sizeof(int) == sizeof(int32_t));
  sink(context, reinterpret_cast<const int32_t*>(ids.data()), ids.size());
  return 0;
}

int decode(void* processor, const int32_t* ids, size_t count, BehemothSpmBytesSink sink, void* context,
           BehemothSpmBytesSink error, void* error_context) {
  std::string text;
  const auto status = processorOf(processor).Decode(std::vector<int>(ids, ids + count), &text);
  if (!status.ok()) {
    report(error, error_context, status.ToString());
    return 1;
  }
  report(sink, context, text);
  return 0;
}

// The training text's lines, read in place.
class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(std::string_view text) : text_(text) { advance(); }
  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void advance() {
    while (offset_ < text_.size()) {  // empty lines say nothing to the trainer
      std::size_t end = text_.find('\n', offset_);
      if (end == std::string_view::npos) end = text_.size();
      line_.assign(text_.substr(offset_, end - offset_));
      offset_ = end + 1;
      if (!line_.empty()) return;
    }
    done_ = true;
  }

  std::string_view text_;
  std::size_t offset_ = 0;
  std::string line_;
  bool done_ = false;
};

int train(const char* options, const char* text, size_t size, BehemothSpmBytesSink model, void* context,
          BehemothSpmBytesSink error, void* error_context) {
  sentencepiece::logging::SetMinLogLevel(
      2);  // errors only: its progress and warnings are not ours to print; a refusal comes back as the status
  sentencepiece::SetRandomGeneratorSeed(20240613);
  LineIterator lines(std::string_view(text, size));
  std::string serialized;
  const auto status = sentencepiece::SentencePieceTrainer::Train(options, &lines, &serialized);
  if (!status.ok()) {
    report(error, error_context, status.ToString());
    return 1;
  }
  report(model, context, serialized);
  return 0;
}

const BehemothSpmApi kApi = {kBehemothSpmAbiVersion, open, close, pieceCount, piece, specialId, encode, decode, train};

}  // namespace

extern "C" __attribute__((visibility("default"))) const BehemothSpmApi* behemoth_spm_api(void) { return &kApi; }
