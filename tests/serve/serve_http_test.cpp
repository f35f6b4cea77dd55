// `behemoth serve` end to end, the way a client sees it: answers over HTTP on loopback, a stream
// that says what the whole answer says, one-line refusals for bad requests while everyone else is
// served, the metrics, and tensor parallelism over two launched ranks answering what one rank does.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <regex>

#include "tests/support/background_command.h"
#include "tests/support/command.h"

namespace behemoth {
namespace {

using nlohmann::json;

std::string tinyProject(const TempDir& dir) {
  const json project = {
      {"name", "tiny-serve"},
      {"model", {{"arch", "gpt"}, {"n_layer", 2}, {"n_head", 4}, {"d_model", 32}, {"seq_len", 48}, {"vocab_size", 256}}},
      {"train", {{"out_dir", dir.file("run")}}},
      {"serve", {{"max_batch", 4}, {"block_tokens", 8}}}};
  const std::string path = dir.file("tiny-serve.json");
  writeFile(path, project.dump(2));
  return path;
}

// A running server; stopped with SIGINT when the test ends.
class Server {
 public:
  Server(const std::string& project, const TempDir& dir, std::vector<std::string> extra = {}) : log_(dir.file("serve-" + std::to_string(++count_) + ".log")) {
    std::vector<std::string> args{"serve", project, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    command_ = std::make_unique<BackgroundCommand>(behemothExecutable(), args, log_);
    const std::regex ready(R"(serving \S+ on http://127\.0\.0\.1:(\d+))");
    std::smatch match;
    const bool up = pollUntil([&] {
      const std::string text = readFile(log_);
      if (!std::regex_search(text, match, ready)) return !command_->running();
      port_ = std::stoi(match[1]);
      return true;
    }, std::chrono::seconds(120));
    if (!up || port_ == 0) throw std::runtime_error("the server did not start: " + readFile(log_));
  }
  ~Server() {
    ::kill(command_->pid(), SIGINT);
    pollUntil([&] { return !command_->running(); }, std::chrono::seconds(60));
  }
  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(120, 0);
    return client;
  }
  bool running() { return command_->running(); }
  std::string log() const { return readFile(log_); }

 private:
  static inline int count_ = 0;
  std::string log_;
  std::unique_ptr<BackgroundCommand> command_;
  int port_ = 0;
};

json complete(const Server& server, const json& body, int expected_status = 200) {
  auto client = server.client();
  const auto response = client.Post("/v1/completions", body.dump(), "application/json");
  if (!response) throw std::runtime_error("no answer from the server");
  EXPECT_EQ(response->status, expected_status) << response->body;
  return json::parse(response->body);
}

TEST(ServeHttp, AnswersStreamsRefusesAndReportsMetrics) {
  TempDir dir;
  Server server(tinyProject(dir), dir);
  const json greedy = {{"prompt", "Hello"}, {"max_tokens", 12}, {"temperature", 0}};
  const json answer = complete(server, greedy);
  EXPECT_EQ(answer["object"], "text_completion");
  EXPECT_EQ(answer["model"], "tiny-serve");
  EXPECT_EQ(answer["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(answer["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(answer["usage"]["completion_tokens"], 12);
  EXPECT_EQ(complete(server, greedy)["choices"][0]["text"], answer["choices"][0]["text"]);

  // The stream's pieces add up to the whole answer, and it ends with [DONE].
  json streamed = greedy;
  streamed["stream"] = true;
  auto client = server.client();
  const auto response = client.Post("/v1/completions", streamed.dump(), "application/json");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"), "text/event-stream");
  std::string text;
  std::string last_reason;
  std::size_t at = 0;
  int events = 0;
  while ((at = response->body.find("data: ", at)) != std::string::npos) {
    const std::size_t end = response->body.find("\n\n", at);
    const std::string data = response->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") break;
    const json event = json::parse(data);
    text += event["choices"][0]["text"].get<std::string>();
    if (!event["choices"][0]["finish_reason"].is_null()) last_reason = event["choices"][0]["finish_reason"];
    ++events;
  }
  EXPECT_NE(response->body.find("data: [DONE]\n\n"), std::string::npos);
  EXPECT_GT(events, 1);
  EXPECT_EQ(text, answer["choices"][0]["text"].get<std::string>());
  EXPECT_EQ(last_reason, "length");

  // Refusals: 4xx with a one-line message naming the problem; the server goes on.
  const auto refused = [&](const std::string& body, const std::string& expected) {
    auto c = server.client();
    const auto r = c.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body;
    const std::string message = json::parse(r->body)["error"]["message"];
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  };
  refused(R"({"prompt": "x",)", "malformed JSON");
  refused(R"({"prompt": "x", "best_of": 2})", "best_of: unknown field");
  refused(R"({"prompt": "x", "max_tokens": -1})", "max_tokens: -1 is below 1");
  refused(R"({"prompt": "x", "max_tokens": 100000})", "serve.max_tokens");
  refused(json({{"prompt", std::string(60, 'a')}, {"max_tokens", 1}}).dump(), "exceed model.seq_len = 48");
  const auto missing = client.Get("/v2/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  const auto wrong_method = client.Get("/v1/completions");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(wrong_method->get_header_value("Allow"), "POST");
  EXPECT_NE(json::parse(wrong_method->body)["error"]["message"].get<std::string>().find("method not allowed"), std::string::npos);
  const auto put = client.Put("/v1/completions", "{}", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  EXPECT_EQ(put->get_header_value("Allow"), "POST");

  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("behemoth_requests_total{outcome=\"ok\"} 3"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("behemoth_requests_total{outcome=\"invalid\"} 5"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("behemoth_generated_tokens_total 36"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("behemoth_kv_blocks_in_use 0"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("behemoth_kv_blocks_total 24"), std::string::npos) << metrics->body;  // 4 x 48 / 8
  EXPECT_TRUE(server.running());
}

TEST(ServeHttp, TwoTensorParallelRanksAnswerWhatOneRankDoes) {
  TempDir dir;
  const std::string project = tinyProject(dir);
  const json greedy = {{"prompt", "The quick brown fox"}, {"max_tokens", 16}, {"temperature", 0}};
  const json sampled = {{"prompt", "Once"}, {"max_tokens", 16}, {"temperature", 0.8}, {"top_k", 40}, {"seed", 5}};
  std::string one_greedy, one_sampled;
  {
    Server one(project, dir);
    one_greedy = complete(one, greedy)["choices"][0]["text"];
    one_sampled = complete(one, sampled)["choices"][0]["text"];
  }
  Server two(project, dir, {"--nproc", "2"});
  EXPECT_NE(two.log().find("(tp 2,"), std::string::npos) << two.log();
  EXPECT_EQ(complete(two, greedy)["choices"][0]["text"], one_greedy);
  EXPECT_EQ(complete(two, sampled)["choices"][0]["text"], one_sampled);
}

TEST(ServeHttp, APlanThatCannotShardIsRefusedBeforeLaunch) {
  TempDir dir;
  const CommandResult result = runBehemoth({"serve", tinyProject(dir), "--nproc", "3", "--port", "0"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.stderr_text.find("n_head"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1) << result.stderr_text;
}

}  // namespace
}  // namespace behemoth
