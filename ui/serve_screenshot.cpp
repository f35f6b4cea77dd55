#include "ui/serve_screenshot.h"

#include <QLabel>
#include <QDoubleSpinBox>
#include <QPlainTextEdit>
#include <QSpinBox>

#include "ui/main_window.h"
#include "ui/screenshot.h"
#include "ui/serve_charts.h"
#include "ui/serve_completion_client.h"
#include "ui/serve_controller.h"
#include "ui/serve_demo_load.h"
#include "ui/serve_view.h"

namespace behemoth::ui {
namespace {

constexpr int kStartTimeoutMs = 180000;  // loading a checkpoint of a big model on CPU takes a while
constexpr int kLoadTimeoutMs = 120000;
constexpr int kPointsWanted = 24;        // 12 s of scrapes
constexpr int kStreamingClients = 3;

}  // namespace

ServeScreenshotStage stageServeScreenshot(MainWindow& window) {
  ServeScreenshotStage stage;
  ServeView* view = window.serveView();
  const QString project = window.document()->path();
  if (project.isEmpty()) {
    stage.error = QStringLiteral("serve needs --project FILE (the project to serve)");
    return stage;
  }
  window.showPage(MainWindow::Page::serve);
  view->startServer(project);
  ServeController* server = view->controller();
  waitUntil([&] { return server->state() != ServeController::State::starting; }, kStartTimeoutMs);
  if (server->state() != ServeController::State::serving) {
    stage.error = view->banner()->isVisible() ? view->banner()->text() : QStringLiteral("the server did not start in time");
    return stage;
  }

  stage.load = std::make_unique<ServeDemoLoad>(server->url(), kStreamingClients);
  // The page's own prompt starts a little later, into a busy batch.
  waitUntil([] { return false; }, 2000);
  view->promptBox()->setPlainText(QStringLiteral("/**\n *  @brief  Returns the"));
  view->maxTokensBox()->setValue(96);  // with the prompt, within a tiny model's seq_len of 128
  view->temperatureBox()->setValue(0.8);
  view->seedBox()->setValue(7);
  if (!view->sendPrompt()) {
    stage.error = QStringLiteral("the page could not send its prompt");
    return stage;
  }
  const bool done = waitUntil(
      [&] {
        return !view->client()->busy() && view->charts()->series().size() >= kPointsWanted;
      },
      kLoadTimeoutMs);
  if (!done || view->client()->text().isEmpty()) {
    stage.error = QStringLiteral("no streamed answer, or too few chart points (%1) in time: %2")
                      .arg(view->charts()->series().size())
                      .arg(view->answerLabel()->text());
  }
  return stage;
}

}  // namespace behemoth::ui
