// Stand-in for the tokenizer helper's openTokenizer while the data pipeline is built: it knows
// only "byte". Replaced at merge by the real one (BPE and SentencePiece); delete this file then.
#include <stdexcept>

#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

std::unique_ptr<const Tokenizer> makeByteTokenizer();  // byte_tokenizer.cpp

std::unique_ptr<const Tokenizer> openTokenizer(const std::string& spec) {
  if (spec == "byte") return makeByteTokenizer();
  throw std::invalid_argument("data.tokenizer: " + spec + ": only \"byte\" is available in this build");
}

}  // namespace behemoth
