#include "backend/data/token_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "backend/checkpoint/checksum.h"
#include "backend/checkpoint/durable_files.h"
#include "backend/data/counter_rng.h"
#include "backend/data/tokenize_progress.h"

namespace behemoth {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'B', 'H', 'M', 'T', 'O', 'K', 'E', 'N'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::size_t kHeaderBytes = 64;
constexpr std::size_t kChecksumChars = 24;  // "xxh3-64:" and 16 hex digits
constexpr std::size_t kPieceBytes = std::size_t{1} << 20;

// The fixed header, field by field at the offsets the format names.
struct Header {
  std::uint32_t version = kFormatVersion;
  std::uint32_t id_bytes = 0;
  std::uint64_t count = 0;
  std::uint64_t key = 0;
  std::string checksum;
  std::uint64_t vocab = 0;
};

template <typename T>
void put(std::array<char, kHeaderBytes>& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

template <typename T>
T get(const char* bytes, std::size_t at) {
  T value{};
  std::memcpy(&value, bytes + at, sizeof value);
  return value;
}

std::array<char, kHeaderBytes> encodeHeader(const Header& header) {
  std::array<char, kHeaderBytes> bytes{};
  std::memcpy(bytes.data(), kMagic, sizeof kMagic);
  put(bytes, 8, header.version);
  put(bytes, 12, header.id_bytes);
  put(bytes, 16, header.count);
  put(bytes, 24, header.key);
  std::memcpy(bytes.data() + 32, header.checksum.data(), std::min(header.checksum.size(), kChecksumChars));
  put(bytes, 56, header.vocab);
  return bytes;
}

std::uint64_t parseKey(const std::string& key) { return std::stoull(key, nullptr, 16); }

// A read-only mapping of a whole cache file; its ids start after the header.
class MappedTokens final : public TokenArray {
 public:
  MappedTokens(const void* data, std::size_t bytes, int id_bytes, std::int64_t count)
      : data_(data), bytes_(bytes), id_bytes_(id_bytes), count_(count) {}
  ~MappedTokens() override { ::munmap(const_cast<void*>(data_), bytes_); }
  MappedTokens(const MappedTokens&) = delete;
  MappedTokens& operator=(const MappedTokens&) = delete;

  std::int64_t size() const override { return count_; }
  const char* unit() const override { return "tokens"; }
  void copy(std::int64_t offset, std::int64_t count, std::int64_t* out) const override {
    const char* ids = static_cast<const char*>(data_) + kHeaderBytes;
    if (id_bytes_ == 2) {
      for (std::int64_t k = 0; k < count; ++k) out[k] = get<std::uint16_t>(ids, std::size_t(offset + k) * 2);
    } else {
      for (std::int64_t k = 0; k < count; ++k) out[k] = get<std::uint32_t>(ids, std::size_t(offset + k) * 4);
    }
  }
  const char* ids() const { return static_cast<const char*>(data_) + kHeaderBytes; }

 private:
  const void* data_;
  std::size_t bytes_;
  int id_bytes_;
  std::int64_t count_;
};

std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "host";
  return name;
}

// The end of the piece that starts at `begin` in [begin, end): after the last line break within
// kPieceBytes, else after the first one beyond, else the document's end.
std::size_t pieceEnd(const std::string& bytes, std::size_t begin, std::size_t end) {
  if (end - begin <= kPieceBytes) return end;
  const std::size_t last = bytes.rfind('\n', begin + kPieceBytes - 1);
  if (last != std::string::npos && last >= begin) return last + 1;
  const std::size_t next = bytes.find('\n', begin + kPieceBytes);
  return next == std::string::npos || next >= end ? end : next + 1;
}

}  // namespace

std::vector<TokenId> tokenizeCorpus(const Corpus& corpus, const Tokenizer& tokenizer,
                                    const std::function<void(std::int64_t)>& progress) {
  std::vector<TokenId> ids;
  ids.reserve(static_cast<std::size_t>(corpus.size() / 3));
  const std::optional<TokenId> eos = tokenizer.special().eos;
  const std::int64_t vocab = tokenizer.vocabSize();
  // A corpus built in memory without document starts is one document.
  const std::vector<std::int64_t> whole{0};
  const auto& starts = corpus.documentStarts.empty() ? whole : corpus.documentStarts;
  for (std::size_t d = 0; d < starts.size(); ++d) {
    const auto begin = static_cast<std::size_t>(starts[d]);
    const auto end = static_cast<std::size_t>(d + 1 < starts.size() ? starts[d + 1] : corpus.size());
    if (begin == end) continue;
    for (std::size_t piece = begin; piece < end;) {
      const std::size_t piece_end = pieceEnd(corpus.bytes, piece, end);
      const std::size_t first_new = ids.size();
      const auto encoded = tokenizer.encode(std::string_view(corpus.bytes).substr(piece, piece_end - piece));
      ids.insert(ids.end(), encoded.begin(), encoded.end());
      for (std::size_t k = first_new; k < ids.size(); ++k) {
        if (ids[k] < 0 || ids[k] >= vocab) {
          throw std::invalid_argument("data.tokenizer: the " + tokenizer.kind() + " tokenizer gave id " +
                                      std::to_string(ids[k]) + ", outside its vocabulary of " + std::to_string(vocab));
        }
      }
      piece = piece_end;
      if (progress) progress(static_cast<std::int64_t>(piece));
    }
    if (eos) ids.push_back(*eos);
  }
  return ids;
}

