// Model picker: the zoo presets, the sizes of a custom model, a Hugging Face model directory
// (model.hf_pretrained, opened or dropped) or the sizes of a config.json, and the model's
// parameter count and FLOPs per token as the sizes change.
#pragma once

#include <QWidget>

#include <map>
#include <optional>
#include <string>

#include "ui/estimate_service.h"
#include "ui/field_binding.h"
#include "ui/hf_model_summary.h"

class QFormLayout;
class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace behemoth::ui {

class HfModelPanel;
class ProjectDocument;

class ModelPickerView : public QWidget {
  Q_OBJECT

 public:
  ModelPickerView(ProjectDocument* document, QWidget* parent = nullptr);

  void showAnalysis(const AnalysisPtr& analysis);
  // Replaces the model with the sizes of a Hugging Face config.json (one undo step). Throws
  // std::invalid_argument naming the file and the field.
  void importHfConfig(const QString& path);
  // Makes the project's model the Hugging Face directory `dir` (model.hf_pretrained; its sizes
  // follow from its config.json) in one undo step. A directory the engine refuses changes nothing:
  // its one-line message shows in the picker and this returns false.
  bool openHfModel(const QString& dir);
  void choosePreset(int index);
  HfModelPanel* hfPanel() const { return hf_panel_; }

  QLabel* parameterLabel() const { return parameters_; }
  QLabel* flopsLabel() const { return flops_; }
  QWidget* fieldWidget(const std::string& field) const;

 signals:
  void message(const QString& text);

 protected:
  // A folder dropped on the picker opens as a Hugging Face model.
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void addSizeField(QFormLayout* form, const QString& label, const std::string& field, QWidget* editor);
  void syncPresetSelection();
  // Re-reads the project's model.hf_pretrained when its directory changed (headers only).
  void syncHfModel();
  // A size the project does not set: config.json's when a Hugging Face model is open.
  FallbackValue sizeFallback(const std::string& key, nlohmann::json fallback) const;

  ProjectDocument* document_;
  QListWidget* presets_;
  QLabel* preset_description_;
  QLabel* parameters_;
  QLabel* flops_;
  QLabel* error_;
  QLabel* sizes_hint_ = nullptr;
  QTableWidget* breakdown_;
  FieldWidgets fields_;  // "model.n_head" -> editor
  HfModelPanel* hf_panel_;
  QString hf_dir_;                         // the directory hf_model_ was read from
  std::optional<HfModelSummary> hf_model_;  // the project's model.hf_pretrained, when readable
};

}  // namespace behemoth::ui
