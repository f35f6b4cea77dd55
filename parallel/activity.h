// What this rank is doing right now ("all_reduce on axis dp (4096 bytes)", "forward step 3"), kept
// in a fixed buffer that another process can read: the test harness and the launcher point it into
// shared memory so that a hung job can say where every rank is stuck.
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace behemoth {

inline constexpr size_t kActivityTextSize = 256;

// Points the record at `shared_buffer` (e.g. an mmap(MAP_SHARED) region made before fork); the
// current text is carried over. The buffer must outlive every later write. nullptr detaches and
// returns to the built-in process-local buffer.
void attachActivitySlot(char* shared_buffer, size_t size);

// Replaces the text (truncated to fit; never allocates).
void setActivity(const char* text);
// printf-style; formats into the slot directly.
void setActivityf(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string currentActivity();

// Sets the text for a scope and restores the previous text when the scope ends.
class ActivityScope {
 public:
  explicit ActivityScope(const char* text);
  ~ActivityScope();
  ActivityScope(const ActivityScope&) = delete;
  ActivityScope& operator=(const ActivityScope&) = delete;

 private:
  std::array<char, kActivityTextSize> previous_{};
};

}  // namespace behemoth
