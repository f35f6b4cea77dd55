#include "ui/plan_editor_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <algorithm>

#include "ui/field_binding.h"
#include "ui/project_document.h"

namespace behemoth::ui {

QString unavailableReason(const nlohmann::json& json, const std::string& base_dir,
                          const std::function<void(Project&)>& change) {
  Project project;
  try {
    project = projectFromJson(json, base_dir);
  } catch (const std::exception&) {
    return {};  // the analysis reports the parse error
  }
  // Judge the option alone: the hardware and the other axes are reported at their own fields.
  project.devices.kind = "cpu";
  project.plan.pp = project.plan.tp = project.plan.sp = project.plan.ep = 1;
  change(project);
  try {
    rejectUnavailableFeatures(project);
  } catch (const std::invalid_argument& error) {
    return QString::fromStdString(error.what());
  }
  return {};
}

namespace {

void setItemEnabled(QComboBox* combo, int index, const QString& reason) {
  auto* model = qobject_cast<QStandardItemModel*>(combo->model());
  QStandardItem* item = model->item(index);
  item->setEnabled(reason.isEmpty());
  item->setToolTip(reason);
}

QLabel* reasonLabel(const QString& text) {
  auto* label = new QLabel(text);
  label->setObjectName(QStringLiteral("hint"));
  label->setWordWrap(true);
  return label;
}

}  // namespace

PlanEditorView::PlanEditorView(ProjectDocument* document, QWidget* parent) : QWidget(parent), document_(document) {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  auto* body = new QWidget(scroll);
  auto* layout = new QVBoxLayout(body);
  scroll->setWidget(body);
  outer->addWidget(scroll);

  auto* state_box = new QGroupBox(tr("Model states"), body);
  auto* state = new QFormLayout(state_box);
  zero_ = new QComboBox;
  zero_->addItem(tr("0 — replicated (plain data parallel)"), "0");
  zero_->addItem(tr("1 — shard optimizer states"), "1");
  zero_->addItem(tr("2 — shard optimizer states + gradients"), "2");
  zero_->addItem(tr("3 — shard parameters too"), "3");
  zero_->setObjectName("parallel.zero");
  bindCombo(zero_, document_, "/parallel/zero", 0);
  state->addRow(tr("ZeRO stage"), zero_);
  offload_ = new QCheckBox(tr("optimizer states and fp32 masters in host memory"));
  offload_->setObjectName("parallel.offload_optimizer");
  bindCheck(offload_, document_, "/parallel/offload_optimizer", false);
  state->addRow(tr("Offload"), offload_);
  precision_ = new QComboBox;
  precision_->addItem(tr("fp32"), "fp32");
  precision_->addItem(tr("bf16 (fp32 masters)"), "bf16");
  // LibTorch has no CPU fp16 matmul: on a CPU the engine computes in fp32 with fp16-rounded
  // weights and fp16 gradient reduction. Say so where the choice is made.
  precision_->addItem(tr("fp16 (fp32 masters, dynamic loss scaling; on CPU: fp32 math, fp16 weights)"), "fp16");
  precision_->setItemData(precision_->count() - 1,
                          tr("On a GPU: fp16 compute. On a CPU: the math runs in fp32 on fp16-rounded weights, and "
                             "gradients are reduced in fp16."),
                          Qt::ToolTipRole);
  precision_->setObjectName("precision");
  bindCombo(precision_, document_, "/precision", "fp32");
  state->addRow(tr("Precision"), precision_);
  layout->addWidget(state_box);

  // ZeRO-3's chunks and where their shards live (docs/zero3.md, memory/chunk_placement.h).
  chunk_box_ = new QGroupBox(tr("Chunks and tiers"), body);
  chunk_box_->setObjectName(QStringLiteral("chunkGroup"));
  auto* chunks = new QFormLayout(chunk_box_);
  auto* chunk_mb = new QDoubleSpinBox;
  chunk_mb->setRange(0, 1 << 20);
  chunk_mb->setDecimals(2);
  chunk_mb->setSuffix(tr(" MiB"));
  chunk_mb->setSpecialValueText(tr("auto (least padding)"));
  chunk_mb->setToolTip(tr("Chunk capacity in MiB of working-dtype parameters; 0 searches the size that leaves the least padding"));
  chunk_mb->setObjectName("parallel.chunk_mb");
  bindDouble(chunk_mb, document_, "/parallel/chunk_mb", 0.0);
  chunks->addRow(tr("Chunk size"), chunk_mb);
  placement_ = new QComboBox;
  placement_->addItem(tr("static — the fractions below"), "static");
  placement_->addItem(tr("auto — traced budget, evict and prefetch"), "auto");
  placement_->setObjectName("parallel.placement");
  bindCombo(placement_, document_, "/parallel/placement", "static");
  chunks->addRow(tr("Placement"), placement_);
  auto fraction = [&](const char* key, const QString& tip) {
    auto* spin = new QDoubleSpinBox;
    spin->setRange(0, 1);
    spin->setDecimals(2);
    spin->setSingleStep(0.05);
    spin->setToolTip(tip);
    spin->setObjectName(QString::fromLatin1("parallel.") + key);
    bindDouble(spin, document_, std::string("/parallel/") + key, 0.0);
    return spin;
  };
  param_fraction_ = fraction("offload_param_fraction", tr("Fraction of the regular chunks whose parameter shard lives in host memory"));
  chunks->addRow(tr("Parameters on host"), param_fraction_);
  auto* optim_fraction = fraction("offload_optim_fraction", tr("Fraction of the optimizer shards in host memory (updated by the CPU AdamW)"));
  chunks->addRow(tr("Optimizer on host"), optim_fraction);
  auto* disk_fraction = fraction("disk_optim_fraction", tr("Fraction of the optimizer shards in memory-mapped files under the offload folder"));
  chunks->addRow(tr("Optimizer on disk"), disk_fraction);
  auto* offload_dir = new QLineEdit;
  offload_dir->setPlaceholderText(tr("needed when the optimizer goes to disk"));
  offload_dir->setToolTip(tr("Folder for the disk tier's memory-mapped files (relative to the project's folder)"));
  offload_dir->setObjectName("parallel.offload_dir");
  bindText(offload_dir, document_, "/parallel/offload_dir", QString());
  chunks->addRow(tr("Offload folder"), offload_dir);
  auto* budget = new QDoubleSpinBox;
  budget->setRange(0, 1e9);
  budget->setDecimals(0);
  budget->setSingleStep(64);
  budget->setSuffix(tr(" MiB"));
  budget->setSpecialValueText(tr("no budget"));
  budget->setToolTip(tr("The device tier's budget per rank (on a CPU: a separately accounted pool of host memory)"));
  budget->setObjectName("parallel.device_budget_mb");
  bindDouble(budget, document_, "/parallel/device_budget_mb", 0.0);
  chunks->addRow(tr("Device budget"), budget);
  prefetch_ = new QSpinBox;
  prefetch_->setRange(0, 1024);
  prefetch_->setSuffix(tr(" chunk(s) ahead"));
  prefetch_->setObjectName("parallel.prefetch");
  bindSpin(prefetch_, document_, "/parallel/prefetch", 2);
  chunks->addRow(tr("Prefetch"), prefetch_);
  chunk_hint_ = reasonLabel({});
  chunk_hint_->setObjectName(QStringLiteral("chunkHint"));
  chunks->addRow(QString(), chunk_hint_);
  chunk_error_ = new QLabel;
  chunk_error_->setObjectName(QStringLiteral("fieldError"));
  chunk_error_->setWordWrap(true);
  chunk_error_->setVisible(false);
  chunks->addRow(QString(), chunk_error_);
  layout->addWidget(chunk_box_);

  auto* batch_box = new QGroupBox(tr("Batch"), body);
  auto* batch = new QFormLayout(batch_box);
  auto* global = new QSpinBox;
  global->setRange(1, 1 << 20);
  global->setSuffix(tr(" sequences"));
  global->setObjectName("data.global_batch_size");
  bindSpin(global, document_, "/data/global_batch_size", 8);
  batch->addRow(tr("Global batch"), global);
  micro_batch_ = new QSpinBox;
  micro_batch_->setRange(0, 1 << 16);
  micro_batch_->setSpecialValueText(tr("whole local batch"));
  micro_batch_->setObjectName("train.micro_batch_size");
  bindSpin(micro_batch_, document_, "/train/micro_batch_size", 0);
  batch->addRow(tr("Micro-batch"), micro_batch_);
  batching_ = reasonLabel({});
  batch->addRow(QString(), batching_);
  layout->addWidget(batch_box);

  auto* reduce_box = new QGroupBox(tr("Gradient reduction"), body);
  auto* reduce = new QFormLayout(reduce_box);
  auto* bucket = new QDoubleSpinBox;
  bucket->setRange(0.01, 4096);
  bucket->setSuffix(tr(" MB"));
  bucket->setObjectName("parallel.bucket_mb");
  bindDouble(bucket, document_, "/parallel/bucket_mb", 25.0);
  reduce->addRow(tr("Bucket size"), bucket);
  auto* overlap = new QCheckBox(tr("reduce buckets during backward"));
  overlap->setObjectName("parallel.overlap");
  bindCheck(overlap, document_, "/parallel/overlap", true);
  reduce->addRow(tr("Overlap"), overlap);
  auto* reduce_dtype = new QComboBox;
  reduce_dtype->addItem(tr("auto (the working dtype)"), "auto");
  reduce_dtype->addItem(tr("fp32 (4 bytes)"), "fp32");
  reduce_dtype->addItem(tr("bf16 (2 bytes)"), "bf16");
  reduce_dtype->addItem(tr("fp16 (2 bytes)"), "fp16");
  reduce_dtype->setObjectName("parallel.reduce_dtype");
  reduce_dtype->setToolTip(tr("The dtype gradients travel in over data parallelism"));
  bindCombo(reduce_dtype, document_, "/parallel/reduce_dtype", "auto");
  reduce->addRow(tr("Reduce in"), reduce_dtype);
  layout->addWidget(reduce_box);

  auto* tensor_box = new QGroupBox(tr("Tensor parallelism"), body);
  auto* tensor = new QFormLayout(tensor_box);
  // How the tp ranks split each layer (docs/tensor-parallel-grid.md); tp itself is on the Mesh view.
  tp_mode_ = new QComboBox;
  tp_mode_->addItem(tr("1D — Megatron: every matrix split one way"), "1d");
  tp_mode_->addItem(tr("2D — Optimus: a q × q grid (tp = q²)"), "2d");
  tp_mode_->addItem(tr("2.5D — Tesseract: depth stacked q × q grids (tp = q² × depth)"), "2.5d");
  tp_mode_->addItem(tr("3D — a q × q × q cube (tp = q³)"), "3d");
  tp_mode_->setObjectName("parallel.tp_mode");
  bindCombo(tp_mode_, document_, "/parallel/tp_mode", "1d");
  tensor->addRow(tr("Mode"), tp_mode_);
  tp_depth_ = new QSpinBox;
  tp_depth_->setRange(1, 1024);
  tp_depth_->setSuffix(tr(" stacked grid(s)"));
  tp_depth_->setObjectName("parallel.tp_depth");
  bindSpin(tp_depth_, document_, "/parallel/tp_depth", 1);
  tensor->addRow(tr("Depth (2.5D)"), tp_depth_);
  tensor_hint_ = reasonLabel({});
  tensor_hint_->setObjectName(QStringLiteral("tensorHint"));
  tensor->addRow(QString(), tensor_hint_);
  sequence_parallel_ = new QCheckBox(tr("sequence parallel (Megatron)"));
  sequence_parallel_->setObjectName("parallel.sequence_parallel");
  bindCheck(sequence_parallel_, document_, "/parallel/sequence_parallel", false);
  tensor->addRow(tr("Sequence"), sequence_parallel_);
  tensor->addRow(QString(), reasonLabel(tr("Norms and residuals on sequence shards. Needs tp > 1 (Mesh view) "
                                           "and model.seq_len divisible by tp.")));
  layout->addWidget(tensor_box);

  // The sp axis (docs/long-context.md): its size and how it splits attention.
  auto* sequence_box = new QGroupBox(tr("Sequence parallelism (long context)"), body);
  auto* sequence = new QFormLayout(sequence_box);
  sp_ = new QSpinBox;
  sp_->setRange(1, 4096);
  sp_->setSuffix(tr(" rank(s) share each sequence"));
  sp_->setObjectName("parallel.sp");
  bindSpin(sp_, document_, "/parallel/sp", 1);
  sequence->addRow(tr("sp"), sp_);
  sp_mode_ = new QComboBox;
  sp_mode_->addItem(tr("Ulysses — all-to-all from sequence to head shards"), "ulysses");
  sp_mode_->setItemData(0, tr("Needs model.n_head and the key/value heads divisible by tp × sp"), Qt::ToolTipRole);
  sp_mode_->addItem(tr("ring — K/V blocks passed around the sp ranks"), "ring");
  sp_mode_->setItemData(1, tr("Needs model.seq_len divisible by 2 × sp (× tp with Megatron sequence parallelism): "
                              "two zigzag chunks per rank"),
                        Qt::ToolTipRole);
  sp_mode_->setObjectName("parallel.sp_mode");
  bindCombo(sp_mode_, document_, "/parallel/sp_mode", "ulysses");
  sequence->addRow(tr("Mode"), sp_mode_);
  sequence_hint_ = reasonLabel({});
  sequence_hint_->setObjectName(QStringLiteral("sequenceHint"));
  sequence->addRow(QString(), sequence_hint_);
  layout->addWidget(sequence_box);

  auto* pipeline_box = new QGroupBox(tr("Pipeline parallelism"), body);
  auto* pipeline = new QFormLayout(pipeline_box);
  schedule_ = new QComboBox;
  schedule_->addItem(tr("1F1B — one forward, one backward"), "1f1b");
  schedule_->addItem(tr("GPipe — all forwards, then all backwards"), "gpipe");
  schedule_->addItem(tr("interleaved 1F1B — v model chunks per rank"), "interleaved");
  schedule_->addItem(tr("zero-bubble (ZB-H1) — weight gradients fill the bubble"), "zero_bubble");
  schedule_->setObjectName("parallel.pp_schedule");
  bindCombo(schedule_, document_, "/parallel/pp_schedule", "1f1b");
  pipeline->addRow(tr("Schedule"), schedule_);
  virtual_ = new QSpinBox;
  virtual_->setRange(1, 64);
  virtual_->setSuffix(tr(" chunk(s) per rank"));
  virtual_->setObjectName("parallel.pp_virtual");
  bindSpin(virtual_, document_, "/parallel/pp_virtual", 1);
  pipeline->addRow(tr("Virtual stages"), virtual_);
  layers_ = new QLineEdit;
  layers_->setPlaceholderText(tr("even split"));
  layers_->setObjectName("parallel.pp_layers");
  bindIntList(layers_, document_, "/parallel/pp_layers");
  pipeline->addRow(tr("Blocks per stage"), layers_);
  pipeline_hint_ = reasonLabel({});
  pipeline_hint_->setObjectName(QStringLiteral("pipelineHint"));
  pipeline->addRow(QString(), pipeline_hint_);
  pipeline_error_ = new QLabel;
  pipeline_error_->setObjectName(QStringLiteral("fieldError"));
  pipeline_error_->setWordWrap(true);
  pipeline_error_->setVisible(false);
  pipeline->addRow(QString(), pipeline_error_);
  layout->addWidget(pipeline_box);

  auto* activation_box = new QGroupBox(tr("Activations"), body);
  auto* activation = new QFormLayout(activation_box);
  recompute_ = new QComboBox;
  recompute_->addItem(tr("none — keep every activation for backward"), "none");
  recompute_->addItem(tr("selective — recompute the attention core"), "selective");
  recompute_->addItem(tr("full — recompute every block from its input"), "full");
  recompute_->setObjectName("train.recompute");
  bindCombo(recompute_, document_, "/train/recompute", "none");
  activation->addRow(tr("Recomputation"), recompute_);
  layout->addWidget(activation_box);

  auto* train_box = new QGroupBox(tr("Training"), body);
  auto* train = new QFormLayout(train_box);
  auto* name = new QLineEdit;
  name->setObjectName("name");
  name->setToolTip(tr("Shown in the history"));
  bindText(name, document_, "/name", "untitled");
  train->addRow(tr("Run name"), name);
  auto* steps = new QSpinBox;
  steps->setRange(1, 100000000);
  steps->setObjectName("train.steps");
  bindSpin(steps, document_, "/train/steps", 100);
  train->addRow(tr("Steps"), steps);
  auto* lr = new QDoubleSpinBox;
  lr->setDecimals(6);
  lr->setRange(1e-6, 10);
  lr->setSingleStep(1e-4);
  lr->setObjectName("optimizer.lr");
  bindDouble(lr, document_, "/optimizer/lr", 1e-3);
  train->addRow(tr("Learning rate"), lr);
  auto* warmup = new QSpinBox;
  warmup->setRange(0, 10000000);
  warmup->setObjectName("optimizer.warmup_steps");
  bindSpin(warmup, document_, "/optimizer/warmup_steps", 0);
  train->addRow(tr("Warmup steps"), warmup);
  auto* log_every = new QSpinBox;
  log_every->setRange(1, 1000000);
  log_every->setObjectName("train.log_every");
  bindSpin(log_every, document_, "/train/log_every", 10);
  train->addRow(tr("Log every"), log_every);
  auto* eval_every = new QSpinBox;
  eval_every->setRange(0, 1000000);
  eval_every->setSpecialValueText(tr("never"));
  eval_every->setObjectName("train.eval_every");
  bindSpin(eval_every, document_, "/train/eval_every", 0);
  train->addRow(tr("Evaluate every"), eval_every);
  auto* out_dir = new QLineEdit;
  out_dir->setObjectName("train.out_dir");
  bindText(out_dir, document_, "/train/out_dir", "runs/default");
  train->addRow(tr("Output folder"), out_dir);
  layout->addWidget(train_box);

  error_ = new QLabel(body);
  error_->setObjectName(QStringLiteral("fieldError"));
  error_->setWordWrap(true);
  error_->setVisible(false);
  layout->addWidget(error_);
  layout->addStretch(1);

  fields_ = {{"parallel.zero", zero_},          {"parallel.offload_optimizer", offload_}, {"precision", precision_},
             {"data.global_batch_size", global}, {"train.micro_batch_size", micro_batch_}, {"parallel.bucket_mb", bucket},
             {"parallel.overlap", overlap},      {"parallel.reduce_dtype", reduce_dtype},
             {"parallel.sequence_parallel", sequence_parallel_}, {"train.steps", steps},                   {"optimizer.lr", lr},
             {"parallel.sp", sp_},               {"parallel.sp_mode", sp_mode_},
             {"parallel.tp_mode", tp_mode_},     {"parallel.tp_depth", tp_depth_},
             {"optimizer.warmup_steps", warmup}, {"train.log_every", log_every},           {"train.eval_every", eval_every},
             {"train.out_dir", out_dir},        {"name", name},
             {"parallel.pp_schedule", schedule_}, {"parallel.pp_virtual", virtual_}, {"parallel.pp_layers", layers_},
             {"train.recompute", recompute_},
             {"parallel.chunk_mb", chunk_mb}, {"parallel.placement", placement_},
             {"parallel.offload_param_fraction", param_fraction_}, {"parallel.offload_optim_fraction", optim_fraction},
             {"parallel.disk_optim_fraction", disk_fraction}, {"parallel.offload_dir", offload_dir},
             {"parallel.device_budget_mb", budget}, {"parallel.prefetch", prefetch_}};
  connect(document_, &ProjectDocument::changed, this, &PlanEditorView::refreshAvailability);
  refreshAvailability();
}

QWidget* PlanEditorView::fieldWidget(const std::string& field) const { return findField(fields_, field); }

const std::vector<std::string>& PlanEditorView::chunkFields() {
  static const std::vector<std::string> fields = {"parallel.chunk_mb", "parallel.placement", "parallel.offload_param_fraction",
                                                  "parallel.offload_optim_fraction", "parallel.disk_optim_fraction",
                                                  "parallel.offload_dir", "parallel.device_budget_mb", "parallel.prefetch"};
  return fields;
}

namespace {

bool isChunkField(const std::string& field) {
  const auto& fields = PlanEditorView::chunkFields();
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

}  // namespace

void PlanEditorView::refreshAvailability() {
  const nlohmann::json& json = document_->json();
  const std::string base = document_->baseDir().toStdString();
  for (int stage = 0; stage <= 3; ++stage) {
    setItemEnabled(zero_, stage, unavailableReason(json, base, [stage](Project& p) {
      p.plan.zero = stage;
      // The stage alone decides; offload and fp16 are judged at their own fields.
      p.plan.offload_optimizer = false;
      p.precision = Precision::fp32;
    }));
  }
  const QString offload_reason = unavailableReason(json, base, [](Project& p) {
    p.plan.offload_optimizer = true;
    p.precision = Precision::fp32;
  });
  offload_->setEnabled(offload_reason.isEmpty() || offload_->isChecked());
  offload_->setToolTip(offload_reason.isEmpty() ? tr("ZeRO-Offload: the CPU AdamW updates the host-resident shard") : offload_reason);
  // Sequence parallelism splits the tp group's tokens: meaningless (though harmless) at tp = 1.
  int tp = 1;
  try {
    tp = json.at("parallel").value("tp", 1);
  } catch (const nlohmann::json::exception&) {
    // No parallel section, or a malformed one: the analysis reports it at its field.
  }
  refreshTensorMode(json, tp);
  sequence_parallel_->setEnabled(tp > 1 || sequence_parallel_->isChecked());
  sequence_parallel_->setToolTip(tp > 1 ? tr("All-gather / reduce-scatter replace the all-reduces; activation memory "
                                              "outside the matmuls falls by tp")
                                        : tr("Set parallel.tp > 1 on the Mesh view first"));
  refreshSequence(json, base);
  refreshPipeline(json, base);
  refreshChunks(json);
  const char* const recomputations[] = {"none", "selective", "full"};
  for (int i = 0; i < 3; ++i) {
    setItemEnabled(recompute_, i, unavailableReason(json, base, [&](Project& p) { p.train.recompute = recomputations[i]; }));
  }
  const Precision precisions[] = {Precision::fp32, Precision::bf16, Precision::fp16};
  for (int i = 0; i < 3; ++i) {
    setItemEnabled(precision_, i, unavailableReason(json, base, [&](Project& p) {
      p.precision = precisions[i];
      p.plan.offload_optimizer = false;
    }));
  }
}

void PlanEditorView::refreshTensorMode(const nlohmann::json& json, int tp) {
  std::string mode = "1d";
  try {
    mode = json.at("parallel").value("tp_mode", std::string("1d"));
  } catch (const nlohmann::json::exception&) {
    // No parallel section, or a malformed one: the analysis reports it at its field.
  }
  tp_mode_->setEnabled(tp > 1 || mode != "1d");
  tp_depth_->setEnabled(mode == "2.5d");
  QString hint;
  if (tp == 1) {
    hint = tr("Set parallel.tp > 1 on the Mesh view first.");
  } else if (mode == "1d") {
    hint = tr("Each rank holds 1/tp of every matrix; norms and residuals stay whole (or sequence shards with Megatron "
              "sequence parallelism). Two all-reduces of the activations per block, forward and backward.");
  } else {
    hint = tr("Every activation and weight is a block of the grid: activations are split over the batch (which must "
              "divide into the grid's batch chunks) and the features. The Mesh view colours the grid's rows, columns "
              "and depth. No Megatron sequence parallelism, sp, pp or ZeRO-3 with grids yet.");
  }
  tensor_hint_->setText(hint);
}

void PlanEditorView::refreshSequence(const nlohmann::json& json, const std::string& base) {
  int sp = 1;
  std::string mode = "ulysses";
  try {
    const nlohmann::json& parallel = json.at("parallel");
    sp = parallel.value("sp", 1);
    mode = parallel.value("sp_mode", std::string("ulysses"));
  } catch (const nlohmann::json::exception&) {
    // No parallel section, or a malformed one: the analysis reports it at its field.
  }
  // Enabled once the engine runs sp; a value it refuses stays editable, so it can be put back.
  const QString build = unavailableReason(json, base, [](Project& p) { p.plan.sp = 2; });
  sp_->setEnabled(build.isEmpty() || sp != 1);
  sp_->setToolTip(build.isEmpty() ? tr("Ranks that split every sequence: each keeps 1/sp of the activations (also on the Mesh view)")
                                  : build);
  const bool split = sp > 1;
  sp_mode_->setEnabled(split || mode != "ulysses");
  sp_mode_->setToolTip(split ? tr("How the sp ranks compute attention over the whole sequence") : tr("needs parallel.sp > 1"));
  QStringList hints;
  if (!split) {
    hints << tr("Mode: needs parallel.sp > 1.");
  } else if (mode == "ring") {
    hints << tr("Each rank keeps its queries and two zigzag chunks of the sequence; K/V blocks travel the ring, overlapped "
                "with the attention of the current block.");
  } else {
    hints << tr("An all-to-all before and after attention turns sequence shards into head shards; the rest of the block "
                "runs on 1/sp of the tokens.");
  }
  if (!build.isEmpty()) hints << tr("Planning only: %1.").arg(build);
  sequence_hint_->setText(hints.join(QLatin1Char(' ')));
}

void PlanEditorView::refreshPipeline(const nlohmann::json& json, const std::string& base) {
  int pp = 1;
  int virtual_stages = 1;
  std::string schedule = "1f1b";
  try {
    const nlohmann::json& parallel = json.at("parallel");
    pp = parallel.value("pp", 1);
    virtual_stages = parallel.value("pp_virtual", 1);
    schedule = parallel.value("pp_schedule", std::string("1f1b"));
  } catch (const nlohmann::json::exception&) {
    // No parallel section, or a malformed one: the analysis reports it at its field.
  }
  const bool piped = pp > 1;
  const bool interleaved = schedule == "interleaved";
  const QString needs_pp = tr("needs parallel.pp > 1 (set it on the Mesh view)");
  const QString needs_interleaved = tr("needs parallel.pp_schedule \"interleaved\"");
  // A value the engine refuses stays editable, so it can be put back.
  schedule_->setEnabled(piped || schedule != "1f1b");
  schedule_->setToolTip(piped ? tr("The order each pipeline rank runs its micro-batches' forwards and backwards in") : needs_pp);
  layers_->setEnabled(piped || !layers_->text().isEmpty());
  layers_->setToolTip(piped ? tr("Transformer blocks of each virtual stage, e.g. 4,4,2,2 (empty: an even split)") : needs_pp);
  virtual_->setEnabled((piped && interleaved) || virtual_stages != 1);
  virtual_->setToolTip(!piped ? needs_pp : interleaved ? tr("Model chunks each pipeline rank holds: a smaller bubble, more transfers")
                                                       : needs_interleaved);
  QStringList hints;
  if (!piped) {
    hints << tr("Schedule and blocks per stage: %1.").arg(needs_pp);
  } else {
    if (!interleaved) hints << tr("Virtual stages: %1.").arg(needs_interleaved);
    const QString build = unavailableReason(json, base, [pp](Project& p) { p.plan.pp = pp; });
    if (!build.isEmpty()) hints << tr("Planning only: %1.").arg(build);
  }
  pipeline_hint_->setText(hints.join(QLatin1Char(' ')));
  pipeline_hint_->setVisible(!hints.isEmpty());
}

void PlanEditorView::refreshChunks(const nlohmann::json& json) {
  int zero = 0;
  bool any_key = false;
  std::string placement = "static";
  try {
    const nlohmann::json& parallel = json.at("parallel");
    zero = parallel.value("zero", 0);
    placement = parallel.value("placement", std::string("static"));
    for (const std::string& field : chunkFields()) any_key = any_key || parallel.contains(field.substr(field.find('.') + 1));
  } catch (const nlohmann::json::exception&) {
    // No parallel section, or a malformed one: the analysis reports it at its field.
  }
  // Shown for ZeRO-3, and while the file holds one of its keys under another stage (the engine
  // refuses that, naming the key, and the key must stay editable to take it back).
  chunk_box_->setVisible(zero == 3 || any_key);
  const bool automatic = placement == "auto";
  param_fraction_->setEnabled(!automatic || param_fraction_->value() > 0);
  param_fraction_->setToolTip(automatic ? tr("auto placement decides where parameter shards live (static only)")
                                        : tr("Fraction of the regular chunks whose parameter shard lives in host memory"));
  prefetch_->setEnabled(automatic || prefetch_->value() != 2);
  prefetch_->setToolTip(automatic ? tr("Chunks whose parameter shards are brought back to the device ahead of their use")
                                  : tr("auto placement only (parallel.placement \"auto\")"));
  QString hint;
  if (zero != 3) {
    hint = tr("These settings need parallel.zero 3.");
  } else if (automatic) {
    hint = tr("Step 1 runs with every parameter shard on the host and traces the non-model memory; later steps keep shards on "
              "the device within the budget, evicting the one used furthest ahead and prefetching. Optimizer shards follow "
              "the fractions.");
  } else {
    hint = tr("Of C regular chunks, the first round(p·C) keep their parameter shard on the host; of the optimizer shards, "
              "the first round(d·C) go to disk and the next round(o·C) to the host (o + d ≤ 1).");
  }
  chunk_hint_->setText(hint);
}

void PlanEditorView::showAnalysis(const AnalysisPtr& analysis) {
  const std::string field = analysis && analysis->error ? analysis->error->field : std::string();
  const QString message = analysis && analysis->error ? QString::fromStdString(analysis->error->message) : QString();
  markOnly(fields_, field, message);
  // A launch blocker (a feature this build lacks) is shown at its field too, in the same words.
  if (analysis && analysis->run_blocker) {
    const auto found = fields_.find(analysis->run_blocker->field);
    if (found != fields_.end()) markField(found->second, QString::fromStdString(analysis->run_blocker->message));
  }
  // A refusal that names a pipeline field is shown in the pipeline group, in the engine's words.
  const bool pipeline = !message.isEmpty() && (field.rfind("parallel.pp", 0) == 0 || message.contains(QLatin1String("parallel.pp")));
  pipeline_error_->setText(pipeline ? message : QString());
  pipeline_error_->setVisible(pipeline);
  // A refused chunk or tier setting is shown in its group, in the engine's words.
  const bool chunk = !message.isEmpty() && !pipeline && isChunkField(field);
  chunk_error_->setText(chunk ? message : QString());
  chunk_error_->setVisible(chunk);
  const bool mine = fields_.count(field) > 0 && !pipeline && !chunk;
  error_->setText(mine ? message : QString());
  error_->setVisible(mine);
  if (analysis && analysis->project && !analysis->error) {
    const Project& p = *analysis->project;
    batching_->setText(tr("%1 sequences per data-parallel rank (dp %2) in %3 micro-batch(es) of %4; %5 tokens per step")
                           .arg(p.localBatch())
                           .arg(p.plan.dp)
                           .arg(p.microBatches())
                           .arg(p.microBatchSize())
                           .arg(QLocale().toString(static_cast<qlonglong>(p.data.global_batch_size) * p.model.seq_len)));
  } else {
    batching_->clear();
  }
}

}  // namespace behemoth::ui
