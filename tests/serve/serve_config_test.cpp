// The project's serve section: read, written back, and refused with the field named when the
// cache it describes could not work.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "backend/project/project.h"

namespace behemoth {
namespace {

using nlohmann::json;

json projectWithServe(const json& serve) {
  return {{"model", {{"arch", "gpt"}, {"seq_len", 64}}}, {"serve", serve}};
}

std::string refusalOf(const json& serve) {
  try {
    projectFromJson(projectWithServe(serve), ".");
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(ServeConfig, ReadsItsKeysAndWritesThemBack) {
  const Project project = projectFromJson(projectWithServe({{"max_batch", 4}, {"kv_window", 40}, {"sink_tokens", 2}}), ".");
  EXPECT_EQ(project.serve.max_batch, 4);
  EXPECT_EQ(project.serve.kv_window, 40);
  EXPECT_EQ(project.serve.poolBlocks(64), 4 * 4);  // 4 sequences of 64 tokens in blocks of 16
  const Project again = projectFromJson(projectToJson(project), ".");
  EXPECT_EQ(again.serve.max_batch, 4);
  EXPECT_EQ(again.serve.sink_tokens, 2);
  EXPECT_EQ(projectFromJson(projectWithServe({{"kv_blocks", 9}}), ".").serve.poolBlocks(64), 9);
}

TEST(ServeConfig, RefusesACacheThatCouldNotWorkNamingTheField) {
  const std::string window = refusalOf({{"kv_window", 62}, {"sink_tokens", 2}});
  EXPECT_NE(window.find("serve.kv_window"), std::string::npos) << window;
  EXPECT_NE(window.find("model.seq_len = 64"), std::string::npos) << window;
  const std::string blocks = refusalOf({{"kv_blocks", 3}});
  EXPECT_NE(blocks.find("serve.kv_blocks"), std::string::npos) << blocks;
  EXPECT_NE(blocks.find("cannot hold one sequence"), std::string::npos) << blocks;
  EXPECT_NE(refusalOf({{"max_batch", 0}}).find("serve.max_batch"), std::string::npos);
  EXPECT_NE(refusalOf({{"batch", 8}}).find("serve.batch"), std::string::npos);
}

}  // namespace
}  // namespace behemoth
