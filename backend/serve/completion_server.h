// The HTTP side of `behemoth serve` (cpp-httplib): POST /v1/completions (whole answers, or
// server-sent events with "stream": true), GET /health and GET /metrics. Each connection runs on
// one of the server's threads and waits on its CompletionStream while the serving thread
// generates; a refused request never reaches the scheduler, so one bad client costs nobody else.
#pragma once

#include <memory>
#include <string>

namespace httplib {
class Server;
}

namespace behemoth {

class Scheduler;
class ServeMetrics;
class Tokenizer;

class CompletionServer {
 public:
  // All must outlive this. `model_name` is what answers carry as "model".
  CompletionServer(Scheduler& scheduler, ServeMetrics& metrics, const Tokenizer& tokenizer, std::string model_name);
  ~CompletionServer();

  // Binds host:port (0: a free port) and returns the port. Throws std::runtime_error naming the
  // address when it cannot.
  int bind(const std::string& host, int port);
  // Answers until stop(); blocks.
  void serve();
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  Scheduler& scheduler_;
  ServeMetrics& metrics_;
  const Tokenizer& tokenizer_;
  std::string model_name_;
  // The socket cpp-httplib listens on, caught as it is made so bind() can widen its backlog.
  int listening_socket_ = -1;
};

}  // namespace behemoth
