#include "tests/support/multiprocess.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "parallel/activity.h"

namespace behemoth {
namespace {

constexpr size_t kMessageSize = 4096;

// kGone: the parent reaped a rank that never reported (killed, or it called _exit itself).
enum RankState : int { kRunning = 0, kReturned = 1, kThrew = 2, kGone = 3 };

// One rank's slot in the shared region: written by the child, read by the parent.
struct SharedRankSlot {
  std::atomic<int> state;
  char activity[kActivityTextSize];
  char message[kMessageSize];
};

// An anonymous MAP_SHARED mapping made before fork, so parent and children see the same pages.
class SharedSlots {
 public:
  explicit SharedSlots(int n) : bytes_(sizeof(SharedRankSlot) * static_cast<size_t>(n)) {
    void* memory = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("runOnRanks: mmap of the shared rank slots failed");
    std::memset(memory, 0, bytes_);
    slots_ = static_cast<SharedRankSlot*>(memory);
  }
  ~SharedSlots() { munmap(slots_, bytes_); }
  SharedSlots(const SharedSlots&) = delete;
  SharedSlots& operator=(const SharedSlots&) = delete;
  SharedRankSlot& operator[](int rank) { return slots_[rank]; }

 private:
  size_t bytes_;
  SharedRankSlot* slots_ = nullptr;
};

std::string boundedText(const char* text, size_t size) { return std::string(text, strnlen(text, size)); }

std::string resultFile(const std::string& directory, int rank, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw std::invalid_argument("rank result name '" + name + "' must be non-empty and contain no '/'");
  }
  return directory + "/rank" + std::to_string(rank) + "." + name;
}

// gtest assertions made inside a rank are recorded in the child's copy of the test result, which
// dies with it; collect the new failures so they become the rank's message instead of vanishing.
const ::testing::TestResult* currentTestResult() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return test == nullptr ? nullptr : test->result();
}

std::string newAssertionFailures(int rank, int parts_before) {
  const ::testing::TestResult* result = currentTestResult();
  if (result == nullptr) return "";
  std::string failures;
  for (int i = parts_before; i < result->total_part_count(); ++i) {
    const ::testing::TestPartResult& part = result->GetTestPartResult(i);
    if (!part.failed()) continue;
    failures += (failures.empty() ? "rank " + std::to_string(rank) + " failed a gtest assertion: " : "; ") +
                std::string(part.file_name() ? part.file_name() : "?") + ":" + std::to_string(part.line_number()) +
                ": " + part.message();
  }
  return failures;
}

