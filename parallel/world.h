// The process world: this rank's place in the job, the mesh over the plan's axes, and the groups
// (created lazily, cached) through which every collective runs.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parallel/comm_counter.h"
#include "parallel/group.h"
#include "parallel/mesh.h"
#include "parallel/plan.h"

namespace behemoth {

struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";  // TCP rendezvous: rank 0 hosts a c10d::TCPStore
  int master_port = 0;
  std::string store_path;                    // non-empty: rendezvous through a c10d::FileStore (tests)
  std::chrono::milliseconds timeout{60000};  // every collective and the rendezvous
  std::string device_kind = "cpu";           // "cpu" -> gloo; "cuda" -> NCCL (where built with it)
};

class ProcessWorld {
 public:
  // Throws std::invalid_argument when the plan's world size differs from info.world_size or the
  // rank is out of range. Connects nothing yet: stores and backends appear with the first
  // multi-rank group, so a single-process run needs no rendezvous at all.
  ProcessWorld(const WorldInfo& info, const Plan& resolved_plan);
  ~ProcessWorld();
  ProcessWorld(const ProcessWorld&) = delete;
  ProcessWorld& operator=(const ProcessWorld&) = delete;

  int rank() const { return info_.rank; }
  int size() const { return info_.world_size; }
  const Mesh& mesh() const { return mesh_; }
  const WorldInfo& info() const { return info_; }

  // My group along one or several axes. Every member must ask for a group before its first use
  // (the first call is a rendezvous of the group's ranks). Labels join axis names in enum order
  // ("dp+tp"), whatever order the axes are passed in.
  Group& group(Axis axis);
  Group& group(std::vector<Axis> axes);
  Group& world();  // all ranks, label "world"
  // A group of explicit global ranks that is not an axis (the first and last pipeline stage sharing
  // a tied embedding). Only members call it; label + first rank must be unique in the job.
  Group& subgroup(const std::string& label, const std::vector<int>& ranks);

  // Counts every collective of every group, under the group's label.
  CommCounter& counter() { return counter_; }

 private:
  struct Connections;
  Group& findOrCreate(const std::string& label, const std::vector<int>& ranks);

  WorldInfo info_;
  Mesh mesh_;
  CommCounter counter_;
  std::unique_ptr<Connections> connections_;             // store and transport device, made lazily
  std::map<std::string, std::unique_ptr<Group>> groups_;  // destroyed before connections_
};

}  // namespace behemoth
