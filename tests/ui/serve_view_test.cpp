// The Serve page against the real `behemoth serve`: a greedy prompt streamed through the page
// says exactly what a plain (non-streaming) request for it says, the charts fill from /metrics,
// Stop ends the process; a missing input shows the engine's one line and nothing breaks; a run
// trained from the window is offered from the history and served from its checkpoint, and the
// server ends with the window.
#include <QAction>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cmath>

#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/run_controller.h"
#include "ui/run_view.h"
#include "ui/serve_charts.h"
#include "ui/serve_completion_client.h"
#include "ui/serve_controller.h"
#include "ui/serve_view.h"

namespace behemoth::ui {
namespace {

// Generous, only against hangs: a tiny model starts in seconds.
constexpr int kStartTimeoutMs = 120000;
constexpr int kAnswerTimeoutMs = 60000;

// The brief's tiny model: GPT, 2 layers, 2 heads, d_model 64, seq_len 128, 256 bytes.
nlohmann::json serveProject(const QTemporaryDir& dir) {
  return {{"name", "serve-live"},
          {"model", {{"arch", "gpt"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 64}, {"seq_len", 128}, {"vocab_size", 256}}},
          {"data", {{"tokenizer", "byte"}, {"global_batch_size", 4}}},
          {"devices", {{"kind", "cpu"}, {"count", 1}}},
          {"train", {{"steps", 4}, {"log_every", 2}, {"out_dir", dir.filePath("out").toStdString()}}},
          {"serve", {{"max_batch", 4}}}};
}

bool processGone(qint64 pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

bool waitForServing(ServeController* controller) {
  waitUntil([&] { return controller->state() != ServeController::State::starting; }, kStartTimeoutMs);
  return controller->state() == ServeController::State::serving;
}

// A plain request, the way any HTTP client sends it: the whole answer in one JSON body.
nlohmann::json plainCompletion(const QUrl& server, const CompletionSettings& settings) {
  QNetworkAccessManager network;
  QUrl url = server;
  url.setPath(QStringLiteral("/v1/completions"));
  QNetworkRequest request(url);
  request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
  QNetworkReply* reply = network.post(request, QByteArray::fromStdString(completionBody(settings, false).dump()));
  waitUntil([&] { return reply->isFinished(); }, kAnswerTimeoutMs);
  const QByteArray body = reply->readAll();
  const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  reply->deleteLater();
  EXPECT_EQ(status, 200) << body.toStdString();
  return nlohmann::json::parse(body.toStdString(), nullptr, false);
}

TEST(ServeView, StreamedGreedyAnswerEqualsThePlainAnswerTheChartsFillAndStopEndsTheServer) {
  ASSERT_TRUE(QFileInfo(testing::engineBinary()).isExecutable());
  QTemporaryDir dir;
  const QString project = dir.filePath("serve.json");
  testing::writeText(project, serveProject(dir).dump(2));
  ServeView view;
  view.setEngine(testing::engineBinary());
  view.resize(1300, 850);
  view.show();

  ASSERT_TRUE(view.startServer(project));
  ServeController* server = view.controller();
  ASSERT_TRUE(waitForServing(server)) << view.banner()->text().toStdString();
  EXPECT_EQ(server->modelName(), "serve-live");
  EXPECT_EQ(server->url().host(), "127.0.0.1");
  EXPECT_GT(server->url().port(), 0);
  EXPECT_GT(server->kvBlocks(), 0);
  EXPECT_EQ(server->tensorParallel(), 1);
  EXPECT_TRUE(view.statusLabel()->text().contains(server->url().toString()));
  EXPECT_TRUE(view.sendButton()->isEnabled());
  EXPECT_FALSE(view.startButton()->isEnabled());

  view.promptBox()->setPlainText(QStringLiteral("Hello"));
  view.maxTokensBox()->setValue(24);
  view.temperatureBox()->setValue(0);  // greedy: one right answer
  QSignalSpy finished(view.client(), &ServeCompletionClient::finished);
  QSignalSpy failed(view.client(), &ServeCompletionClient::failed);
  ASSERT_TRUE(view.sendPrompt());
  EXPECT_FALSE(view.sendButton()->isEnabled());  // one answer at a time
  ASSERT_TRUE(waitUntil([&] { return !view.client()->busy(); }, kAnswerTimeoutMs));
  ASSERT_EQ(failed.count(), 0) << failed.at(0).at(0).toString().toStdString();
  ASSERT_EQ(finished.count(), 1);
  const QString streamed = view.client()->text();
  const QString reason = finished.at(0).at(0).toString();
  EXPECT_TRUE(reason == "length" || reason == "stop") << reason.toStdString();
  EXPECT_FALSE(streamed.isEmpty());
  EXPECT_GT(view.client()->pieces(), 1);  // it streamed, not one piece at the end
  EXPECT_EQ(view.outputBox()->toPlainText().toStdString(), "Hello" + streamed.toStdString());

  CompletionSettings same;
  same.prompt = QStringLiteral("Hello");
  same.max_tokens = 24;
  same.temperature = 0;
  const nlohmann::json plain = plainCompletion(server->url(), same);
  ASSERT_TRUE(plain.contains("choices")) << plain.dump();
  EXPECT_EQ(plain["choices"][0]["text"].get<std::string>(), streamed.toStdString());
  EXPECT_EQ(plain["choices"][0]["finish_reason"].get<std::string>(), reason.toStdString());

  // Both requests reach the charts through /metrics.
  ServeCharts* charts = view.charts();
  ASSERT_TRUE(waitUntil(
      [&] {
        return charts->series().size() >= 4 && charts->series().latest.counter("behemoth_requests_total{outcome=\"ok\"}") == 2;
      },
      30000));
  const ServeSeries& series = charts->series();
  EXPECT_EQ(charts->pointCount(ServeCharts::throughput, 0), series.size());
  EXPECT_EQ(charts->pointCount(ServeCharts::kv_blocks, 1), series.size());
  EXPECT_DOUBLE_EQ(series.kv_blocks_total.last(), server->kvBlocks());
  EXPECT_EQ(series.latest.counter("behemoth_generated_tokens_total"), 2 * plain["usage"]["completion_tokens"].get<double>());
  EXPECT_GE(charts->finitePointCount(ServeCharts::time_to_first_token, 0), 1);
  EXPECT_GE(charts->finitePointCount(ServeCharts::request_latency, 1), 1);
  EXPECT_TRUE(view.totalsLabel()->text().contains("2 ok")) << view.totalsLabel()->text().toStdString();

  const qint64 pid = server->processId();
  QSignalSpy ended(server, &ServeController::ended);
  view.stopButton()->click();
  ASSERT_TRUE(waitUntil([&] { return !server->isRunning(); }, 30000));
  ASSERT_EQ(ended.count(), 1);
  EXPECT_FALSE(ended.at(0).at(0).toBool());  // stopped, not failed
  EXPECT_TRUE(processGone(pid));
  EXPECT_FALSE(view.banner()->isVisible());
  EXPECT_EQ(view.statusLabel()->text(), "Server stopped");
  EXPECT_TRUE(view.startButton()->isEnabled());
  EXPECT_FALSE(view.sendButton()->isEnabled());
}

TEST(ServeView, AMissingInputShowsTheEnginesOneLineError) {
  QTemporaryDir dir;
  ServeView view;
  view.setEngine(testing::engineBinary());
  view.show();
  QSignalSpy ended(view.controller(), &ServeController::ended);
  view.startServer(dir.filePath("missing.json"));
  ASSERT_TRUE(waitUntil([&] { return !view.controller()->isRunning(); }, kStartTimeoutMs));
  ASSERT_EQ(ended.count(), 1);
  EXPECT_TRUE(ended.at(0).at(0).toBool());
  const QString message = ended.at(0).at(1).toString();
  EXPECT_TRUE(message.contains("missing.json") && message.contains("no such project file")) << message.toStdString();
  EXPECT_FALSE(message.contains('\n'));
  EXPECT_TRUE(view.banner()->isVisible());
  EXPECT_EQ(view.banner()->text(), "The server did not start: " + message);
  EXPECT_EQ(view.statusLabel()->text(), "Not serving");
  EXPECT_TRUE(view.startButton()->isEnabled());
  EXPECT_FALSE(view.sendButton()->isEnabled());
  EXPECT_FALSE(view.sendPrompt());
}

TEST(ServeView, AnEngineThatCannotStartIsReported) {
  ServeController controller;
  QSignalSpy ended(&controller, &ServeController::ended);
  EXPECT_FALSE(controller.start(QStringLiteral("/nonexistent/behemoth"), QStringLiteral("p.json"), 1, QDir::tempPath()));
  ASSERT_EQ(ended.count(), 1);
  EXPECT_TRUE(ended.at(0).at(0).toBool());
  EXPECT_TRUE(ended.at(0).at(1).toString().startsWith("Could not start the engine")) << ended.at(0).at(1).toString().toStdString();
  EXPECT_FALSE(controller.isRunning());
  EXPECT_EQ(ServeController::serveArguments("p.json", 2), (QStringList{"serve", "p.json", "--port", "0", "--nproc", "2"}));
}

// The window: Ctrl+7 opens Serve; a run trained with F5 is offered from the history and served
// from its checkpoint; closing the window ends the server.
TEST(ServeView, TheWindowServesARunsCheckpointFromTheHistoryAndStopsItWhenClosed) {
  QTemporaryDir dir;
  const QString project = dir.filePath("serve.json");
  testing::writeText(project, serveProject(dir).dump(2));
  auto window = std::make_unique<MainWindow>(dir.filePath("history.sqlite"), false);
  window->runView()->setEngine(testing::engineBinary());
  window->serveView()->setEngine(testing::engineBinary());
  window->show();
  ASSERT_TRUE(window->openProject(project));
  testing::waitForAnalysis(*window->estimates());
  EXPECT_EQ(window->findChild<QListWidget*>(QStringLiteral("sidebar"))->count(), 7);
  QAction* serve_page = nullptr;
  for (QAction* action : window->findChildren<QAction*>()) {
    if (action->shortcut() == QKeySequence(Qt::CTRL | Qt::Key_7)) serve_page = action;
  }
  ASSERT_NE(serve_page, nullptr);
  serve_page->trigger();
  EXPECT_EQ(window->currentPage(), MainWindow::Page::serve);

  QSignalSpy trained(window->runView()->controller(), &RunController::ended);
  window->findChild<QAction*>(QStringLiteral("runAction"))->trigger();
  ASSERT_TRUE(trained.wait(kStartTimeoutMs));
  ASSERT_EQ(trained.at(0).at(0).value<RunController::Ending>(), RunController::Ending::completed);
  ServeView* view = window->serveView();
  const QString out_dir = dir.filePath("out");
  ASSERT_TRUE(waitUntil([&] { return view->sourceBox()->findData(out_dir) > 0; }, 20000));
  view->sourceBox()->setCurrentIndex(view->sourceBox()->findData(out_dir));
  EXPECT_TRUE(view->sourceBox()->currentText().contains("Run #1")) << view->sourceBox()->currentText().toStdString();
  EXPECT_EQ(view->chosenSource(), out_dir);

  view->startButton()->click();
  ASSERT_TRUE(waitForServing(view->controller())) << view->banner()->text().toStdString();
  EXPECT_EQ(view->controller()->arguments().at(1), out_dir);
  EXPECT_EQ(view->controller()->modelName(), "serve-live");  // the project the run saved
  const qint64 pid = view->controller()->processId();
  window->close();
  window.reset();
  EXPECT_TRUE(processGone(pid));
}

}  // namespace
}  // namespace behemoth::ui
