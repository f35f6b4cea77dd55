// Model picker: the zoo presets, the sizes of a custom model, import of a Hugging Face
// config.json, and the model's parameter count and FLOPs per token as the sizes change.
#pragma once

#include <QWidget>

#include <map>
#include <string>

#include "ui/estimate_service.h"
#include "ui/field_binding.h"

class QFormLayout;
class QLabel;
class QListWidget;
class QPushButton;
class QTableWidget;

namespace behemoth::ui {

class ProjectDocument;

class ModelPickerView : public QWidget {
  Q_OBJECT

 public:
  ModelPickerView(ProjectDocument* document, QWidget* parent = nullptr);

  void showAnalysis(const AnalysisPtr& analysis);
  // Replaces the model with the sizes of a Hugging Face config.json (one undo step). Throws
  // std::invalid_argument naming the file and the field.
  void importHfConfig(const QString& path);
  void choosePreset(int index);

  QLabel* parameterLabel() const { return parameters_; }
  QLabel* flopsLabel() const { return flops_; }
  QWidget* fieldWidget(const std::string& field) const;

 signals:
  void message(const QString& text);

 private:
  void addSizeField(QFormLayout* form, const QString& label, const std::string& field, QWidget* editor);
  void syncPresetSelection();

  ProjectDocument* document_;
  QListWidget* presets_;
  QLabel* preset_description_;
  QLabel* parameters_;
  QLabel* flops_;
  QLabel* error_;
  QTableWidget* breakdown_;
  FieldWidgets fields_;  // "model.n_head" -> editor
};

}  // namespace behemoth::ui
