#include "ui/mesh_designer_view.h"

#include <QButtonGroup>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QListWidget>
#include <QRadioButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

#include "parallel/plan.h"
#include "ui/device_detection.h"
#include "ui/field_binding.h"
#include "ui/run_controller.h"
#include "ui/mesh_grid_widget.h"
#include "ui/project_document.h"

namespace behemoth::ui {
namespace {

QString axisText(Axis axis) {
  const std::string_view name = axisName(axis);
  return QString::fromUtf8(name.data(), static_cast<int>(name.size()));
}

QString axisShortMeaning(Axis axis) {
  switch (axis) {
    case Axis::dp: return QObject::tr("data");
    case Axis::pp: return QObject::tr("pipeline");
    case Axis::tp: return QObject::tr("tensor");
    case Axis::sp: return QObject::tr("sequence");
    case Axis::ep: return QObject::tr("expert");
  }
  return {};
}

QString axisMeaning(Axis axis) {
  switch (axis) {
    case Axis::dp: return QObject::tr("data parallel: replicas that split the batch");
    case Axis::pp: return QObject::tr("pipeline parallel: stages of consecutive layers");
    case Axis::tp: return QObject::tr("tensor parallel: every matrix split across the group");
    case Axis::sp: return QObject::tr("sequence parallel: the sequence split across the group");
    case Axis::ep: return QObject::tr("expert parallel: experts spread across the group");
  }
  return {};
}

}  // namespace

MeshDesignerView::MeshDesignerView(ProjectDocument* document, QWidget* parent) : QWidget(parent), document_(document) {
  auto* layout = new QHBoxLayout(this);
  auto* controls = new QVBoxLayout;

  auto* devices_box = new QGroupBox(tr("Devices"), this);
  auto* devices_form = new QFormLayout(devices_box);
  auto* kind = new QComboBox;
  kind->addItem(tr("CPU processes (gloo)"), "cpu");
  kind->addItem(tr("CUDA GPUs (NCCL)"), "cuda");
  bindCombo(kind, document_, "/devices/kind", "cpu");
  kind->setObjectName("devices.kind");
  devices_form->addRow(tr("Kind"), kind);
  auto* name = new QComboBox;
  name->setEditable(true);
  for (const char* known : {"", "H100", "H200", "A100"}) name->addItem(known, known);
  name->setToolTip(tr("Known names bring their published FLOP/s and bandwidths; other names get H100 figures"));
  bindCombo(name, document_, "/devices/name", "");
  name->setObjectName("devices.name");
  devices_form->addRow(tr("Model"), name);
  device_count_ = new QSpinBox;
  device_count_->setRange(1, 4096);
  device_count_->setObjectName("devices.count");
  bindSpin(device_count_, document_, "/devices/count", 1);
  devices_form->addRow(tr("Count"), device_count_);
  auto* memory = new QDoubleSpinBox;
  memory->setRange(0, 4096);
  memory->setDecimals(1);
  memory->setSuffix(tr(" GB"));
  memory->setSpecialValueText(tr("device default"));
  memory->setObjectName("devices.memory_gb");
  bindDouble(memory, document_, "/devices/memory_gb", 0.0);
  devices_form->addRow(tr("Memory each"), memory);
  auto* per_node = new QSpinBox;
  per_node->setRange(0, 1024);
  per_node->setSpecialValueText(tr("all on one node"));
  per_node->setObjectName("devices.per_node");
  bindSpin(per_node, document_, "/devices/per_node", 0);
  devices_form->addRow(tr("Per node"), per_node);
  fields_ = {{"devices.kind", kind}, {"devices.name", name}, {"devices.count", device_count_},
             {"devices.memory_gb", memory}, {"devices.per_node", per_node}};
  detect_ = new QPushButton(tr("Detect this machine"));
  detect_->setToolTip(tr("Fill the devices from what the engine sees here (behemoth env)"));
  detect_status_ = new QLabel;
  detect_status_->setObjectName(QStringLiteral("hint"));
  detect_status_->setWordWrap(true);
  devices_form->addRow(detect_, detect_status_);
  detector_ = new DeviceDetector(this);
  connect(detect_, &QPushButton::clicked, this, [this] {
    detect_->setEnabled(false);
    detect_status_->setText(tr("Asking the engine..."));
    detector_->start(RunController::defaultEngine());
  });
  connect(detector_, &DeviceDetector::detected, this, [this](const nlohmann::json& devices, const QString& summary) {
    detect_->setEnabled(true);
    detect_status_->setText(summary);
    document_->edit(tr("Detect devices"), [devices](nlohmann::json& project) { project["devices"] = devices; });
  });
  connect(detector_, &DeviceDetector::failed, this, [this](const QString& message) {
    detect_->setEnabled(true);
    detect_status_->setText(message);
  });
  controls->addWidget(devices_box);

  auto* axes_box = new QGroupBox(tr("Parallel axes"), this);
  auto* axes_form = new QFormLayout(axes_box);
  for (Axis axis : kAllAxes) {
    auto* spin = new QSpinBox;
    spin->setRange(axis == Axis::dp ? 0 : 1, 4096);
    if (axis == Axis::dp) spin->setSpecialValueText(tr("auto (the rest)"));
    const std::string field = "parallel." + std::string(axisName(axis));
    spin->setObjectName(QString::fromStdString(field));
    spin->setToolTip(axisMeaning(axis));
    const std::string pointer = "/parallel/" + std::string(axisName(axis));
    // dp's "auto" is -1 in the file and 0 in the spin box.
    auto refresh = [this, spin, pointer, axis] {
      const QSignalBlocker block(spin);
      const nlohmann::json value = document_->value(pointer);
      const int v = value.is_number_integer() ? value.get<int>() : (axis == Axis::dp ? -1 : 1);
      spin->setValue(axis == Axis::dp && v == -1 ? 0 : v);
    };
    refresh();
    connect(document_, &ProjectDocument::changed, spin, refresh);
    connect(spin, qOverload<int>(&QSpinBox::valueChanged), document_, [this, pointer, axis, field](int value) {
      last_edited_axis_ = field;
      document_->setValue(pointer, axis == Axis::dp && value == 0 ? -1 : value);
    });
    axes_form->addRow(QStringLiteral("%1 (%2)").arg(axisText(axis), axisShortMeaning(axis)), spin);
    axis_spins_[static_cast<int>(axis)] = spin;
    fields_[field] = spin;
  }
  error_ = new QLabel(axes_box);
  error_->setObjectName(QStringLiteral("fieldError"));
  error_->setWordWrap(true);
  error_->setVisible(false);
  axes_form->addRow(error_);
  controls->addWidget(axes_box);

  auto* order_box = new QGroupBox(tr("Axis nesting (drag; outermost first)"), this);
  auto* order_layout = new QVBoxLayout(order_box);
  order_ = new QListWidget(order_box);
  order_->setObjectName(QStringLiteral("parallel.order"));
  order_->setDragDropMode(QAbstractItemView::InternalMove);
  order_->setDefaultDropAction(Qt::MoveAction);
  order_->setToolTip(tr("Ranks are numbered row-major over this order: the last axis varies fastest, so its groups "
                        "sit on neighbouring devices (put the chattiest axis, tp, last)."));
  order_->setMaximumHeight(5 * 26 + 10);
  order_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  order_layout->addWidget(order_);
  fields_["parallel.order"] = order_;
  controls->addWidget(order_box);
  controls->addStretch(1);
  auto* controls_widget = new QWidget(this);
  controls_widget->setLayout(controls);
  controls_widget->setFixedWidth(340);
  controls->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(controls_widget);

  auto* right = new QVBoxLayout;
  auto* highlight_row = new QHBoxLayout;
  highlight_row->addWidget(new QLabel(tr("Colour ranks by their group along:")));
  highlight_ = new QButtonGroup(this);
  for (Axis axis : kAllAxes) {
    auto* button = new QRadioButton(axisText(axis));
    button->setToolTip(axisMeaning(axis));
    highlight_->addButton(button, static_cast<int>(axis));
    highlight_row->addWidget(button);
  }
  // The tp grid's sub-axes (2D / 2.5D / 3D tensor parallelism), shown when the plan has a grid.
  for (int sub_axis = 0; sub_axis < 3; ++sub_axis) {
    auto* button = new QRadioButton;
    button->setVisible(false);
    highlight_->addButton(button, kGridAxisButton + sub_axis);
    highlight_row->addWidget(button);
  }
  highlight_->button(static_cast<int>(Axis::dp))->setChecked(true);
  highlight_row->addStretch(1);
  right->addLayout(highlight_row);
  auto* grid_scroll = new QScrollArea(this);
  grid_scroll->setWidgetResizable(true);
  grid_scroll->setFrameShape(QFrame::NoFrame);
  grid_ = new MeshGridWidget(grid_scroll);
  grid_scroll->setWidget(grid_);
  right->addWidget(grid_scroll, 1);
  summary_ = new QLabel(this);
  summary_->setWordWrap(true);
  summary_->setObjectName(QStringLiteral("hint"));
  right->addWidget(summary_);
  layout->addLayout(right, 1);

  connect(highlight_, &QButtonGroup::idClicked, this, [this](int id) {
    if (id >= kGridAxisButton) {
      grid_->setHighlightGridAxis(id - kGridAxisButton);
    } else {
      grid_->setHighlightAxis(static_cast<Axis>(id));
    }
    showAnalysis(last_analysis_);
  });
  connect(order_->model(), &QAbstractItemModel::rowsMoved, this, &MeshDesignerView::commitOrder);
  connect(document_, &ProjectDocument::changed, this, &MeshDesignerView::syncOrder);
  syncOrder();
}

QWidget* MeshDesignerView::fieldWidget(const std::string& field) const { return findField(fields_, field); }

void MeshDesignerView::syncOrder() {
  Plan plan;
  try {
    plan = projectFromJson(document_->json(), document_->baseDir().toStdString()).plan;
  } catch (const std::exception&) {
    // Keep what the list shows; the analysis names the bad field.
    if (order_->count() > 0) return;
  }
  const QSignalBlocker block(order_->model());
  order_->clear();
  for (Axis axis : plan.order) {
    auto* item = new QListWidgetItem(QStringLiteral("%1   %2").arg(axisText(axis), axisShortMeaning(axis)), order_);
    item->setToolTip(axisMeaning(axis));
    item->setData(Qt::UserRole, static_cast<int>(axis));
  }
}

void MeshDesignerView::commitOrder() {
  nlohmann::json order = nlohmann::json::array();
  for (int row = 0; row < order_->count(); ++row) {
    order.push_back(std::string(axisName(static_cast<Axis>(order_->item(row)->data(Qt::UserRole).toInt()))));
  }
  document_->setValue("/parallel/order", order);
}

QAbstractButton* MeshDesignerView::gridAxisButton(int sub_axis) const { return highlight_->button(kGridAxisButton + sub_axis); }

void MeshDesignerView::refreshGridButtons() {
  const std::optional<TensorGrid>& tp_grid = grid_->tensorGrid();
  for (int sub_axis = 0; sub_axis < 3; ++sub_axis) {
    QAbstractButton* button = highlight_->button(kGridAxisButton + sub_axis);
    const bool shown = tp_grid && tp_grid->axisSizes()[sub_axis] > 1;
    button->setVisible(shown);
    if (shown) {
      button->setText(QString::fromStdString(tp_grid->axisLabel(sub_axis)));
      button->setToolTip(tr("tensor parallel grid: the ranks along one side of the %1 grid")
                             .arg(QString::fromUtf8(tensorParallelModeName(tp_grid->mode).data())));
    }
  }
  // The grid's buttons went away under a chosen one: back to the tp groups.
  if (highlight_->checkedId() >= kGridAxisButton && grid_->highlightGridAxis() < 0) {
    highlight_->button(static_cast<int>(Axis::tp))->setChecked(true);
  }
}

void MeshDesignerView::showAnalysis(const AnalysisPtr& analysis) {
  last_analysis_ = analysis;
  const nlohmann::json devices = document_->value("/devices", nlohmann::json::object());
  const int count = devices.value("count", 1);
  const int per_node = devices.value("per_node", 0);
  grid_->setAnalysis(analysis, count, per_node);
  refreshGridButtons();

  // The field the engine named; "parallel" alone (the axes together) marks the axis edited last.
  std::string field = analysis && analysis->error ? analysis->error->field : std::string();
  if (field == "parallel") field = last_edited_axis_;
  const QString message = analysis && analysis->error ? QString::fromStdString(analysis->error->message) : QString();
  markOnly(fields_, field, message);
  const bool mine = fields_.count(field) > 0 || field.rfind("parallel", 0) == 0 || field.rfind("data.global_batch", 0) == 0 ||
                    (analysis && analysis->error && field.empty());
  error_->setText(mine ? message : QString());
  error_->setVisible(mine && !message.isEmpty());

  if (analysis && analysis->project && !analysis->error && grid_->highlightGridAxis() >= 0 && grid_->tensorGrid()) {
    const TensorGrid& tp_grid = *grid_->tensorGrid();
    const int sub_axis = grid_->highlightGridAxis();
    const int group_size = tp_grid.axisSizes()[sub_axis];
    summary_->setText(tr("tp %1 as a %2 grid. Colour: the %3 groups (%4 ranks each) that gather activations, weights or "
                         "sums along one side of the grid.")
                          .arg(tp_grid.size())
                          .arg(QString::fromUtf8(tensorParallelModeName(tp_grid.mode).data()))
                          .arg(QString::fromStdString(tp_grid.axisLabel(sub_axis)))
                          .arg(group_size));
  } else if (analysis && analysis->project && !analysis->error) {
    const Mesh mesh(analysis->project->plan);
    const Axis axis = grid_->highlightAxis();
    const int group_size = mesh.size(axis);
    summary_->setText(tr("%1. Colour: the %2 groups (%3 groups of %4 ranks that communicate along %2). "
                         "A red frame marks a device whose estimate exceeds its memory; the bar in each tile is its memory use.")
                          .arg(QString::fromStdString(mesh.describe()), axisText(axis))
                          .arg(mesh.worldSize() / group_size)
                          .arg(group_size));
  } else {
    summary_->setText(tr("Fix the highlighted field to see the rank layout."));
  }
}

}  // namespace behemoth::ui
