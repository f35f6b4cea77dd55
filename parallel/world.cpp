#include "parallel/world.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "parallel/activity.h"

namespace behemoth {
namespace {

std::string errorText(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return c10_error->what_without_backtrace();
  return error.what();
}

bool isLoopback(const std::string& address) {
  return address == "127.0.0.1" || address == "localhost" || address == "::1";
}

std::string joinRanks(const std::vector<int>& ranks) {
  std::string text;
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? "," : "") + std::to_string(ranks[i]);
  return text;
}

std::string labelFor(std::vector<Axis> axes) {
  std::sort(axes.begin(), axes.end(), [](Axis a, Axis b) { return static_cast<int>(a) < static_cast<int>(b); });
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  std::string label;
  for (Axis axis : axes) label += (label.empty() ? "" : "+") + std::string(axisName(axis));
  return label;
}

}  // namespace

struct ProcessWorld::Connections {
  c10::intrusive_ptr<c10d::Store> store;
  std::shared_ptr<::gloo::transport::Device> gloo_device;
};

ProcessWorld::ProcessWorld(const WorldInfo& info, const Plan& resolved_plan)
    : info_(info), mesh_(resolved_plan), connections_(std::make_unique<Connections>()) {
  if (mesh_.worldSize() != info_.world_size) {
    throw std::invalid_argument("ProcessWorld: the plan lays out " + std::to_string(mesh_.worldSize()) +
                                " ranks (" + mesh_.describe() + ") but the world has " +
                                std::to_string(info_.world_size));
  }
  if (info_.rank < 0 || info_.rank >= info_.world_size) {
    throw std::invalid_argument("ProcessWorld: rank " + std::to_string(info_.rank) + " is outside a world of " +
                                std::to_string(info_.world_size));
  }
  if (info_.device_kind != "cpu" && info_.device_kind != "cuda") {
    throw std::invalid_argument("ProcessWorld: device kind '" + info_.device_kind + "' is not cpu or cuda");
  }
  if (info_.timeout.count() <= 0) throw std::invalid_argument("ProcessWorld: the collective timeout must be positive");
}

ProcessWorld::~ProcessWorld() = default;

Group& ProcessWorld::group(Axis axis) { return group(std::vector<Axis>{axis}); }

Group& ProcessWorld::group(std::vector<Axis> axes) {
  if (axes.empty()) throw std::invalid_argument("ProcessWorld::group: no axes given");
  const std::string label = labelFor(axes);
  const auto cached = groups_.find(label);
  if (cached != groups_.end()) return *cached->second;
  return findOrCreate(label, mesh_.groupRanks(info_.rank, axes));
}

Group& ProcessWorld::world() {
  const auto cached = groups_.find("world");
  if (cached != groups_.end()) return *cached->second;
  std::vector<int> everyone(info_.world_size);
  for (int r = 0; r < info_.world_size; ++r) everyone[r] = r;
  return findOrCreate("world", everyone);
}

Group& ProcessWorld::subgroup(const std::string& label, const std::vector<int>& ranks) {
  const auto cached = groups_.find(label);
  if (cached != groups_.end()) return *cached->second;
  return findOrCreate(label, ranks);
}

Group& ProcessWorld::findOrCreate(const std::string& label, const std::vector<int>& ranks) {
  GroupSpec spec{label, ranks, info_.rank, info_.timeout};
  c10::intrusive_ptr<C10dBackend> backend;
  if (ranks.size() > 1) {
    const int index = static_cast<int>(std::find(ranks.begin(), ranks.end(), info_.rank) - ranks.begin());
    const int group_size = static_cast<int>(ranks.size());
    // The prefix names the group uniquely (label + first member), so groups can be created in any order.
    const std::string prefix = "behemoth/" + label + "/" + std::to_string(ranks.front());
    const std::string what = "rank " + std::to_string(info_.rank) + ": rendezvous of " + label + " group (ranks " +
                             joinRanks(ranks) + ")";
    ActivityScope scope(what.c_str());
    try {
      if (!connections_->store) {
        if (!info_.store_path.empty()) {
          connections_->store = c10::make_intrusive<c10d::FileStore>(info_.store_path, info_.world_size);
        } else {
          c10d::TCPStoreOptions options;
          options.port = static_cast<std::uint16_t>(info_.master_port);
          options.isServer = info_.rank == 0;
          options.numWorkers = static_cast<std::size_t>(info_.world_size);
          options.waitWorkers = false;
          options.timeout = info_.timeout;
          connections_->store = c10::make_intrusive<c10d::TCPStore>(info_.master_addr, options);
        }
        connections_->store->setTimeout(info_.timeout);
      }
      auto group_store = c10::make_intrusive<c10d::PrefixStore>(prefix, connections_->store);
      if (info_.device_kind == "cuda") {
#ifdef USE_C10D_NCCL
        auto options = c10d::ProcessGroupNCCL::Options::create();
        options->timeout = info_.timeout;
        backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_store, index, group_size, options);
#else
        throw std::invalid_argument("device kind 'cuda' needs a LibTorch built with NCCL");
#endif
      } else {
        if (!connections_->gloo_device) {
          // GLOO_SOCKET_IFNAME picks an interface on clusters; a loopback master means one machine,
          // where binding to 127.0.0.1 avoids depending on the hostname resolving.
          const char* interface_name = std::getenv("GLOO_SOCKET_IFNAME");
          if (interface_name != nullptr && *interface_name != '\0') {
            connections_->gloo_device = c10d::ProcessGroupGloo::createDeviceForInterface(interface_name);
          } else if (isLoopback(info_.master_addr)) {
            connections_->gloo_device = c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
          } else {
            connections_->gloo_device = c10d::ProcessGroupGloo::createDefaultDevice();
          }
        }
        auto options = c10d::ProcessGroupGloo::Options::create(info_.timeout);
        options->devices.push_back(connections_->gloo_device);
        backend = c10::make_intrusive<c10d::ProcessGroupGloo>(group_store, index, group_size, options);
        // gloo's full-mesh connect can return on one rank while a peer is still reading its side
        // of the handshake; a rank that then finished and closed the group made that peer fail
        // with "connection closed by peer". A barrier returns only once every pair is connected.
        backend->barrier()->wait();
      }
    } catch (const std::invalid_argument&) {
      throw;
    } catch (const std::exception& error) {
      throw std::runtime_error(collectiveFailureMessage(what, errorText(error), info_.timeout));
    }
  }
  auto created = std::make_unique<Group>(std::move(spec), counter_, std::move(backend));
  Group& result = *created;
  groups_.emplace(label, std::move(created));
  return result;
}

}  // namespace behemoth
