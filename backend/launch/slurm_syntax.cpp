// Slurm's compressed list syntaxes, as far as finding rank 0's host and this node's task count
// needs them. Declared in rank_discovery.h.
#include <charconv>
#include <stdexcept>
#include <string_view>

#include "backend/launch/rank_discovery.h"

namespace behemoth {
namespace {

int parseCount(std::string_view text, std::string_view whole) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 1) {
    throw std::invalid_argument("expected a positive count, got '" + std::string(text) + "' in '" +
                                std::string(whole) + "'");
  }
  return value;
}

}  // namespace

std::string firstHostOfNodelist(const std::string& nodelist) {
  const auto malformed = [&nodelist](const char* why) {
    return std::invalid_argument(std::string(why) + " in node list '" + nodelist + "'");
  };
  std::string host;
  bool in_brackets = false;
  bool took_first_in_brackets = false;  // inside [...], only the first range's start is kept
  std::size_t bracket_start = 0;
  for (const char c : nodelist) {
    if (c == '[') {
      if (in_brackets) throw malformed("nested '['");
      in_brackets = true;
      took_first_in_brackets = false;
      bracket_start = host.size();
    } else if (c == ']') {
      if (!in_brackets) throw malformed("unmatched ']'");
      if (host.size() == bracket_start) throw malformed("empty range in '[]'");
      in_brackets = false;
    } else if (in_brackets) {
      if (c == ',' || c == '-') {
        took_first_in_brackets = true;
      } else if (!took_first_in_brackets) {
        host.push_back(c);
      }
    } else if (c == ',') {
      break;  // the end of the first host
    } else {
      host.push_back(c);
    }
  }
  if (in_brackets) throw malformed("unmatched '['");
  if (host.empty()) throw malformed("no host");
  return host;
}

int tasksOnNode(const std::string& tasks_per_node, int node_id) {
  if (node_id < 0) {
    throw std::invalid_argument("node id must not be negative, got " + std::to_string(node_id));
  }
  std::string_view rest(tasks_per_node);
  int first_node_of_item = 0;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);

    // "2" is one node with 2 tasks; "2(x3)" is three such nodes.
    const std::size_t paren = item.find('(');
    const int tasks = parseCount(item.substr(0, paren), tasks_per_node);
    int repeat = 1;
    if (paren != std::string_view::npos) {
      const std::string_view suffix = item.substr(paren);
      if (suffix.size() < 4 || suffix.substr(0, 2) != "(x" || suffix.back() != ')') {
        throw std::invalid_argument("expected N or N(xM), got '" + std::string(item) + "' in '" + tasks_per_node + "'");
      }
      repeat = parseCount(suffix.substr(2, suffix.size() - 3), tasks_per_node);
    }
    if (node_id < first_node_of_item + repeat) {
      return tasks;
    }
    first_node_of_item += repeat;
  }
  throw std::invalid_argument("node " + std::to_string(node_id) + " is not covered by '" + tasks_per_node + "' (" +
                              std::to_string(first_node_of_item) + " nodes)");
}

int slurmPortFromJobId(long long job_id) {
  constexpr long long kFirstPort = 15000;
  constexpr long long kPortCount = 15000;
  const long long offset = ((job_id % kPortCount) + kPortCount) % kPortCount;
  return static_cast<int>(kFirstPort + offset);
}

}  // namespace behemoth
