// The step loop of serving. Rank 0 asks the scheduler for a step, broadcasts it to its tensor-
// parallel peers, runs it and hands the logits back to the scheduler; the peers run every step they
// receive on their shard until the shutdown step. While idle, rank 0 still sends an empty step
// every `idle` so its peers' broadcast never reaches the collective timeout.
#pragma once

#include <chrono>
#include <functional>

namespace behemoth {

class Group;
class Scheduler;
class ServeModel;

// Runs steps while keep_going() (asked before each step) holds. `tp` is null with one rank.
void leadSteps(Scheduler& scheduler, ServeModel& model, Group* tp, const std::function<bool()>& keep_going,
               std::chrono::milliseconds idle = std::chrono::milliseconds(200));
// Sends the peers the step that ends their followSteps().
void releaseFollowers(Group& tp);
void followSteps(ServeModel& model, Group& tp);

}  // namespace behemoth
