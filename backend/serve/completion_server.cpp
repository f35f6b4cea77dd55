#include "backend/serve/completion_server.h"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "backend/serve/completion_request.h"
#include "backend/serve/completion_stream.h"
#include "backend/serve/scheduler.h"
#include "backend/serve/serve_metrics.h"

namespace behemoth {

namespace {

using nlohmann::json;

// Generated text may hold bytes that are not UTF-8 (a byte-level model mid-character): they are
// shown as U+FFFD rather than failing the answer.
std::string dumped(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

void answerError(httplib::Response& response, int status, const std::string& type, const std::string& message) {
  response.status = status;
  response.set_content(dumped({{"error", {{"message", message}, {"type", type}}}}), "application/json");
}

std::int64_t unixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Patience of a waiting connection: how often it checks that its client is still there.
constexpr std::chrono::milliseconds kPoll{100};

constexpr std::size_t kMaxBodyBytes = std::size_t{8} << 20;  // the error handler's "8 MiB"

// Connections answered at once; each waits on its own request, so this bounds concurrent clients.
constexpr std::size_t kConnectionThreads = 160;

// Connections the kernel holds for accept(). The compiled cpp-httplib listens with a backlog of 5:
// a burst of clients overflows it, and some of them see their connection reset (the load test's
// 64 clients on a busy machine did).
constexpr int kListenBacklog = 1024;

}  // namespace

CompletionServer::CompletionServer(Scheduler& scheduler, ServeMetrics& metrics, const Tokenizer& tokenizer, std::string model_name)
    : server_(std::make_unique<httplib::Server>()),
      scheduler_(scheduler),
      metrics_(metrics),
      tokenizer_(tokenizer),
      model_name_(std::move(model_name)) {
  // httplib's hook hands over a raw pointer that the server owns and deletes.
  server_->new_task_queue = [] { return new httplib::ThreadPool(kConnectionThreads); };
  server_->set_payload_max_length(kMaxBodyBytes);
  // Replaces httplib's default (SO_REUSEPORT, which would let a second server bind a port in use):
  // SO_REUSEADDR only, and the socket is remembered for its backlog.
  server_->set_socket_options([this](int socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listening_socket_ = socket;
  });
  // Each streamed token is a small write: without this, Nagle's algorithm holds it back until the
  // client acknowledges the previous one, which a client delaying its ACKs does only after ~40 ms.
  server_->set_tcp_nodelay(true);

  server_->Get("/health", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"status": "ok"})", "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.prometheusText(), "text/plain; version=0.0.4");
  });

  server_->Post("/v1/completions", [this](const httplib::Request& http_request, httplib::Response& response) {
    CompletionRequest request;
    GenerationRequest generation;
    try {
      request = parseCompletionRequest(http_request.body);
      const std::vector<TokenId> ids = tokenizer_.encode(request.prompt);
      generation.prompt = ids;
      generation.max_tokens = request.max_tokens;
      generation.sampling = request.sampling;
      if (const auto refused = scheduler_.refusal(generation)) throw std::invalid_argument(*refused);
    } catch (const std::invalid_argument& error) {
      metrics_.countRequest("invalid");
      return answerError(response, 400, "invalid_request_error", error.what());
    }
    auto stream = std::make_shared<CompletionStream>(tokenizer_, request.stop);
    generation.listener = stream;
    const auto prompt_tokens = static_cast<std::int64_t>(generation.prompt.size());
    const Scheduler::Submission submission = scheduler_.submit(std::move(generation));
    if (submission != Scheduler::Submission::queued) {
      metrics_.countRequest("rejected");
      return answerError(response, 503, "server_busy",
                         submission == Scheduler::Submission::closed
                             ? std::string("the server is stopping")
                             : "the queue is full (serve.max_queue = " + std::to_string(scheduler_.limits().max_queue) +
                                   " requests waiting); try again later");
    }
    static std::atomic<std::int64_t> next_id{1};
    const std::string id = "cmpl-" + std::to_string(next_id++);
    const std::int64_t created = unixSeconds();
    const auto choice = [](const std::string& text, const std::optional<FinishReason>& finish) {
      json reason = finish ? json(finishReasonName(*finish)) : json(nullptr);
      return json::array({{{"index", 0}, {"text", text}, {"finish_reason", reason}, {"logprobs", nullptr}}});
    };

    if (!request.stream) {
      std::string text;
      std::optional<FinishReason> finish;
      while (!finish) {
        CompletionStream::Piece piece = stream->wait(kPoll);
        text += piece.text;
        finish = piece.finish;
      }
      const int completion_tokens = stream->generatedTokens();
      response.set_content(dumped({{"id", id},
                                   {"object", "text_completion"},
                                   {"created", created},
                                   {"model", model_name_},
                                   {"choices", choice(text, finish)},
                                   {"usage",
                                    {{"prompt_tokens", prompt_tokens},
                                     {"completion_tokens", completion_tokens},
                                     {"total_tokens", prompt_tokens + completion_tokens}}}}),
                           "application/json");
      return;
    }

    const std::string model_name = model_name_;
    response.set_chunked_content_provider(
        "text/event-stream",
        [stream, choice, id, created, model_name](std::size_t, httplib::DataSink& sink) {
          const auto send = [&](const std::string& line) { return sink.write(line.data(), line.size()); };
          CompletionStream::Piece piece = stream->wait(kPoll);
          if (!sink.is_writable()) {
            stream->abandon();
            return false;
          }
          if (!piece.text.empty() || piece.finish) {
            const json event = {{"id", id},       {"object", "text_completion"},         {"created", created},
                                {"model", model_name}, {"choices", choice(piece.text, piece.finish)}};
            if (!send("data: " + dumped(event) + "\n\n")) {
              stream->abandon();
              return false;
            }
          }
          if (piece.finish) {
            send("data: [DONE]\n\n");
            sink.done();
          }
          return true;
        },
        [stream](bool success) {
          if (!success) stream->abandon();
        });
  });

  // The right path with the wrong method says which method it wants, rather than "no such endpoint".
  const auto wrongMethod = [](const char* allowed) {
    return [allowed](const httplib::Request& request, httplib::Response& response) {
      response.set_header("Allow", allowed);
      answerError(response, 405, "invalid_request_error", request.method + " " + request.path + ": method not allowed (use " + allowed + ")");
    };
  };
  for (const char* path : {"/v1/completions", "/health", "/metrics"}) {
    const char* allowed = std::string(path) == "/v1/completions" ? "POST" : "GET";
    if (std::string(allowed) != "GET") server_->Get(path, wrongMethod(allowed));
    if (std::string(allowed) != "POST") server_->Post(path, wrongMethod(allowed));
    server_->Put(path, wrongMethod(allowed));
    server_->Delete(path, wrongMethod(allowed));
    server_->Patch(path, wrongMethod(allowed));
  }

  // What cpp-httplib refuses before a handler runs: say why, and count a refused completion.
  server_->set_error_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    std::string message = "HTTP " + std::to_string(response.status);
    if (response.status == 404) message = "no such endpoint (POST /v1/completions, GET /health, GET /metrics)";
    if (response.status == 400) message = "malformed HTTP request (a POST needs a Content-Length and a JSON body)";
    if (response.status == 413) message = "the request body is larger than 8 MiB";
    if (request.path == "/v1/completions" && (response.status == 400 || response.status == 413)) metrics_.countRequest("invalid");
    answerError(response, response.status, "invalid_request_error", message);
  });
}

CompletionServer::~CompletionServer() = default;

int CompletionServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) throw std::runtime_error("serve: cannot listen on " + host + ":" + std::to_string(port) + " (in use, or not an address of this machine)");
  // Listening again on a listening socket only changes its backlog.
  if (::listen(listening_socket_, kListenBacklog) != 0) throw std::runtime_error("serve: cannot widen the listen backlog on " + host + ":" + std::to_string(bound));
  return bound;
}

void CompletionServer::serve() { server_->listen_after_bind(); }

void CompletionServer::stop() { server_->stop(); }

}  // namespace behemoth