// A rank that returned stays alive until no other rank is still running. Gloo's rendezvous ends
// for the two ends of a connection at slightly different moments: a rank that exited at once could
// close its sockets while a peer still reads its last handshake, and that peer then fails with
// "connection closed by peer" although nothing went wrong. A rank that threw exits at once, so its
// peers see the closed connection they should.
void waitForPeersToFinish(SharedSlots& slots, int world_size) {
  setActivity("returned; waiting for the other ranks to finish");
  for (;;) {
    bool running = false;
    for (int peer = 0; peer < world_size; ++peer) running = running || slots[peer].state.load() == kRunning;
    if (!running) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

[[noreturn]] void runChild(int rank, const WorldInfo& info, const std::function<void(const WorldInfo&)>& fn,
                           SharedSlots& slots) {
  SharedRankSlot& slot = slots[rank];
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process
  at::set_num_threads(1);
  attachActivitySlot(slot.activity, sizeof(slot.activity));
  setActivity("running the rank function");
  int exit_code = 0;
  const ::testing::TestResult* result = currentTestResult();
  const int parts_before = result == nullptr ? 0 : result->total_part_count();
  try {
    fn(info);
    const std::string failures = newAssertionFailures(rank, parts_before);
    if (failures.empty()) {
      slot.state.store(kReturned);
    } else {
      std::snprintf(slot.message, sizeof(slot.message), "%s", failures.c_str());
      slot.state.store(kThrew);
      exit_code = 1;
    }
  } catch (const std::exception& error) {
    std::snprintf(slot.message, sizeof(slot.message), "%s", error.what());
    slot.state.store(kThrew);
    exit_code = 1;
  } catch (...) {
    std::snprintf(slot.message, sizeof(slot.message), "rank %d threw a non-standard exception", rank);
    slot.state.store(kThrew);
    exit_code = 1;
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  if (exit_code == 0) waitForPeersToFinish(slots, info.world_size);
  _exit(exit_code);
}

std::string describeExit(int rank, int status, SharedRankSlot& slot, bool* ok) {
  *ok = false;
  const int state = slot.state.load();
  if (state == kThrew) return boundedText(slot.message, sizeof(slot.message));
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    return "rank " + std::to_string(rank) + " was killed by signal " + std::to_string(signal_number) + " (" +
           strsignal(signal_number) + ")";
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (state == kReturned && code == 0) {
    *ok = true;
    return "";
  }
  return "rank " + std::to_string(rank) + " exited with code " + std::to_string(code) +
         " before its function returned";
}

}  // namespace

// ---- RankRun ----

RankRun::RankRun(std::string directory, std::vector<RankOutcome> outcomes)
    : directory_(std::move(directory)), outcomes_(std::move(outcomes)) {}

RankRun::RankRun(RankRun&& other) noexcept
    : directory_(std::move(other.directory_)), outcomes_(std::move(other.outcomes_)) {
  other.directory_.clear();
}

RankRun::~RankRun() {
  if (directory_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

bool RankRun::allOk() const {
  for (const RankOutcome& outcome : outcomes_) {
    if (!outcome.ok) return false;
  }
  return true;
}

bool RankRun::hasResult(int rank, const std::string& name) const {
  return std::filesystem::exists(resultFile(directory_, rank, name));
}

std::string RankRun::loadText(int rank, const std::string& name) const {
  const std::string path = resultFile(directory_, rank, name);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("rank " + std::to_string(rank) + " saved no result '" + name + "'");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<double> RankRun::loadDoubles(int rank, const std::string& name) const {
  const std::string bytes = loadText(rank, name);
  if (bytes.size() % sizeof(double) != 0) {
    throw std::runtime_error("rank " + std::to_string(rank) + " result '" + name + "' is not a list of doubles");
  }
  std::vector<double> values(bytes.size() / sizeof(double));
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

// Tensor files: "dtype ndim size0 size1 ...\n" followed by the raw contiguous bytes.
at::Tensor RankRun::loadTensor(int rank, const std::string& name) const {
  const std::string bytes = loadText(rank, name);
  std::istringstream in(bytes);
  int dtype = 0;
  int64_t ndim = 0;
  in >> dtype >> ndim;
  std::vector<int64_t> sizes(static_cast<size_t>(std::max<int64_t>(ndim, 0)));
  for (int64_t& size : sizes) in >> size;
  in.get();  // the newline
  if (!in) throw std::runtime_error("rank " + std::to_string(rank) + " result '" + name + "' is not a tensor file");
  at::Tensor tensor = at::empty(sizes, at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
  const size_t payload = static_cast<size_t>(tensor.numel()) * tensor.element_size();
  const size_t offset = static_cast<size_t>(in.tellg());
  if (bytes.size() - offset != payload) {
    throw std::runtime_error("rank " + std::to_string(rank) + " result '" + name + "' has " +
                             std::to_string(bytes.size() - offset) + " data bytes, expected " +
                             std::to_string(payload));
  }
  std::memcpy(tensor.data_ptr(), bytes.data() + offset, payload);
  return tensor;
}

// ---- child-side results ----

std::string rankResultPath(const WorldInfo& info, const std::string& name) {
  if (info.store_path.empty()) {
    throw std::invalid_argument("rankResultPath: the world has no store_path (not started by runOnRanks)");
  }
  return resultFile(std::filesystem::path(info.store_path).parent_path().string(), info.rank, name);
}

void saveRankText(const WorldInfo& info, const std::string& name, const std::string& text) {
  const std::string path = rankResultPath(info, name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error("rank " + std::to_string(info.rank) + ": cannot write result " + path);
}

void saveRankDoubles(const WorldInfo& info, const std::string& name, const std::vector<double>& values) {
  saveRankText(info, name,
               std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double)));
}

void saveRankTensor(const WorldInfo& info, const std::string& name, const at::Tensor& tensor) {
  const at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
  std::string text = std::to_string(static_cast<int>(cpu.scalar_type())) + " " + std::to_string(cpu.dim());
  for (int64_t size : cpu.sizes()) text += " " + std::to_string(size);
  text += "\n";
  text.append(static_cast<const char*>(cpu.data_ptr()), static_cast<size_t>(cpu.numel()) * cpu.element_size());
  saveRankText(info, name, text);
}

// ---- running ----

RankRun runOnRanks(int n, const std::function<void(const WorldInfo&)>& fn, std::chrono::seconds timeout,
                   std::chrono::milliseconds collective_timeout) {
  if (n < 1) throw std::invalid_argument("runOnRanks: need at least one rank, got " + std::to_string(n));
  const std::string base = std::filesystem::temp_directory_path().string() + "/behemoth-ranks-XXXXXX";
  std::vector<char> pattern(base.begin(), base.end());
  pattern.push_back('\0');
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("runOnRanks: mkdtemp failed for " + base);
  const std::string directory(pattern.data());

  SharedSlots slots(n);
  std::fflush(nullptr);  // children must not re-print the parent's buffered output
  std::vector<pid_t> pids(n, -1);
  pid_t process_group = 0;
  for (int rank = 0; rank < n; ++rank) {
    WorldInfo info;
    info.rank = rank;
    info.world_size = n;
    info.local_rank = rank;
    info.local_world_size = n;
    info.store_path = directory + "/store";
    info.timeout = collective_timeout;
    const pid_t pid = fork();
    if (pid < 0) {
      if (process_group != 0) kill(-process_group, SIGKILL);
      for (pid_t started : pids) {
        if (started > 0) waitpid(started, nullptr, 0);
      }
      throw std::runtime_error("runOnRanks: fork failed for rank " + std::to_string(rank));
    }
    if (pid == 0) {
      setpgid(0, process_group);
      runChild(rank, info, fn, slots);
    }
    // Set the group from the parent too, so kill(-group) reaches the child whichever runs first.
    setpgid(pid, process_group == 0 ? pid : process_group);
    if (process_group == 0) process_group = pid;
    pids[rank] = pid;
  }

  std::vector<RankOutcome> outcomes(n);
  std::vector<bool> finished(n, false);
  int remaining = n;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (remaining > 0 && std::chrono::steady_clock::now() < deadline) {
    bool progressed = false;
    for (int rank = 0; rank < n; ++rank) {
      if (finished[rank]) continue;
      int status = 0;
      if (waitpid(pids[rank], &status, WNOHANG) == pids[rank]) {
        bool ok = false;
        outcomes[rank].message = describeExit(rank, status, slots[rank], &ok);
        outcomes[rank].ok = ok;
        int running = kRunning;
        slots[rank].state.compare_exchange_strong(running, kGone);  // its peers stop waiting for it
        finished[rank] = true;
        --remaining;
        progressed = true;
      }
    }
    if (!progressed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  for (int rank = 0; rank < n; ++rank) {
    outcomes[rank].rank = rank;
    outcomes[rank].last_activity = boundedText(slots[rank].activity, sizeof(slots[rank].activity));
  }
  if (remaining > 0) {
    std::string report = "timed out after " + std::to_string(timeout.count()) + " s";
    for (int rank = 0; rank < n; ++rank) {
      // A rank that returned and waits for the others counts as finished.
      const bool returned = finished[rank] ? outcomes[rank].ok : slots[rank].state.load() == kReturned;
      report += "; rank " + std::to_string(rank) + ": " +
                (finished[rank] || returned ? std::string(returned ? "(finished)" : "(failed)")
                                            : outcomes[rank].last_activity);
    }
    kill(-process_group, SIGKILL);
    for (int rank = 0; rank < n; ++rank) {
      if (finished[rank]) continue;
      waitpid(pids[rank], nullptr, 0);
      outcomes[rank].ok = slots[rank].state.load() == kReturned;
      outcomes[rank].message = outcomes[rank].ok ? "" : report;
    }
  }
  return RankRun(directory, std::move(outcomes));
}

bool expectAllRanksOk(const std::vector<RankOutcome>& outcomes) {
  bool all_ok = true;
  for (const RankOutcome& outcome : outcomes) {
    if (outcome.ok) continue;
    all_ok = false;
    ADD_FAILURE() << "rank " << outcome.rank << " failed: " << outcome.message
                  << "\n  last activity: " << outcome.last_activity;
  }
  return all_ok;
}

}  // namespace behemoth
