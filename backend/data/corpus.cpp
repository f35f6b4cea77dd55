#include "backend/data/corpus.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "backend/data/counter_rng.h"
#include "backend/data/jsonl_corpus.h"

namespace behemoth {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLicenseFolder = "/usr/share/common-licenses";
constexpr const char* kCxxHeaderRoot = "/usr/include/c++";

// "12" -> {12}, "4.9.2" -> {4, 9, 2}; nullopt for names like "v1" that are not versions.
std::optional<std::vector<int>> parseVersion(const std::string& name) {
  std::vector<int> parts;
  std::stringstream stream(name);
  std::string part;
  while (std::getline(stream, part, '.')) {
    if (part.empty() || !std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return std::nullopt;
    }
    parts.push_back(std::stoi(part));
  }
  if (parts.empty()) return std::nullopt;
  return parts;
}

std::optional<fs::path> highestCxxHeaderFolder() {
  std::error_code error;
  if (!fs::is_directory(kCxxHeaderRoot, error)) return std::nullopt;
  std::optional<fs::path> best;
  std::vector<int> best_version;
  for (const auto& entry : fs::directory_iterator(kCxxHeaderRoot, error)) {
    if (!entry.is_directory()) continue;
    const auto version = parseVersion(entry.path().filename().string());
    if (version && (!best || *version > best_version)) {
      best = entry.path();
      best_version = *version;
    }
  }
  return best;
}

std::vector<std::string> regularFilesUnder(const fs::path& folder, bool skip_symlinks) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied)) {
    if (skip_symlinks && entry.is_symlink()) continue;
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The file, or its first `limit` bytes. A NUL byte marks a binary file (an image, an archive, a
// compiled object): training on it is never what the user meant.
std::string readTextFile(const std::string& path, std::int64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("data.corpus: cannot read " + path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::invalid_argument("data.corpus: cannot read " + path);
  if (static_cast<std::int64_t>(content.size()) > limit) content.resize(static_cast<std::size_t>(limit));
  const std::size_t nul = content.find('\0');
  if (nul != std::string::npos) {
    throw std::invalid_argument("data.corpus: " + path + " is binary, not text (a NUL byte at offset " +
                                std::to_string(nul) + "); give text files");
  }
  return content;
}

Corpus readFiles(const std::vector<std::string>& files, std::int64_t cap, std::string source) {
  Corpus corpus;
  corpus.source = std::move(source);
  for (const auto& file : files) {
    const std::int64_t room = cap - corpus.size();
    if (room <= 0) break;
    const std::string content = readTextFile(file, room);
    if (isJsonlFile(file)) {
      appendJsonlDocuments(file, content, corpus);
    } else {
      corpus.documentStarts.push_back(corpus.size());
      corpus.bytes += content;
    }
    ++corpus.fileCount;
  }
  return corpus;
}

}  // namespace

std::uint64_t Corpus::contentHash() const { return stableNameHash(bytes); }

std::vector<std::string> builtinCorpusFiles() {
  std::vector<std::string> files;
  std::error_code error;
  if (fs::is_directory(kLicenseFolder, error)) files = regularFilesUnder(kLicenseFolder, /*skip_symlinks=*/true);
  if (const auto headers = highestCxxHeaderFolder()) {
    const auto header_files = regularFilesUnder(*headers, /*skip_symlinks=*/false);
    files.insert(files.end(), header_files.begin(), header_files.end());
  }
  return files;
}

Corpus loadCorpus(const std::string& spec, std::int64_t builtin_cap) {
  if (spec == "builtin") {
    const auto files = builtinCorpusFiles();
    if (files.empty()) {
      throw std::invalid_argument(std::string("data.corpus: builtin corpus found no text in ") + kLicenseFolder +
                                  " or " + kCxxHeaderRoot + "/<version>; give a path to a text file or folder");
    }
    Corpus corpus = readFiles(files, builtin_cap, "builtin");
    corpus.source = "builtin (" + std::to_string(corpus.fileCount) + " files, " + std::to_string(corpus.size()) +
                    " bytes)";
    return corpus;
  }
  std::error_code error;
  const fs::path path(spec);
  if (!fs::exists(path, error)) throw std::invalid_argument("data.corpus: no such file or folder: " + spec);
  const bool folder = fs::is_directory(path, error);
  if (!folder && !fs::is_regular_file(path, error)) {
    throw std::invalid_argument("data.corpus: " + spec + " is neither a regular file nor a folder");
  }
  std::vector<std::string> files{spec};
  try {
    if (folder) files = regularFilesUnder(path, /*skip_symlinks=*/false);
  } catch (const fs::filesystem_error& failure) {
    throw std::invalid_argument("data.corpus: cannot list " + spec + ": " + failure.code().message());
  }
  if (folder && files.empty()) throw std::invalid_argument("data.corpus: the folder " + spec + " holds no files");
  Corpus corpus = readFiles(files, std::numeric_limits<std::int64_t>::max(), spec);
  if (corpus.size() == 0) throw std::invalid_argument("data.corpus: " + spec + " holds no bytes");
  return corpus;
}

}  // namespace behemoth
