// A corpus tokenized once: a file of token ids in `folder`, named by a key of the corpus's bytes
// and documents and of tokenizer.contentKey(), so a change to either tokenizes again, and memory-
// mapped when read. Format (docs/data.md#tokenized-datasets), little-endian:
//   0  "BHMTOKEN"   8  u32 format version (1)   12  u32 bytes per id (2 or 4)
//   16 u64 id count 24  u64 key   32  24 chars "xxh3-64:<hex>" of the ids   56  u64 vocabulary
//   64 the ids: uint16 when the vocabulary has at most 65536 ids, else uint32
// Written to a temporary file, fsynced and renamed into place (as durable_files.h does), so a
// reader sees a whole file or none; every header field and the checksum are verified on open, and
// a cache that fails (torn by a disk, from an older format, edited) is tokenized again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/data/corpus.h"
#include "backend/data/token_array.h"
#include "backend/tokenizer/tokenizer.h"

namespace behemoth {

// The ids of the corpus: each document (Corpus::documentStarts) encoded in pieces that end at a
// line break (at most about 1 MiB each, so progress moves and memory stays bounded), followed by
// the tokenizer's end-of-text id when it has one; an empty document adds nothing. `progress` gets
// the bytes done so far. Throws std::invalid_argument("data.tokenizer: ...") for an id outside
// [0, vocabSize()).
std::vector<TokenId> tokenizeCorpus(const Corpus& corpus, const Tokenizer& tokenizer,
                                    const std::function<void(std::int64_t)>& progress = {});

// 16 hex digits naming the cache of (corpus, tokenizer).
std::string tokenCacheKey(const Corpus& corpus, const Tokenizer& tokenizer);
// 2 or 4: the bytes of one id for a vocabulary.
int tokenIdBytes(std::int64_t vocab_size);

// Writes `ids` as a cache file at `path` atomically; throws std::runtime_error naming the path.
void writeTokenCache(const std::filesystem::path& path, const std::vector<TokenId>& ids, std::int64_t vocab_size,
                     const std::string& key);
// Maps the cache at `path` when it is whole and made for `key` and `vocab_size`; nullptr otherwise,
// with the reason in `why_not` ("no file" when it is absent).
std::shared_ptr<const TokenArray> readTokenCache(const std::filesystem::path& path, const std::string& key,
                                                 std::int64_t vocab_size, std::string& why_not);

struct TokenCache {
  std::shared_ptr<const TokenArray> tokens;
  std::filesystem::path path;
  bool built = false;          // tokenized now (false: an existing cache was reused)
  std::string rebuilt_because; // set when an existing file was refused and replaced
};

// The cache of (corpus, tokenizer) in `folder`, tokenized and written first when it is absent or
// refused. `show_progress`: the progress bar on stderr (when stderr is a terminal). Every process
// may call it at once: each builder writes its own temporary file and the renames replace whole
// files with the same contents.
TokenCache openTokenCache(const Corpus& corpus, const Tokenizer& tokenizer, const std::filesystem::path& folder,
                          bool show_progress);

}  // namespace behemoth
