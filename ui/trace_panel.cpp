#include "ui/trace_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QVBoxLayout>

#include <filesystem>

#include "ui/project_analysis.h"
#include "ui/schedule_view.h"

namespace behemoth::ui {

TracePanel::TracePanel(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("tracePanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 4, 0, 0);
  auto* bar = new QHBoxLayout;
  title_ = new QLabel(tr("Pipeline timeline"), this);
  title_->setObjectName(QStringLiteral("sectionTitle"));
  steps_ = new QComboBox(this);
  steps_->setToolTip(tr("The traced optimizer step to draw"));
  bar->addWidget(title_, 1);
  bar->addWidget(new QLabel(tr("Step"), this));
  bar->addWidget(steps_);
  layout->addLayout(bar);
  message_ = new QLabel(this);
  message_->setObjectName(QStringLiteral("hint"));
  message_->setWordWrap(true);
  message_->setVisible(false);
  layout->addWidget(message_);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  view_ = new ScheduleView(scroll);
  scroll->setWidget(view_);
  layout->addWidget(scroll, 1);
  connect(steps_, qOverload<int>(&QComboBox::activated), this,
          [this](int index) { showStep(steps_->itemData(index).toInt()); });
}

void TracePanel::clear() {
  traces_.clear();
  planned_.reset();
  has_trace_ = false;
  steps_->clear();
  message_->setVisible(false);
  view_->setCharts({});
}

bool TracePanel::showRun(const QString& out_dir, const nlohmann::json& project) {
  clear();
  std::error_code error;
  const std::filesystem::path folder = traceDirectory(out_dir.toStdString());
  if (out_dir.isEmpty() || !std::filesystem::is_directory(folder, error)) return false;
  has_trace_ = true;
  if (!project.is_null() && !project.empty()) {
    const ProjectAnalysis analysis = analyzeProject(project, std::string());
    if (analysis.project && !analysis.error) {
      planned_ = analysis.estimate && analysis.model
                     ? plannedChart(*analysis.project, *analysis.model, analysis.estimate->layout, analysis.device)
                     : plannedChart(*analysis.project);
    }
  }
  try {
    traces_ = readStepTraces(out_dir.toStdString());
  } catch (const std::exception& failure) {
    message_->setText(QString::fromStdString(failure.what()));
    message_->setVisible(true);
    if (planned_) view_->setCharts({*planned_});
    return true;
  }
  for (int step : tracedSteps(traces_)) steps_->addItem(QString::number(step), step);
  if (steps_->count() > 0) {
    steps_->setCurrentIndex(steps_->count() - 1);
    showStep(steps_->currentData().toInt());
  }
  return true;
}

void TracePanel::showStep(int step) {
  std::vector<ScheduleChart> charts = {measuredChart(traces_, step)};
  if (planned_) charts.push_back(*planned_);
  view_->setCharts(std::move(charts));
}

}  // namespace behemoth::ui
