// Shared by the tokenizer tests: the whole builtin corpus plus a sample of what it lacks
// (non-ASCII letters and digits, contractions in both cases, \r\n, tabs, runs of spaces, the
// special token), written to a file for the independent scripts, and their int32 ids read back.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "backend/data/corpus.h"
#include "backend/tokenizer/tokenizer.h"
#include "tests/support/command.h"

namespace behemoth {

inline const std::string& tokenizerTestSample() {
  static const std::string sample =
      "\nÜnïcödé naïve café Straße ΕΛΛΗΝΙΚΆ 東京タワー Москва ٣٤٥ ۱۲۳ Ⅻ ²³ x² — "
      "they'll We'RE it'S I'M you'D 'LL ''s '\r\n\r\n  \t\tindent\u00a0nbsp\u3000wide  \n"
      "12345678 3.14159 <|endoftext|>after<|endoftext|> <|endoftext|>\n   trailing   ";
  return sample;
}

inline const std::string& tokenizerTestText() {
  static const std::string text = loadCorpus("builtin").bytes + tokenizerTestSample();
  return text;
}

inline std::vector<TokenId> readIds(const std::string& path) {
  const std::string bytes = readFile(path);
  std::vector<TokenId> ids(bytes.size() / sizeof(TokenId));
  std::memcpy(ids.data(), bytes.data(), ids.size() * sizeof(TokenId));
  return ids;
}

// Where two id sequences first differ, with the ids around it, for a failure message.
inline std::string firstDifference(const std::vector<TokenId>& engine, const std::vector<TokenId>& reference) {
  std::size_t at = 0;
  while (at < engine.size() && at < reference.size() && engine[at] == reference[at]) ++at;
  if (at == engine.size() && at == reference.size()) return "identical";
  std::string out = "sizes " + std::to_string(engine.size()) + " vs " + std::to_string(reference.size()) +
                    ", first difference at " + std::to_string(at) + ": engine";
  for (std::size_t i = at; i < at + 8 && i < engine.size(); ++i) out += " " + std::to_string(engine[i]);
  out += " / reference";
  for (std::size_t i = at; i < at + 8 && i < reference.size(); ++i) out += " " + std::to_string(reference[i]);
  return out;
}

}  // namespace behemoth
