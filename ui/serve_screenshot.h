// `behemoth-studio --screenshot serve`: starts a real server for the opened project on the Serve
// page, streams a prompt into the output box while a few other clients load the server, and
// returns once the charts have several points and the answer has streamed in.
#pragma once

#include <QString>

#include <memory>

namespace behemoth::ui {

class MainWindow;
class ServeDemoLoad;

struct ServeScreenshotStage {
  std::unique_ptr<ServeDemoLoad> load;  // keeps the server busy until the picture is taken
  QString error;                        // empty when the page is ready to render
};

ServeScreenshotStage stageServeScreenshot(MainWindow& window);

}  // namespace behemoth::ui
