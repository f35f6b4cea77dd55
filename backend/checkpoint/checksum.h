// Checksums of checkpoint bytes: xxHash's XXH3 64-bit (Debian's libxxhash), written as
// "xxh3-64:<16 hex digits>". Fast enough to hash while writing (several GB/s), so saving never
// reads a file back to checksum it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace behemoth {

class StreamingChecksum {
 public:
  StreamingChecksum();
  ~StreamingChecksum();
  StreamingChecksum(const StreamingChecksum&) = delete;
  StreamingChecksum& operator=(const StreamingChecksum&) = delete;

  void update(const void* data, std::size_t bytes);
  std::string text() const;  // of everything so far

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string checksumOf(const void* data, std::size_t bytes);

}  // namespace behemoth
