// A text corpus for byte-level language modelling: vocabulary 256, token = byte value.
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
// Throws std::invalid_argument("data.corpus: ...") naming the path for a missing or special file,
// an empty folder or corpus, an unreadable or binary file (one holding a NUL byte), or when no
// builtin source exists.
Corpus loadCorpus(const std::string& spec, std::int64_t builtin_cap = kBuiltinCorpusCap);

// The files the builtin corpus reads, in order (before the cap).
std::vector<std::string> builtinCorpusFiles();

}  // namespace behemoth
