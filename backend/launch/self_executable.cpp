#include "backend/launch/self_executable.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace behemoth {

std::string selfExecutablePath() {
  // readlink does not say when it truncated, so grow the buffer until the result fits.
  std::vector<char> buffer(256);
  while (true) {
    const ssize_t length = ::readlink("/proc/self/exe", buffer.data(), buffer.size());
    if (length < 0) {
      throw std::runtime_error(std::string("selfExecutablePath: readlink(/proc/self/exe) failed: ") +
                               std::strerror(errno));
    }
    if (static_cast<std::size_t>(length) < buffer.size()) {
      return std::string(buffer.data(), static_cast<std::size_t>(length));
    }
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace behemoth
