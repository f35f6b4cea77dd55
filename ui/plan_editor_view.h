// Plan editor: ZeRO stage, optimizer offload, ZeRO-3's chunks and memory tiers, precision, batch and micro-batch, gradient buckets,
// the sp axis and its mode (Ulysses or ring), the pipeline schedule and activation recomputation, and the training settings.
// Options the engine cannot run yet are shown disabled with the engine's own reason (probed with rejectUnavailableFeatures, so
// they enable as strategies land).
#pragma once

#include <QWidget>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/project/project.h"
#include "ui/estimate_service.h"
#include "ui/field_binding.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace behemoth::ui {

class ProjectDocument;

// The engine's reason why the project with `change` applied could not run, or empty when it
// could. Device availability and the axis sizes are neutral (planning describes hardware that is
// not here; each axis is judged at its own field), so only the changed option is judged.
QString unavailableReason(const nlohmann::json& project, const std::string& base_dir,
                          const std::function<void(Project&)>& change);

class PlanEditorView : public QWidget {
  Q_OBJECT

 public:
  PlanEditorView(ProjectDocument* document, QWidget* parent = nullptr);

  void showAnalysis(const AnalysisPtr& analysis);
  QComboBox* zeroCombo() const { return zero_; }
  QComboBox* precisionCombo() const { return precision_; }
  QCheckBox* offloadCheck() const { return offload_; }
  QSpinBox* microBatchSpin() const { return micro_batch_; }
  QComboBox* scheduleCombo() const { return schedule_; }
  QSpinBox* virtualStagesSpin() const { return virtual_; }
  QLineEdit* stageLayersEdit() const { return layers_; }
  QComboBox* recomputeCombo() const { return recompute_; }
  // The sp axis and parallel.sp_mode (enabled at sp > 1), and what the mode does or why sp is off.
  QSpinBox* sequenceSpin() const { return sp_; }
  QComboBox* spModeCombo() const { return sp_mode_; }
  // parallel.tp_mode (enabled at tp > 1) and parallel.tp_depth (enabled for 2.5d), and what the mode does.
  QComboBox* tpModeCombo() const { return tp_mode_; }
  QSpinBox* tpDepthSpin() const { return tp_depth_; }
  QLabel* tensorHint() const { return tensor_hint_; }
  QLabel* sequenceHint() const { return sequence_hint_; }
  // Why the pipeline settings are disabled, or the build's pipeline note ("needs parallel.pp > 1").
  QLabel* pipelineHint() const { return pipeline_hint_; }
  // The engine's message when it refuses the pipeline settings (hidden otherwise).
  QLabel* pipelineError() const { return pipeline_error_; }
  QWidget* fieldWidget(const std::string& field) const;
  // "Chunks and tiers": shown for parallel.zero 3 (and while the file still has one of its keys,
  // so a refused key stays fixable); its fields carry their keys as object names.
  QGroupBox* chunkGroup() const { return chunk_box_; }
  QComboBox* placementCombo() const { return placement_; }
  QSpinBox* prefetchSpin() const { return prefetch_; }
  QDoubleSpinBox* paramFractionSpin() const { return param_fraction_; }
  QLabel* chunkHint() const { return chunk_hint_; }
  // The engine's message when it refuses a chunk or tier setting (hidden otherwise).
  QLabel* chunkError() const { return chunk_error_; }

  // The project keys of the "Chunks and tiers" group ("parallel.chunk_mb", ...).
  static const std::vector<std::string>& chunkFields();

 private:
  void refreshAvailability();
  void refreshSequence(const nlohmann::json& json, const std::string& base);
  void refreshTensorMode(const nlohmann::json& json, int tp);
  void refreshPipeline(const nlohmann::json& json, const std::string& base);
  void refreshChunks(const nlohmann::json& json);

  ProjectDocument* document_;
  QComboBox* zero_;
  QComboBox* precision_;
  QCheckBox* offload_;
  QCheckBox* sequence_parallel_ = nullptr;
  QComboBox* tp_mode_ = nullptr;
  QSpinBox* tp_depth_ = nullptr;
  QLabel* tensor_hint_ = nullptr;
  QSpinBox* micro_batch_;
  QComboBox* schedule_;
  QSpinBox* virtual_;
  QLineEdit* layers_;
  QComboBox* recompute_;
  QSpinBox* sp_;
  QComboBox* sp_mode_;
  QLabel* sequence_hint_;
  QLabel* pipeline_hint_;
  QLabel* pipeline_error_;
  QGroupBox* chunk_box_;
  QComboBox* placement_;
  QDoubleSpinBox* param_fraction_;
  QSpinBox* prefetch_;
  QLabel* chunk_hint_;
  QLabel* chunk_error_;
  QLabel* batching_;
  QLabel* error_;
  FieldWidgets fields_;
};

}  // namespace behemoth::ui
