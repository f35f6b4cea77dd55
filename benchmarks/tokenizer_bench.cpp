// The engine's tokenizers' encoding speed on a corpus: one JSON line with tokens, bytes and the
// best of `repeats` timings (benchmarks/tokenizer_speed.py puts it beside python3-sentencepiece).
//
//   build/bin/tokenizer_bench TOKENIZER_SPEC TEXT_FILE [repeats]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend/tokenizer/tokenizer.h"
#include "benchmarks/best_of.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: tokenizer_bench TOKENIZER_SPEC TEXT_FILE [repeats]\n";
    return 2;
  }
  const auto tokenizer = behemoth::openTokenizer(argv[1]);
  std::ifstream in(argv[2], std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string text = bytes.str();
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  std::size_t tokens = 0;
  const double seconds = bestSecondsOf(repeats, [&] { tokens = tokenizer->encode(text).size(); });
  const nlohmann::json line = {
      {"kind", tokenizer->kind()}, {"vocab_size", tokenizer->vocabSize()},
      {"bytes", text.size()},      {"tokens", tokens},
      {"seconds", seconds},        {"tokens_per_second", static_cast<double>(tokens) / seconds}};
  std::cout << line.dump() << "\n";
  return 0;
}
