// Mutation test of the validator: 10,000 projects derived from the shipped valid ones by removing
// keys, swapping types and perturbing values. Each must be either accepted -- and then planned
// without an error -- or refused with a message that starts with the JSON path of a field. Never a
// crash, an unnamed exception or an estimate that throws after the validator said yes.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "backend/planning/plan_checks.h"
#include "backend/planning/plan_device.h"
#include "backend/planning/plan_inputs.h"
#include "backend/project/project.h"
#include "backend/project/strict_json.h"
#include "memory/memory_model.h"
#include "parallel/plan_estimate.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kMutants = 10000;

// A refusal must start with a field: "model.n_head: ...", "parallel.order[1]: ...".
const std::regex kFieldPath(R"(^(name|model|data|devices|parallel|precision|optimizer|train)(\.[a-z_0-9]+|\[[0-9]+\])*:)");

std::vector<json> validSeeds() {
  std::vector<json> seeds;
  for (const auto& entry : fs::directory_iterator(sourceDir() + "/projects")) {
    if (entry.path().extension() == ".json") seeds.push_back(readStrictJsonFile(entry.path().string()));
  }
  return seeds;
}

// Every location in the document: objects' members and array elements, as JSON pointers.
void collectPointers(const json& node, const json::json_pointer& here, std::vector<json::json_pointer>& out) {
  if (node.is_object()) {
    for (const auto& item : node.items()) {
      const json::json_pointer child = here / item.key();
      out.push_back(child);
      collectPointers(item.value(), child, out);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      const json::json_pointer child = here / i;
      out.push_back(child);
      collectPointers(node[i], child, out);
    }
  }
}

json perturbed(const json& value, std::mt19937_64& random) {
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
  if (value.is_number()) {
    const double x = value.get<double>();
    const std::vector<json> choices = {0, -1, 1, x * 2, x * 1000, -x, x + 1, 0.5, 1e300, -1e300, 2147483648.0,
                                       std::int64_t{1} << 40, 3, 7, 64, x / 3};
    return choices[pick(choices.size())];
  }
  if (value.is_string()) {
    const std::vector<json> choices = {"", "x", "gpt", "llama", "cpu", "cuda", "bf16", "fp16", "fp32", "builtin",
                                       "/no/such/path", "dp", "auto", std::string(300, 'a')};
    return choices[pick(choices.size())];
  }
  if (value.is_boolean()) return !value.get<bool>();
  return value;
}

json typeSwapped(const json& value, std::mt19937_64& random) {
  const std::vector<json> choices = {nullptr, true, 3, 2.5, "text", json::array({1, 2}), json::object({{"a", 1}})};
  json replacement = choices[random() % choices.size()];
  while (replacement.type() == value.type() && !value.is_number()) replacement = choices[random() % choices.size()];
  return replacement;
}

json mutant(const std::vector<json>& seeds, std::mt19937_64& random) {
  json project = seeds[random() % seeds.size()];
  const int mutations = 1 + static_cast<int>(random() % 3);
  for (int m = 0; m < mutations; ++m) {
    std::vector<json::json_pointer> places;
    collectPointers(project, json::json_pointer(), places);
    if (places.empty()) break;
    const json::json_pointer place = places[random() % places.size()];
    switch (random() % 3) {
      case 0: {
        json& parent = project.at(place.parent_pointer());
        if (parent.is_array()) {
          parent.erase(static_cast<std::size_t>(std::stoul(place.back())));
        } else {
          parent.erase(place.back());
        }
        break;
      }
      case 1: project.at(place) = typeSwapped(project.at(place), random); break;
      default: project.at(place) = perturbed(project.at(place), random); break;
    }
  }
  return project;
}

enum class Verdict { accepted, refused };

// What `behemoth plan` does: parse, resolve for the devices, check shapes, estimate.
Verdict planVerdict(const json& document, std::string& failure) {
  Project project;
  try {
    project = projectFromJson(document, sourceDir() + "/projects");
    project.plan.resolve(project.devices.count);
    checkPlanShapes(project);
  } catch (const std::invalid_argument& refused) {
    if (!std::regex_search(refused.what(), kFieldPath)) failure = std::string("refused without a field: ") + refused.what();
    return Verdict::refused;
  } catch (const std::exception& other) {
    failure = std::string("the validator threw something other than a refusal: ") + other.what();
    return Verdict::refused;
  }
  try {
    CpuRateChoice rate;
    rate.cpu_flops = 1e11;  // no measurement: 10,000 estimates must stay fast
    const DeviceSpec device = planningDevice(project, rate);
    const PlanEstimate estimate = estimatePlan(describeModel(project.model), layoutFromProject(project), device,
                                               defaultAllowance(device.kind), project.plan.order);
    if (!(estimate.time.step_s > 0) || estimate.memory.peakDeviceBytes() <= 0) {
      failure = "accepted, but the estimate is not a positive time and size";
    }
  } catch (const std::exception& error) {
    failure = std::string("accepted, but planning failed: ") + error.what();
  }
  return Verdict::accepted;
}

// What `behemoth run` checks before launch (everything but reading the corpus).
void runVerdict(const json& document, std::string& failure) {
  try {
    Project project = projectFromJson(document, sourceDir() + "/projects");
    validateForWorld(project, project.devices.count);
  } catch (const std::invalid_argument& refused) {
    if (!std::regex_search(refused.what(), kFieldPath)) failure = std::string("refused without a field: ") + refused.what();
  } catch (const std::exception& other) {
    failure = std::string("the validator threw something other than a refusal: ") + other.what();
  }
}

TEST(ProjectMutation, EveryDerivedProjectIsAcceptedAndPlannedOrRefusedNamingAField) {
  const std::vector<json> seeds = validSeeds();
  ASSERT_GE(seeds.size(), 3u);
  for (const json& seed : seeds) {
    std::string failure;
    ASSERT_EQ(planVerdict(seed, failure), Verdict::accepted) << seed.dump();
    ASSERT_TRUE(failure.empty()) << failure;
  }
  std::mt19937_64 random(20261201);
  int accepted = 0;
  int failures = 0;
  for (int i = 0; i < kMutants; ++i) {
    const json document = mutant(seeds, random);
    std::string failure;
    accepted += planVerdict(document, failure) == Verdict::accepted ? 1 : 0;
    if (failure.empty()) runVerdict(document, failure);
    if (!failure.empty() && ++failures <= 10) ADD_FAILURE() << failure << "\n  project: " << document.dump();
  }
  EXPECT_EQ(failures, 0);
  // Both outcomes occur, so neither branch is vacuous.
  EXPECT_GT(accepted, kMutants / 20);
  EXPECT_LT(accepted, kMutants - kMutants / 20);
  std::cout << "[          ] " << kMutants << " mutants: " << accepted << " accepted and planned, "
            << kMutants - accepted << " refused naming a field\n";
}

}  // namespace
}  // namespace behemoth
