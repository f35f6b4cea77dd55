// The request body is read strictly: every refusal names the field and what is wrong with it.
#include <gtest/gtest.h>

#include "backend/serve/completion_request.h"

namespace behemoth {
namespace {

std::string refusalOf(const std::string& body) {
  try {
    parseCompletionRequest(body);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(CompletionRequest, ReadsEveryField) {
  const CompletionRequest request = parseCompletionRequest(
      R"({"prompt": "Hi", "max_tokens": 5, "temperature": 0.5, "top_k": 8, "top_p": 0.9, "seed": 42,
          "stop": ["\n", "END"], "stream": true, "model": "tiny"})");
  EXPECT_EQ(request.prompt, "Hi");
  EXPECT_EQ(request.max_tokens, 5);
  EXPECT_DOUBLE_EQ(request.sampling.temperature, 0.5);
  EXPECT_EQ(request.sampling.top_k, 8);
  EXPECT_DOUBLE_EQ(request.sampling.top_p, 0.9);
  EXPECT_EQ(request.sampling.seed, 42u);
  EXPECT_EQ(request.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(request.stream);
  EXPECT_EQ(parseCompletionRequest(R"({"prompt": "x", "stop": "."})").stop, std::vector<std::string>{"."});
  EXPECT_EQ(parseCompletionRequest(R"({"prompt": "x"})").max_tokens, 16);
}

TEST(CompletionRequest, RefusesWhatItCannotServeNamingTheField) {
  EXPECT_EQ(refusalOf(R"({"prompt": "x",)").rfind("malformed JSON: ", 0), 0u);
  EXPECT_EQ(refusalOf(R"([1, 2])"), "request body: must be a JSON object");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "n": 2})"), "n: unknown field");
  EXPECT_EQ(refusalOf(R"({"max_tokens": 2})"), "prompt: required");
  EXPECT_EQ(refusalOf(R"({"prompt": 7})"), "prompt: must be a string");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "max_tokens": -3})"), "max_tokens: -3 is below 1");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "max_tokens": 99999999999999999999})"), "max_tokens: 1e+20 is too large");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "max_tokens": 3000000000})"), "max_tokens: 3000000000 is too large");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "max_tokens": 2.5})"), "max_tokens: must be an integer, got 2.5");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "temperature": -1})"), "temperature: must not be negative");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "top_p": 0})"), "top_p: must be in (0, 1]");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "stop": [1]})"), "stop: every entry must be a string");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "stream": "yes"})"), "stream: must be true or false");
  EXPECT_EQ(refusalOf(R"({"prompt": "x", "prompt": "y"})").find("prompt"), 0u);  // a key given twice
}

}  // namespace
}  // namespace behemoth
