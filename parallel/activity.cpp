#include "parallel/activity.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace behemoth {
namespace {

struct ActivitySlot {
  std::mutex mutex;
  std::array<char, kActivityTextSize> local{};
  char* data = local.data();
  size_t size = kActivityTextSize;
};

ActivitySlot& slot() {
  static ActivitySlot instance;
  return instance;
}

// Writes into the slot, always leaving a terminating NUL so a concurrent reader in another
// process never runs past the buffer (it may see a half-written line, which is fine for diagnostics).
void writeLocked(ActivitySlot& s, const char* text) {
  const size_t length = std::min(std::strlen(text), s.size - 1);
  s.data[length] = '\0';
  std::memcpy(s.data, text, length);
  s.data[length] = '\0';
}

}  // namespace

void attachActivitySlot(char* shared_buffer, size_t size) {
  ActivitySlot& s = slot();
  std::lock_guard<std::mutex> lock(s.mutex);
  std::array<char, kActivityTextSize> current{};
  std::strncpy(current.data(), s.data, current.size() - 1);
  if (shared_buffer == nullptr || size == 0) {
    s.data = s.local.data();
    s.size = s.local.size();
  } else {
    s.data = shared_buffer;
    s.size = size;
  }
  writeLocked(s, current.data());
}

void setActivity(const char* text) {
  ActivitySlot& s = slot();
  std::lock_guard<std::mutex> lock(s.mutex);
  writeLocked(s, text);
}

void setActivityf(const char* format, ...) {
  std::array<char, kActivityTextSize> buffer{};
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer.data(), buffer.size(), format, args);
  va_end(args);
  setActivity(buffer.data());
}

std::string currentActivity() {
  ActivitySlot& s = slot();
  std::lock_guard<std::mutex> lock(s.mutex);
  return std::string(s.data, strnlen(s.data, s.size));
}

ActivityScope::ActivityScope(const char* text) {
  ActivitySlot& s = slot();
  std::lock_guard<std::mutex> lock(s.mutex);
  std::strncpy(previous_.data(), s.data, previous_.size() - 1);
  writeLocked(s, text);
}

ActivityScope::~ActivityScope() { setActivity(previous_.data()); }

}  // namespace behemoth
