// A launcher killed with SIGKILL never reports an outcome; the Studio's history shows its run as
// lost (with the last step that reached the history), not as running forever.
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include <algorithm>

#include "backend/history/history_store.h"
#include "tests/support/background_command.h"
#include "tests/support/command.h"
#include "tests/ui/ui_test_support.h"
#include "ui/history_table_model.h"
#include "ui/history_view.h"
#include "ui/main_window.h"

namespace behemoth::ui {
namespace {

TEST(HistoryLostRun, KilledLauncherShowsAsLostInTheHistoryView) {
  QTemporaryDir dir;
  const std::string root = dir.path().toStdString();
  nlohmann::json project = testing::tinyProject();
  project["model"] = {{"arch", "gpt"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 32}, {"seq_len", 16}, {"vocab_size", 256}};
  project["data"]["global_batch_size"] = 8;
  project["train"] = {{"steps", 100000}, {"log_every", 1}, {"out_dir", root + "/out"}};
  testing::writeText(dir.filePath("p.json"), project.dump());
  const std::string db = root + "/history.sqlite";

  BackgroundCommand launcher(testing::engineBinary().toStdString(), {"run", root + "/p.json", "--nproc", "2", "--history", db},
                             root + "/launcher.log");
  ASSERT_TRUE(pollUntil([&] { return lastRecordedStep(db).value_or(0) >= 2; }, std::chrono::seconds(240)))
      << readFile(root + "/launcher.log");
  const std::vector<pid_t> workers = launcher.children();
  EXPECT_EQ(workers.size(), 2u);
  launcher.killGroup();
  EXPECT_TRUE(pollUntil([&] { return std::all_of(workers.begin(), workers.end(), processGone); }, std::chrono::seconds(60)))
      << "a worker outlived its launcher";
  const std::int64_t last_step = lastRecordedStep(db).value();

  MainWindow window(QString::fromStdString(db), false);
  window.show();
  ASSERT_TRUE(waitUntil([&] { return window.historyView()->loaded() && !window.historyService()->busy(); }, 20000));
  HistoryTableModel* model = window.historyView()->model();
  ASSERT_EQ(model->rowCount(), 1);
  EXPECT_EQ(model->index(0, HistoryTableModel::outcome).data().toString(), "lost");
  EXPECT_EQ(model->run(0).last_step, std::optional<std::int64_t>(last_step));
  const QString tip = model->index(0, HistoryTableModel::outcome).data(Qt::ToolTipRole).toString();
  EXPECT_TRUE(tip.contains(QStringLiteral("last step in the history: %1").arg(last_step))) << tip.toStdString();
  // Marked in the database, not only on screen.
  EXPECT_EQ(HistoryStore(db).getRun(model->run(0).id)->run.outcome, RunOutcome::lost);
}

}  // namespace
}  // namespace behemoth::ui
