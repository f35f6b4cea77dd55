// ProjectDocument: edits are undoable, consecutive edits of one field merge, saving writes the
// JSON the engine reads, and a bad file never replaces the open project.
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include "backend/project/project.h"
#include "tests/ui/ui_test_support.h"
#include "ui/project_document.h"

namespace behemoth::ui {
namespace {

TEST(ProjectDocument, EditsAreUndoableAndMarkTheDocumentModified) {
  ProjectDocument document;
  document.reset(testing::tinyProject());
  EXPECT_FALSE(document.isModified());
  document.setValue("/parallel/zero", 1);
  EXPECT_TRUE(document.isModified());
  EXPECT_EQ(document.value("/parallel/zero"), 1);
  document.setValue("/data/global_batch_size", 32);
  document.undoStack()->undo();
  EXPECT_EQ(document.value("/data/global_batch_size"), 16);
  EXPECT_EQ(document.value("/parallel/zero"), 1);
  document.undoStack()->undo();
  EXPECT_EQ(document.value("/parallel/zero"), 0);
  EXPECT_FALSE(document.isModified());
  document.undoStack()->redo();
  EXPECT_EQ(document.value("/parallel/zero"), 1);
}

TEST(ProjectDocument, ConsecutiveEditsOfOneFieldAreOneUndoStep) {
  ProjectDocument document;
  document.reset(testing::tinyProject());
  for (int count : {3, 4, 5, 6}) document.setValue("/devices/count", count);
  EXPECT_EQ(document.undoStack()->count(), 1);
  document.undoStack()->undo();
  EXPECT_EQ(document.value("/devices/count"), 2);
}

TEST(ProjectDocument, SavesTheJsonTheEngineReads) {
  QTemporaryDir dir;
  ProjectDocument document;
  document.reset(testing::tinyProject());
  document.setValue("/parallel/zero", 2);
  const QString path = dir.filePath("saved.json");
  document.saveAs(path);
  EXPECT_FALSE(document.isModified());
  EXPECT_EQ(document.path(), path);
  const Project project = loadProject(path.toStdString());
  EXPECT_EQ(project.plan.zero, 2);
  EXPECT_EQ(project.model.d_model, 128);
  EXPECT_EQ(readProjectJson(path.toStdString()), document.json());
}

TEST(ProjectDocument, ABadFileLeavesTheOpenProjectAsItWas) {
  QTemporaryDir dir;
  ProjectDocument document;
  document.reset(testing::tinyProject());
  document.setValue("/train/steps", 77);
  const nlohmann::json before = document.json();

  const QString syntax = dir.filePath("syntax.json");
  testing::writeText(syntax, "{\"model\": {\"n_layer\": 2,,}");
  EXPECT_THROW(document.open(syntax), std::exception);

  nlohmann::json invalid = testing::tinyProject();
  invalid["parallel"]["tpp"] = 2;
  const QString field = dir.filePath("field.json");
  testing::writeText(field, invalid.dump());
  try {
    document.open(field);
    FAIL() << "an unknown key must be rejected";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("parallel.tpp"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(field.toStdString()), std::string::npos) << error.what();
  }
  EXPECT_EQ(document.json(), before);
  EXPECT_TRUE(document.isModified());
  EXPECT_TRUE(document.path().isEmpty());
}

}  // namespace
}  // namespace behemoth::ui
