// Mesh designer: the job's devices (virtual count, kind, memory, devices per node), the dp / pp /
// tp / sp / ep sizes, the nesting of the axes (drag to reorder) and the rank grid coloured by the
// groups of a chosen axis. Invalid combinations show the engine's message at the field.
#pragma once

#include <QWidget>

#include <map>
#include <string>

#include "ui/estimate_service.h"
#include "ui/field_binding.h"

class QAbstractButton;
class QButtonGroup;
class QLabel;
class QListWidget;
class QPushButton;
class QSpinBox;

namespace behemoth::ui {

class DeviceDetector;
class MeshGridWidget;
class ProjectDocument;

class MeshDesignerView : public QWidget {
  Q_OBJECT

 public:
  MeshDesignerView(ProjectDocument* document, QWidget* parent = nullptr);

  void showAnalysis(const AnalysisPtr& analysis);

  QSpinBox* axisSpin(Axis axis) const { return axis_spins_[static_cast<int>(axis)]; }
  QSpinBox* deviceCountSpin() const { return device_count_; }
  QListWidget* orderList() const { return order_; }
  MeshGridWidget* grid() const { return grid_; }
  QLabel* errorLabel() const { return error_; }
  QPushButton* detectButton() const { return detect_; }
  QLabel* detectStatus() const { return detect_status_; }
  // The colour-by button of a tp grid sub-axis (0, 1, 2); visible when the plan has a grid.
  QAbstractButton* gridAxisButton(int sub_axis) const;
  QWidget* fieldWidget(const std::string& field) const;

 private:
  void syncOrder();
  void commitOrder();
  void refreshGridButtons();

  static constexpr int kGridAxisButton = 100;  // button ids of the tp grid's sub-axes: 100 + sub-axis

  ProjectDocument* document_;
  std::array<QSpinBox*, kAxisCount> axis_spins_{};
  QSpinBox* device_count_;
  QListWidget* order_;
  QButtonGroup* highlight_;
  MeshGridWidget* grid_;
  QLabel* error_;
  QLabel* summary_;
  QPushButton* detect_ = nullptr;
  QLabel* detect_status_ = nullptr;
  DeviceDetector* detector_ = nullptr;
  FieldWidgets fields_;
  std::string last_edited_axis_ = "parallel.dp";
  AnalysisPtr last_analysis_;
};

}  // namespace behemoth::ui
