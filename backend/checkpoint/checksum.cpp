#include "backend/checkpoint/checksum.h"

#include <xxhash.h>

#include <cstdio>
#include <stdexcept>

namespace behemoth {
namespace {

std::string format(XXH64_hash_t hash) {
  char text[32];
  std::snprintf(text, sizeof text, "xxh3-64:%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace

struct StreamingChecksum::State {
  XXH3_state_t* xxh = XXH3_createState();
  State() {
    if (xxh == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(xxh);
  }
  ~State() { XXH3_freeState(xxh); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

StreamingChecksum::StreamingChecksum() : state_(std::make_unique<State>()) {}
StreamingChecksum::~StreamingChecksum() = default;

void StreamingChecksum::update(const void* data, std::size_t bytes) {
  if (bytes > 0) XXH3_64bits_update(state_->xxh, data, bytes);
}

std::string StreamingChecksum::text() const { return format(XXH3_64bits_digest(state_->xxh)); }

std::string checksumOf(const void* data, std::size_t bytes) { return format(XXH3_64bits(data, bytes)); }

}  // namespace behemoth
