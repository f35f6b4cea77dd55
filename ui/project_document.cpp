#include "ui/project_document.h"

#include <QFileInfo>
#include <QUndoCommand>

#include <stdexcept>

#include "backend/cli/project_input.h"
#include "backend/project/project.h"

namespace behemoth::ui {
namespace {

// A snapshot pair: undo restores `before`, redo `after`. Snapshots are small (a project file).
class SnapshotCommand : public QUndoCommand {
 public:
  SnapshotCommand(ProjectDocument* document, const QString& text, nlohmann::json before, nlohmann::json after, int merge_id)
      : QUndoCommand(text), document_(document), before_(std::move(before)), after_(std::move(after)), merge_id_(merge_id) {}

  void undo() override { document_->restore(before_); }
  void redo() override { document_->restore(after_); }
  int id() const override { return merge_id_; }
  bool mergeWith(const QUndoCommand* other) override {
    if (other->id() != id()) return false;
    after_ = static_cast<const SnapshotCommand*>(other)->after_;
    return true;
  }

 private:
  ProjectDocument* document_;
  nlohmann::json before_;
  nlohmann::json after_;
  int merge_id_;
};

int mergeIdFor(const std::string& pointer) {
  // Positive and stable per pointer; -1 (no merging) is reserved for structural edits.
  return static_cast<int>(std::hash<std::string>{}(pointer) & 0x3fffffff);
}

}  // namespace

ProjectDocument::ProjectDocument(QObject* parent) : QObject(parent), json_(newProjectJson()) {
  connect(&undo_, &QUndoStack::cleanChanged, this, [this](bool clean) { emit modifiedChanged(!clean); });
}

QString ProjectDocument::baseDir() const {
  return path_.isEmpty() ? QStringLiteral(".") : QFileInfo(path_).absolutePath();
}

QString ProjectDocument::displayName() const {
  return path_.isEmpty() ? QStringLiteral("untitled.json") : QFileInfo(path_).fileName();
}

bool ProjectDocument::isModified() const { return !undo_.isClean(); }

void ProjectDocument::reset(nlohmann::json json, const QString& path) {
  undo_.clear();
  json_ = std::move(json);
  path_ = path;
  undo_.setClean();
  emit pathChanged();
  emit modifiedChanged(false);
  emit changed();
}

void ProjectDocument::open(const QString& path) {
  const std::string file = path.toStdString();
  nlohmann::json json = readProjectJson(file);  // syntax errors name the file
  try {
    projectFromJson(json, QFileInfo(path).absolutePath().toStdString());
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(file + ": " + error.what());
  }
  reset(std::move(json), QFileInfo(path).absoluteFilePath());
}

void ProjectDocument::saveAs(const QString& path) {
  writeFileAtomically(path.toStdString(), json_.dump(2) + "\n");
  const QString absolute = QFileInfo(path).absoluteFilePath();
  if (absolute != path_) {
    path_ = absolute;
    emit pathChanged();
  }
  undo_.setClean();
}

nlohmann::json ProjectDocument::value(const std::string& pointer, const nlohmann::json& fallback) const {
  const nlohmann::json::json_pointer ptr(pointer);
  return json_.contains(ptr) ? json_.at(ptr) : fallback;
}

void ProjectDocument::setValue(const std::string& pointer, const nlohmann::json& value) {
  const nlohmann::json::json_pointer ptr(pointer);
  if (json_.contains(ptr) && json_.at(ptr) == value) return;
  nlohmann::json after = json_;
  after[ptr] = value;
  push(QStringLiteral("Set %1").arg(QString::fromStdString(pointer.substr(1)).replace('/', '.')), std::move(after),
       mergeIdFor(pointer));
}

void ProjectDocument::removeValue(const std::string& pointer) {
  const nlohmann::json::json_pointer ptr(pointer);
  if (!json_.contains(ptr)) return;
  nlohmann::json after = json_;
  after.at(ptr.parent_pointer()).erase(ptr.back());
  push(QStringLiteral("Remove %1").arg(QString::fromStdString(pointer.substr(1)).replace('/', '.')), std::move(after), -1);
}

void ProjectDocument::edit(const QString& text, const std::function<void(nlohmann::json&)>& change) {
  nlohmann::json after = json_;
  change(after);
  if (after == json_) return;
  push(text, std::move(after), -1);
}

void ProjectDocument::push(const QString& text, nlohmann::json after, int merge_id) {
  undo_.push(new SnapshotCommand(this, text, json_, std::move(after), merge_id));  // the stack owns it
}

void ProjectDocument::restore(const nlohmann::json& json) {
  json_ = json;
  emit changed();
}

nlohmann::json newProjectJson() {
  return nlohmann::json::parse(R"({
  "name": "untitled",
  "model": {"arch": "gpt", "n_layer": 2, "n_head": 4, "d_model": 128, "seq_len": 64, "vocab_size": 256},
  "data": {"corpus": "builtin", "global_batch_size": 16},
  "devices": {"kind": "cpu", "count": 2},
  "parallel": {"dp": -1, "tp": 1, "pp": 1, "sp": 1, "zero": 0},
  "precision": "fp32",
  "optimizer": {"name": "adamw", "lr": 0.003, "weight_decay": 0.1, "warmup_steps": 20},
  "train": {"steps": 300, "seed": 0, "log_every": 10, "eval_every": 100, "out_dir": "runs/untitled"}
})");
}

}  // namespace behemoth::ui
