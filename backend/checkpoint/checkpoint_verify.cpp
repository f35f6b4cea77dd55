// verifyCheckpoint: reads every byte of a checkpoint once and reports every problem it finds, one
// line each, naming the file (and the tensor). Torch-free, like the rest of the catalog.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "backend/checkpoint/checksum.h"
#include "backend/checkpoint/safetensors.h"

namespace behemoth {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kReadChunkBytes = std::size_t{8} << 20;  // files are streamed, never held whole

std::string shapeText(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::int64_t product(const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

// "its piece", naming the key only where it is not the tensor's name.
std::string pieceName(const IndexedTensor& tensor, const std::string& key) {
  return key == tensor.name ? "its piece" : "its piece (key " + key + ")";
}

// What one piece of the index expects to find in its file.
struct ExpectedPiece {
  const IndexedTensor* tensor;
  const StoredPiece* piece;
};

class Verifier {
 public:
  Verifier(const fs::path& dir, VerifyReport& report) : dir_(dir), report_(report) {}

  void run() {
    std::error_code error;
    if (!fs::is_directory(dir_, error)) {
      report_.problems.push_back(dir_.string() + ": not a directory");
      return;
    }
    try {
      index_ = readCheckpointIndex(dir_);
    } catch (const std::exception& failure) {
      report_.problems.push_back(failure.what());  // without the index nothing else can be checked
      return;
    }
    checkState();
    checkFileList();
    collectPieces();
    for (const IndexedFile& file : index_.files) checkFile(file);
    for (const IndexedTensor& tensor : index_.tensors) checkCoverage(tensor);
    reportUnlistedFiles();
  }

 private:
  void problem(const std::string& file, const std::string& what) { report_.problems.push_back(file + ": " + what); }
  void problem(const std::string& file, const IndexedTensor& tensor, const std::string& what) {
    report_.problems.push_back(file + ": tensor " + tensor.name + ": " + what);
  }

  void checkState() {
    try {
      const TrainingState state = readTrainingState(dir_);
      if (state.step != index_.step) {
        problem("state.json", "step " + std::to_string(state.step) + " but index.json says " + std::to_string(index_.step));
      }
      if (state.world_size != index_.world_size) {
        problem("state.json", "world size " + std::to_string(state.world_size) + " but index.json says " +
                                  std::to_string(index_.world_size));
      }
    } catch (const std::exception& failure) {
      report_.problems.push_back(failure.what());
    }
  }

  // Names are plain file names inside the directory (nothing outside it is ever read), each once.
  void checkFileList() {
    std::set<int> ranks;
    for (const IndexedFile& file : index_.files) {
      const fs::path name(file.name);
      if (file.name.empty() || name.has_parent_path() || name.is_absolute() || file.name == "." || file.name == "..") {
        problem("index.json", "file name '" + file.name + "' is not a plain name inside the checkpoint directory");
        unsafe_.insert(file.name);
        continue;
      }
      if (!listed_.insert(file.name).second) problem("index.json", "lists " + file.name + " twice");
      if (file.rank < 0 || file.rank >= index_.world_size) {
        problem(file.name, "rank " + std::to_string(file.rank) + " outside the world size " +
                               std::to_string(index_.world_size));
      } else if (!ranks.insert(file.rank).second) {
        problem(file.name, "rank " + std::to_string(file.rank) + " has a second file");
      }
    }
  }

  void collectPieces() {
    std::map<std::pair<std::string, std::string>, const IndexedTensor*> owners;  // (file, key) -> tensor
    std::set<std::string> names;
    for (const IndexedTensor& tensor : index_.tensors) {
      if (!names.insert(tensor.name).second) problem("index.json", tensor, "listed twice");
      for (const StoredPiece& piece : tensor.pieces) {
        if (!listed_.count(piece.file)) {
          if (!unsafe_.count(piece.file)) problem(piece.file, tensor, "a piece is in a file index.json does not list");
          continue;
        }
        const auto [owner, fresh] = owners.emplace(std::make_pair(piece.file, piece.key), &tensor);
        if (!fresh) {
          problem(piece.file, tensor, "key " + piece.key + " is also the piece of " + owner->second->name);
          continue;
        }
        expected_[piece.file][piece.key] = {&tensor, &piece};
      }
    }
  }

  void checkFile(const IndexedFile& file) {
    if (!listed_.count(file.name)) return;
    const fs::path path = dir_ / file.name;
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
      problem(file.name, "missing (rank " + std::to_string(file.rank) + " wrote it)");
      return;
    }
    const auto bytes = static_cast<std::int64_t>(fs::file_size(path, error));
    if (error) {
      problem(file.name, "cannot read its size: " + error.message());
      return;
    }
    ++report_.files_checked;
    if (bytes != file.bytes) {
      // Truncated or replaced: its bytes are not the ones the checksums describe, so stop here.
      problem(file.name, std::to_string(bytes) + " bytes, index.json records " + std::to_string(file.bytes) +
                             (bytes < file.bytes ? " (truncated)" : ""));
      return;
    }
    std::optional<SafetensorsHeader> header;
    try {
      header = SafetensorsHeader::read(path);
    } catch (const std::exception& failure) {
      problem(file.name, std::string("bad safetensors header: ") + failure.what());
    }
    std::vector<Section> sections;
    if (header) sections = checkEntries(file.name, *header);
    streamFile(file, path, sections);
  }

  // A byte range of the file whose checksum the index records.
  struct Section {
    std::int64_t begin = 0;  // in the file
    std::int64_t end = 0;
    ExpectedPiece expected;
  };

  std::vector<Section> checkEntries(const std::string& file, const SafetensorsHeader& header) {
    std::vector<Section> sections;
    const auto found = expected_.find(file);
    std::set<std::string> wanted_keys;
    if (found != expected_.end()) {
      for (const auto& [key, expected] : found->second) {
        wanted_keys.insert(key);
        const IndexedTensor& tensor = *expected.tensor;
        const SafetensorsEntry* entry = header.find(key);
        if (!entry) {
          problem(file, tensor, pieceName(tensor, key) + " is not in the file");
          continue;
        }
        bool usable = true;
        if (entry->dtype != tensor.dtype) {
          problem(file, tensor, pieceName(tensor, key) + " holds " + entry->dtype + ", index.json says " + tensor.dtype);
          usable = false;
        }
        const std::int64_t numel = product(entry->shape);
        if (numel != expected.piece->slice.numel) {
          problem(file, tensor, pieceName(tensor, key) + " holds " + std::to_string(numel) + " elements, its slice takes " +
                                    std::to_string(expected.piece->slice.numel));
          usable = false;
        }
        if (usable) sections.push_back({header.dataOffset() + entry->begin, header.dataOffset() + entry->end, expected});
      }
    }
    for (const SafetensorsEntry& entry : header.entries()) {
      if (!wanted_keys.count(entry.key)) problem(file, "key " + entry.key + " is in no tensor of index.json");
    }
    std::sort(sections.begin(), sections.end(), [](const Section& a, const Section& b) { return a.begin < b.begin; });
    return sections;
  }

  // One sequential pass: the whole-file checksum and every piece's checksum from the same chunks.
  void streamFile(const IndexedFile& file, const fs::path& path, const std::vector<Section>& sections) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      problem(file.name, "cannot open");
      return;
    }
    std::vector<char> buffer(kReadChunkBytes);
    StreamingChecksum whole;
    std::optional<StreamingChecksum> piece;
    std::size_t next = 0;  // the first section not finished
    std::int64_t position = 0;
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const std::int64_t got = in.gcount();
      if (got <= 0) break;
      whole.update(buffer.data(), static_cast<std::size_t>(got));
      const std::int64_t chunk_end = position + got;
      while (next < sections.size()) {
        const Section& section = sections[next];
        const std::int64_t from = std::max(section.begin, position);
        const std::int64_t to = std::min(section.end, chunk_end);
        if (from >= chunk_end) break;  // starts in a later chunk
        if (!piece) piece.emplace();
        if (to > from) piece->update(buffer.data() + (from - position), static_cast<std::size_t>(to - from));
        if (section.end > chunk_end) break;  // continues in the next chunk
        finishSection(file.name, section, piece->text());
        piece.reset();
        ++next;
      }
      position = chunk_end;
    }
    report_.bytes_read += position;
    if (in.bad()) {
      problem(file.name, "read failed after " + std::to_string(position) + " bytes");
      return;
    }
    for (; next < sections.size(); ++next) {
      if (sections[next].begin == sections[next].end && sections[next].begin <= position) {
        finishSection(file.name, sections[next], StreamingChecksum().text());
      } else {
        problem(file.name, *sections[next].expected.tensor, "its piece lies past the end of the file");
      }
    }
    const std::string sum = whole.text();
    if (sum != file.checksum) problem(file.name, "checksum " + sum + ", index.json records " + file.checksum);
  }

  void finishSection(const std::string& file, const Section& section, const std::string& sum) {
    ++report_.pieces_checked;
    const StoredPiece& piece = *section.expected.piece;
    if (sum != piece.checksum) {
      problem(file, *section.expected.tensor,
              pieceName(*section.expected.tensor, piece.key) + ": checksum " + sum + ", index.json records " + piece.checksum);
    }
  }

  // A half-open interval of the tensor's global row-major element indices.
  struct Run {
    std::int64_t begin;
    std::int64_t end;
  };

  // Coverage without a per-element array: every piece becomes the runs of global row-major
  // indices it holds (a box is contiguous along its trailing full dimensions, so a row split is
  // one run, a column split one run per row; a ZeRO flat range clips the first and last run).
  // Sorting the runs and sweeping them finds every gap and overlap; memory is the number of runs,
  // not the number of elements.
  void checkCoverage(const IndexedTensor& tensor) {
    std::vector<Run> runs;
    bool valid = true;
    try {
      safetensorsElementBytes(tensor.dtype);
    } catch (const std::exception&) {
      problem("index.json", tensor, "unknown dtype " + tensor.dtype);
    }
    for (const StoredPiece& piece : tensor.pieces) {
      const std::string why = sliceProblem(tensor.shape, piece.slice);
      if (!why.empty()) {
        problem(piece.file, tensor, pieceName(tensor, piece.key) + ": " + why);
        valid = false;
        continue;
      }
      appendRuns(tensor.shape, piece.slice, runs);
    }
    if (!valid) return;  // the bad slice is the problem; its coverage would only repeat it
    std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.begin < b.begin; });
    const std::int64_t total = product(tensor.shape);
    std::int64_t covered_to = 0, missing = 0, doubled = 0;
    std::optional<std::int64_t> first_missing, first_doubled;
    for (const Run& run : runs) {
      if (run.begin > covered_to) {
        if (!first_missing) first_missing = covered_to;
        missing += run.begin - covered_to;
      } else if (run.begin < covered_to) {
        if (!first_doubled) first_doubled = run.begin;
        doubled += std::min(run.end, covered_to) - run.begin;
      }
      covered_to = std::max(covered_to, run.end);
    }
    if (covered_to < total) {
      if (!first_missing) first_missing = covered_to;
      missing += total - covered_to;
    }
    if (missing > 0) {
      problem("index.json", tensor, std::to_string(missing) + " of " + std::to_string(total) +
                                        " elements are in no piece (the first at " +
                                        shapeText(coordinates(tensor.shape, *first_missing)) + ")");
    }
    if (doubled > 0) {
      problem("index.json", tensor, std::to_string(doubled) + " elements are in more than one piece (the first at " +
                                        shapeText(coordinates(tensor.shape, *first_doubled)) + ")");
    }
  }

  // readCheckpointIndex already refuses such slices; checked again because the coverage sweep
  // below divides by and indexes with them.
  static std::string sliceProblem(const std::vector<std::int64_t>& shape, const TensorSlice& slice) {
    if (slice.begin.size() != shape.size() || slice.size.size() != shape.size()) {
      return "its slice has " + std::to_string(slice.begin.size()) + "/" + std::to_string(slice.size.size()) +
             " dimensions, the tensor " + std::to_string(shape.size());
    }
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (slice.begin[d] < 0 || slice.size[d] < 0 || slice.begin[d] + slice.size[d] > shape[d]) {
        return "its box " + shapeText(slice.begin) + " + " + shapeText(slice.size) + " leaves the shape " + shapeText(shape);
      }
    }
    if (slice.flat_begin < 0 || slice.numel < 0 || slice.flat_begin + slice.numel > product(slice.size)) {
      return "its flat range [" + std::to_string(slice.flat_begin) + ", " + std::to_string(slice.flat_begin + slice.numel) +
             ") leaves its box of " + std::to_string(product(slice.size)) + " elements";
    }
    return "";
  }

  static void appendRuns(const std::vector<std::int64_t>& shape, const TensorSlice& slice, std::vector<Run>& runs) {
    if (slice.numel == 0) return;
    const std::size_t dims = shape.size();
    // The box's trailing dimensions that span the whole shape (begin 0) join its rows into one run.
    std::size_t split = dims;  // dimensions [split, dims) are whole
    while (split > 0 && slice.begin[split - 1] == 0 && slice.size[split - 1] == shape[split - 1]) --split;
    // A run covers box dimension split-1 (when there is one) and every whole dimension after it.
    const std::size_t outer = split == 0 ? 0 : split - 1;  // dimensions [0, outer) index the runs
    std::int64_t run_length = 1;
    for (std::size_t d = outer; d < dims; ++d) run_length *= slice.size[d];
    std::vector<std::int64_t> stride(dims, 1);
    for (std::size_t d = dims; d-- > 1;) stride[d - 1] = stride[d] * shape[d];
    const std::int64_t first = slice.flat_begin / run_length;
    const std::int64_t last = (slice.flat_begin + slice.numel - 1) / run_length;
    std::vector<std::int64_t> index(outer, 0);  // the box coordinates of run `first`
    for (std::int64_t rest = first, d = static_cast<std::int64_t>(outer); d-- > 0;) {
      index[d] = rest % slice.size[d];
      rest /= slice.size[d];
    }
    for (std::int64_t r = first; r <= last; ++r) {
      std::int64_t start = outer < dims ? slice.begin[outer] * stride[outer] : 0;
      for (std::size_t d = 0; d < outer; ++d) start += (slice.begin[d] + index[d]) * stride[d];
      const std::int64_t from = std::max(slice.flat_begin, r * run_length) - r * run_length;
      const std::int64_t to = std::min(slice.flat_begin + slice.numel, (r + 1) * run_length) - r * run_length;
      runs.push_back({start + from, start + to});
      for (std::size_t d = outer; d-- > 0;) {  // the next box row, row-major
        if (++index[d] < slice.size[d]) break;
        index[d] = 0;
      }
    }
  }

  static std::vector<std::int64_t> coordinates(const std::vector<std::int64_t>& shape, std::int64_t flat) {
    std::vector<std::int64_t> coords(shape.size(), 0);
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (shape[d] > 0) {
        coords[d] = flat % shape[d];
        flat /= shape[d];
      }
    }
    return coords;
  }

  void reportUnlistedFiles() {
    std::error_code error;
    std::vector<std::string> extra;
    for (fs::directory_iterator it(dir_, error), end; !error && it != end; it.increment(error)) {
      const std::string name = it->path().filename().string();
      if (name == "index.json" || name == "state.json" || listed_.count(name)) continue;
      extra.push_back(name);
    }
    std::sort(extra.begin(), extra.end());
    for (const std::string& name : extra) problem(name, "not listed in index.json");
  }

  fs::path dir_;
  VerifyReport& report_;
  CheckpointIndex index_;
  std::set<std::string> listed_;  // the index's (safe) file names
  std::set<std::string> unsafe_;
  std::map<std::string, std::map<std::string, ExpectedPiece>> expected_;  // file -> key -> piece
};

}  // namespace

VerifyReport verifyCheckpoint(const fs::path& step_dir) {
  VerifyReport report;
  Verifier(step_dir, report).run();
  return report;
}

}  // namespace behemoth