std::string tokenCacheKey(const Corpus& corpus, const Tokenizer& tokenizer) {
  // Everything that decides the ids: this format and its rules, the tokenizer's contents, the
  // corpus's bytes and where its documents start.
  std::string identity = "behemoth token cache " + std::to_string(kFormatVersion) + " pieces " +
                         std::to_string(kPieceBytes) + "\n" + tokenizer.contentKey() + "\n" +
                         std::to_string(corpus.contentHash()) + " " + std::to_string(corpus.size()) + "\n";
  for (const std::int64_t start : corpus.documentStarts) identity += std::to_string(start) + " ";
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(stableNameHash(identity)));
  return text;
}

int tokenIdBytes(std::int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

void writeTokenCache(const fs::path& path, const std::vector<TokenId>& ids, std::int64_t vocab_size,
                     const std::string& key) {
  const int id_bytes = tokenIdBytes(vocab_size);
  std::vector<char> payload(ids.size() * static_cast<std::size_t>(id_bytes));
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (id_bytes == 2) {
      const auto id = static_cast<std::uint16_t>(ids[k]);
      std::memcpy(payload.data() + k * 2, &id, 2);
    } else {
      const auto id = static_cast<std::uint32_t>(ids[k]);
      std::memcpy(payload.data() + k * 4, &id, 4);
    }
  }
  Header header;
  header.id_bytes = static_cast<std::uint32_t>(id_bytes);
  header.count = ids.size();
  header.key = parseKey(key);
  header.checksum = checksumOf(payload.data(), payload.size());
  header.vocab = static_cast<std::uint64_t>(vocab_size);
  const auto head = encodeHeader(header);

  fs::create_directories(path.parent_path());
  // Host and process in the name: ranks of several nodes may share the folder.
  const fs::path temporary = path.string() + ".tmp." + hostName() + "." + std::to_string(::getpid());
  try {
    SequentialFileWriter writer(temporary);
    writer.write(head.data(), head.size());
    writer.write(payload.data(), payload.size());
    writer.finish();
    fs::rename(temporary, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  fsyncPath(path.parent_path());
}

std::shared_ptr<const TokenArray> readTokenCache(const fs::path& path, const std::string& key, std::int64_t vocab_size,
                                                 std::string& why_not) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why_not = errno == ENOENT ? "no file" : "cannot open it (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  struct stat info {};
  const bool stated = ::fstat(fd, &info) == 0;
  const auto bytes = stated ? static_cast<std::size_t>(info.st_size) : 0;
  if (bytes < kHeaderBytes) {
    ::close(fd);
    why_not = "it is shorter than its header";
    return nullptr;
  }
  void* data = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) {
    why_not = "cannot map it";
    return nullptr;
  }
  const auto* head = static_cast<const char*>(data);
  const auto id_bytes = get<std::uint32_t>(head, 12);
  const auto count = get<std::uint64_t>(head, 16);
  // Owns the mapping from here: every refusal below unmaps it.
  auto tokens = std::make_shared<const MappedTokens>(data, bytes, id_bytes == 4 ? 4 : 2, static_cast<std::int64_t>(count));
  const std::string checksum(head + 32, kChecksumChars);
  if (std::memcmp(head, kMagic, sizeof kMagic) != 0) {
    why_not = "it is not a token cache (wrong magic)";
  } else if (get<std::uint32_t>(head, 8) != kFormatVersion) {
    why_not = "its format version is " + std::to_string(get<std::uint32_t>(head, 8)) + ", not " + std::to_string(kFormatVersion);
  } else if (get<std::uint64_t>(head, 24) != parseKey(key)) {
    why_not = "its header names another corpus or tokenizer";
  } else if (id_bytes != static_cast<std::uint32_t>(tokenIdBytes(vocab_size)) ||
             get<std::uint64_t>(head, 56) != static_cast<std::uint64_t>(vocab_size)) {
    why_not = "it was written for another vocabulary";
  } else if (count > (bytes - kHeaderBytes) / id_bytes || kHeaderBytes + count * id_bytes != bytes) {
    why_not = "its size " + std::to_string(bytes) + " does not match its " + std::to_string(count) + " ids";
  } else if (checksumOf(tokens->ids(), bytes - kHeaderBytes) != checksum) {
    why_not = "its ids do not match their checksum";
  } else {
    return tokens;
  }
  return nullptr;
}

TokenCache openTokenCache(const Corpus& corpus, const Tokenizer& tokenizer, const fs::path& folder, bool show_progress) {
  const std::string key = tokenCacheKey(corpus, tokenizer);
  TokenCache cache;
  cache.path = folder / (key + ".tokens");
  std::string why_not;
  cache.tokens = readTokenCache(cache.path, key, tokenizer.vocabSize(), why_not);
  if (cache.tokens) return cache;
  if (why_not != "no file") cache.rebuilt_because = why_not;
  std::vector<TokenId> ids;
  {
    TokenizeProgress bar(corpus.source, corpus.size(), show_progress && TokenizeProgress::onTerminal());
    ids = tokenizeCorpus(corpus, tokenizer, [&bar](std::int64_t done) { bar.update(done); });
  }
  try {
    writeTokenCache(cache.path, ids, tokenizer.vocabSize(), key);
  } catch (const std::exception& failure) {
    throw std::runtime_error("data.tokenizer: cannot write the token cache: " + std::string(failure.what()));
  }
  cache.built = true;
  cache.tokens = readTokenCache(cache.path, key, tokenizer.vocabSize(), why_not);
  if (!cache.tokens) throw std::runtime_error("data.tokenizer: the token cache " + cache.path.string() + " just written is unreadable: " + why_not);
  return cache;
}

}  // namespace behemoth
