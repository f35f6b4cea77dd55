// Running the built `behemoth` executable from tests, the way a user does.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace behemoth {

struct CommandResult {
  int exit_code = -1;  // 124 when the hard timeout killed it
  std::string stdout_text;
  std::string stderr_text;
  double seconds = 0.0;
};

// build/bin/behemoth: $BEHEMOTH_BIN/behemoth (set by ctest), else ./build/bin/behemoth.
std::string behemothExecutable();
// Folder of the source tree (for projects/): $BEHEMOTH_SOURCE, else the working directory.
std::string sourceDir();

// Runs `behemoth args...` with a hard timeout; captures stdout and stderr separately.
CommandResult runBehemoth(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(120),
                          const std::vector<std::string>& environment = {});

// A fresh temporary folder, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& text);

}  // namespace behemoth
