// The fixture the plan editor's tests share: a project written to a temporary folder, opened in a
// real MainWindow on the plan page, and its first estimate awaited.
#pragma once

#include <QString>
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "tests/ui/ui_test_support.h"
#include "ui/main_window.h"
#include "ui/plan_editor_view.h"

namespace behemoth::ui::testing {

class PlanWindowTest : public ::testing::Test {
 protected:
  // Writes `project` as `file_name` and opens it (call once per test, from SetUp or the test).
  void openWindow(const nlohmann::json& project, const char* file_name) {
    ASSERT_TRUE(dir_.isValid());
    project_path_ = dir_.filePath(file_name);
    writeText(project_path_, project.dump(2));
    window_ = std::make_unique<MainWindow>(dir_.filePath("history.sqlite"), false);
    window_->resize(1400, 900);
    window_->show();
    ASSERT_TRUE(window_->openProject(project_path_));
    analysis_ = waitForAnalysis(*window_->estimates());
    ASSERT_TRUE(analysis_);
    window_->showPage(MainWindow::Page::plan);
    editor_ = window_->planEditor();
  }
  // The estimate after the last one seen (an edit's).
  AnalysisPtr nextAnalysis() {
    analysis_ = waitForAnalysis(*window_->estimates(), analysis_);
    return analysis_;
  }

  QTemporaryDir dir_;
  QString project_path_;
  std::unique_ptr<MainWindow> window_;
  PlanEditorView* editor_ = nullptr;
  AnalysisPtr analysis_;
};

}  // namespace behemoth::ui::testing
