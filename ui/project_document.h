// The open project as the Studio edits it: the project file's JSON (the source of truth, so keys
// the Studio does not know survive a save), its path, the modified flag and undo/redo of edits.
#pragma once

#include <QObject>
#include <QString>
#include <QUndoStack>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace behemoth::ui {

class ProjectDocument : public QObject {
  Q_OBJECT

 public:
  explicit ProjectDocument(QObject* parent = nullptr);

  const nlohmann::json& json() const { return json_; }
  // The file's path; empty for a project never saved.
  const QString& path() const { return path_; }
  // Folder that relative paths in the project (data.corpus, model.hf_config) resolve against.
  QString baseDir() const;
  QString displayName() const;
  bool isModified() const;
  QUndoStack* undoStack() { return &undo_; }

  // A fresh project (not modified, no path, empty undo history).
  void reset(nlohmann::json json, const QString& path = {});
  // Reads and validates PATH with the engine's own parser. On error throws std::exception whose
  // message names the file and the field, and leaves this document exactly as it was.
  void open(const QString& path);
  // Writes the JSON atomically; on error throws and keeps the document (and its modified flag).
  void saveAs(const QString& path);

  // The value at a JSON pointer ("/parallel/tp"), or `fallback` when absent.
  nlohmann::json value(const std::string& pointer, const nlohmann::json& fallback = nullptr) const;
  // One undoable edit. Consecutive edits of the same pointer merge into one undo step (typing
  // into a spin box is one edit). A value equal to the current one is not an edit.
  void setValue(const std::string& pointer, const nlohmann::json& value);
  // Removes a key (one undo step); no-op when absent.
  void removeValue(const std::string& pointer);
  // An arbitrary edit as one undo step named `text`.
  void edit(const QString& text, const std::function<void(nlohmann::json&)>& change);

  // Used by the undo commands: replaces the JSON and announces the change.
  void restore(const nlohmann::json& json);

 signals:
  void changed();          // the JSON changed (edit, undo, redo, open, new)
  void pathChanged();
  void modifiedChanged(bool modified);

 private:
  void push(const QString& text, nlohmann::json after, int merge_id);

  nlohmann::json json_;
  QString path_;
  QUndoStack undo_;
};

// The JSON of the project a new document starts with (the default CPU project's sizes).
nlohmann::json newProjectJson();

}  // namespace behemoth::ui
