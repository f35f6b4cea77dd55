// A text corpus: its bytes (what the byte tokenizer trains on: vocabulary 256, token = byte value)
// and where its documents start (what a real tokenizer separates with its end-of-text token).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace behemoth {

struct Corpus {
  static constexpr int kVocabSize = 256;

  std::string bytes;   // the text, in reading order
  std::string source;  // what was read, for logs: "builtin (…)" or the path
  std::int64_t fileCount = 0;
  // Offset in `bytes` of each document, ascending, the first 0: a text file is one document, a
  // .jsonl file one per line. A document ends where the next one starts.
  std::vector<std::int64_t> documentStarts;

  std::int64_t size() const { return static_cast<std::int64_t>(bytes.size()); }
  // A hash of the bytes (FNV-1a, 64 bits): ranks compare it to be sure they train on one text.
  std::uint64_t contentHash() const;
};

// The builtin corpus is capped so that every machine loads it quickly.
inline constexpr std::int64_t kBuiltinCorpusCap = std::int64_t{8} << 20;

// spec "builtin": real text present on any machine that builds this project, read at run time:
//   the regular files of /usr/share/common-licenses (symbolic links skipped: they duplicate files),
//   then every file under /usr/include/c++/<highest version>/, each group sorted by path,
//   concatenated and cut at `builtin_cap` bytes. Deterministic for a given machine.
// Otherwise a path: a file, or a folder whose regular files (recursively) are read sorted by path.
// A file named *.jsonl holds one document per non-blank line, a JSON object whose "text" string is
// the document; each document's text is followed by a line break in `bytes` (jsonl_corpus.h).
// Throws std::invalid_argument("data.corpus: ...") naming the path for a missing or special file,
// an empty folder or corpus, an unreadable or binary file (one holding a NUL byte), or when no
// builtin source exists; naming FILE:LINE for a malformed JSONL line.
Corpus loadCorpus(const std::string& spec, std::int64_t builtin_cap = kBuiltinCorpusCap);

// The files the builtin corpus reads, in order (before the cap).
std::vector<std::string> builtinCorpusFiles();

}  // namespace behemoth
