#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "ui/auto_plan_dialog.h"
#include "ui/chunk_view.h"
#include "ui/compare_view.h"
#include "ui/history_view.h"
#include "ui/icons.h"
#include "ui/memory_panel.h"
#include "ui/mesh_designer_view.h"
#include "ui/metric_charts.h"
#include "ui/model_picker_view.h"
#include "ui/model_zoo.h"
#include "ui/plan_editor_view.h"
#include "ui/run_series.h"
#include "ui/run_view.h"
#include "ui/schedule_view.h"
#include "ui/serve_icon.h"
#include "ui/serve_view.h"

namespace behemoth::ui {
namespace {

constexpr int kMaxRecent = 8;
constexpr int kFetchOpen = 1;
constexpr int kFetchCompare = 2;
constexpr int kFetchCompareRefresh = 3;  // the compare view's running runs, re-read while they run

QSettings studioSettings() { return QSettings(QStringLiteral("Behemoth"), QStringLiteral("Studio")); }

}  // namespace

MainWindow::MainWindow(const QString& history_path, bool restore_settings, QWidget* parent)
    : QMainWindow(parent), restore_settings_(restore_settings) {
  setWindowIcon(glyphIcon(Glyph::app, Qt::white));
  history_.setPath(history_path.isEmpty() ? QString::fromStdString(HistoryStore::defaultPath()) : history_path);
  buildPages();
  buildActions();
  run_->setHistoryPath(history_.path());  // runs launched here land in the history shown here

  connect(&document_, &ProjectDocument::changed, this, &MainWindow::requestAnalysis);
  connect(&document_, &ProjectDocument::pathChanged, this, &MainWindow::updateTitle);
  connect(&document_, &ProjectDocument::modifiedChanged, this, &MainWindow::updateTitle);
  connect(&estimates_, &EstimateService::analysisReady, this, &MainWindow::onAnalysis);
  connect(&history_, &HistoryService::fetched, this, &MainWindow::onFetched);
  connect(&suggestion_watcher_, &QFutureWatcher<AutoPlanOutcome>::finished, this, &MainWindow::showFitSuggestion);
  connect(memory_, &MemoryPanel::applySuggestionRequested, this, [this] {
    if (!suggestion_) return;
    const RankedPlan plan = *suggestion_;
    QStringList notes;
    document_.edit(tr("Apply %1").arg(QString::fromStdString(plan.summary)),
                   [&](nlohmann::json& json) { notes = applyLayout(json, plan.estimate.layout); });
    showNotice(tr("Applied the planner's plan %1%2").arg(QString::fromStdString(plan.summary),
                                                         notes.isEmpty() ? QString() : tr(" (not in the project file: %1)").arg(notes.join(", "))),
               false);
  });

  if (restore_settings_) {
    QSettings settings = studioSettings();
    recent_ = settings.value(QStringLiteral("recentProjects")).toStringList();
    theme_ = themeFromName(settings.value(QStringLiteral("theme"), QStringLiteral("light")).toString());
    restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("windowState")).toByteArray());
    showPage(static_cast<Page>(settings.value(QStringLiteral("page"), 0).toInt()));
  } else {
    showPage(Page::model);
  }
  rebuildRecentMenu();
  updateTitle();
  requestAnalysis();
  history_view_->refresh();
}

MainWindow::~MainWindow() { suggestion_watcher_.waitForFinished(); }

void MainWindow::buildPages() {
  auto* central = new QWidget(this);
  auto* outer = new QHBoxLayout(central);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->setSpacing(0);

  sidebar_ = new QListWidget(central);
  sidebar_->setObjectName(QStringLiteral("sidebar"));
  sidebar_->setIconSize(QSize(22, 22));
  sidebar_->setFixedWidth(190);
  sidebar_->setFocusPolicy(Qt::NoFocus);
  sidebar_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  const std::vector<std::pair<Glyph, QString>> entries = {{Glyph::model, tr("Model")}, {Glyph::mesh, tr("Mesh")},
                                                          {Glyph::plan, tr("Plan & memory")}, {Glyph::run, tr("Run")},
                                                          {Glyph::history, tr("History")}, {Glyph::compare, tr("Compare")}};
  int shortcut = 1;
  for (const auto& [glyph, text] : entries) {
    auto* item = new QListWidgetItem(glyphIcon(glyph, QColor(0xCB, 0xD5, 0xE1)), text, sidebar_);
    item->setToolTip(tr("%1 (Ctrl+%2)").arg(text).arg(shortcut++));
  }
  // Serve's icon is drawn beside it (ui/serve_icon.h), not among the glyphs.
  auto* serve_item = new QListWidgetItem(serveIcon(QColor(0xCB, 0xD5, 0xE1)), tr("Serve"), sidebar_);
  serve_item->setToolTip(tr("Serve (Ctrl+%1)").arg(shortcut));
  outer->addWidget(sidebar_);

  auto* right = new QWidget(central);
  auto* right_layout = new QVBoxLayout(right);
  right_layout->setContentsMargins(10, 8, 10, 4);
  auto* notice_row = new QHBoxLayout;
  notice_ = new QLabel(right);
  notice_->setObjectName(QStringLiteral("banner"));
  notice_->setWordWrap(true);
  notice_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  notice_close_ = new QToolButton(right);
  notice_close_->setIcon(style()->standardIcon(QStyle::SP_TitleBarCloseButton));
  notice_close_->setAutoRaise(true);
  notice_close_->setToolTip(tr("Dismiss"));
  notice_row->addWidget(notice_, 1);
  notice_row->addWidget(notice_close_, 0, Qt::AlignTop);
  right_layout->addLayout(notice_row);
  notice_->setVisible(false);
  notice_close_->setVisible(false);
  connect(notice_close_, &QToolButton::clicked, this, [this] {
    notice_->setVisible(false);
    notice_close_->setVisible(false);
  });

  pages_ = new QStackedWidget(right);
  picker_ = new ModelPickerView(&document_, pages_);
  mesh_ = new MeshDesignerView(&document_, pages_);
  auto* plan_page = new QSplitter(Qt::Horizontal, pages_);
  plan_ = new PlanEditorView(&document_, plan_page);
  // The plan's memory, and below it its pipeline schedule (shown while the plan has a pipeline)
  // and its ZeRO-3 chunks (shown for zero 3).
  auto* plan_right = new QSplitter(Qt::Vertical, plan_page);
  plan_right_ = plan_right;
  memory_ = new MemoryPanel(plan_right);
  auto* schedule_scroll = new QScrollArea(plan_right);
  schedule_scroll->setWidgetResizable(true);
  schedule_scroll->setFrameShape(QFrame::NoFrame);
  schedule_ = new ScheduleView(schedule_scroll);
  schedule_scroll->setWidget(schedule_);
  schedule_scroll->setVisible(false);
  schedule_area_ = schedule_scroll;
  auto* chunk_scroll = new QScrollArea(plan_right);
  chunk_scroll->setWidgetResizable(true);
  chunk_scroll->setFrameShape(QFrame::NoFrame);
  chunks_ = new ChunkView(chunk_scroll);
  chunk_scroll->setWidget(chunks_);
  chunk_scroll->setVisible(false);
  chunk_area_ = chunk_scroll;
  plan_right->addWidget(memory_);
  plan_right->addWidget(schedule_scroll);
  plan_right->addWidget(chunk_scroll);
  plan_right->setStretchFactor(0, 3);
  plan_right->setStretchFactor(1, 2);
  plan_right->setStretchFactor(2, 2);
  plan_right->setSizes({520, 330, 330});
  plan_page->addWidget(plan_);
  plan_page->addWidget(plan_right);
  plan_page->setStretchFactor(0, 2);
  plan_page->setStretchFactor(1, 3);
  plan_->setMinimumWidth(470);
  plan_page->setSizes({520, 780});
  run_ = new RunView(pages_);
  history_view_ = new HistoryView(&history_, pages_);
  compare_ = new CompareView(pages_);
  connect(compare_, &CompareView::refreshRequested, this, [this](const std::vector<std::int64_t>& ids) {
    if (!history_.busy()) history_.fetch(ids, kFetchCompareRefresh);
  });
  serve_ = new ServeView(pages_);
  for (QWidget* page : std::initializer_list<QWidget*>{picker_, mesh_, plan_page, run_, history_view_, compare_, serve_}) {
    pages_->addWidget(page);
  }
  right_layout->addWidget(pages_, 1);
  outer->addWidget(right, 1);
  setCentralWidget(central);

  connect(sidebar_, &QListWidget::currentRowChanged, pages_, &QStackedWidget::setCurrentIndex);
  connect(picker_, &ModelPickerView::message, this, [this](const QString& text) { statusBar()->showMessage(text, 5000); });
  connect(memory_, &MemoryPanel::autoPlanRequested, this, [this] {
    auto* dialog = new AutoPlanDialog(&document_, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &AutoPlanDialog::applied, this, [this](const QString& text) { showNotice(text, false); });
    dialog->show();
    dialog->search();
  });
  connect(run_, &RunView::runRequested, this, &MainWindow::startRun);
  connect(run_, &RunView::openMetricsRequested, this, &MainWindow::openMetricsFile);
  connect(run_, &RunView::statusMessage, this, [this](const QString& text) { statusBar()->showMessage(text, 10000); });
  connect(run_, &RunView::runEnded, this, [this](bool) {
    history_view_->refresh();
    // A traced run's timeline, from the folder the engine wrote (relative to the project's folder).
    const nlohmann::json out = document_.value("/train/out_dir", "runs/default");
    if (out.is_string()) {
      const QString out_dir = QDir(document_.baseDir()).absoluteFilePath(QString::fromStdString(out.get<std::string>()));
      run_->showTrace(out_dir, document_.json());
      run_->showChunks(out_dir, document_.json());
    }
  });
  connect(serve_, &ServeView::currentProjectRequested, this, &MainWindow::serveProject);
  connect(serve_, &ServeView::statusMessage, this, [this](const QString& text) { statusBar()->showMessage(text, 10000); });
  // The runs with checkpoints become things to serve.
  connect(&history_, &HistoryService::listed, serve_, [this](const HistoryListing& listing) { serve_->setHistoryRuns(listing.runs); });
  connect(history_view_, &HistoryView::openRequested, this, &MainWindow::openHistoryRun);
  connect(history_view_, &HistoryView::compareRequested, this, &MainWindow::compareRuns);
  connect(history_view_, &HistoryView::resumeRequested, this, &MainWindow::resumeRun);

  fit_status_ = new QLabel(this);
  timing_status_ = new QLabel(this);
  timing_status_->setToolTip(tr("Time the engine's memory and time model took for the last edit (worker thread)"));
  statusBar()->addPermanentWidget(fit_status_);
  statusBar()->addPermanentWidget(timing_status_);
}

void MainWindow::buildActions() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QToolBar* toolbar = addToolBar(tr("Main"));
  toolbar->setObjectName(QStringLiteral("mainToolbar"));
  toolbar->setMovable(false);
  toolbar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);

  auto action = [this](const QString& text, const QKeySequence& keys, QStyle::StandardPixmap icon, auto slot) {
    auto* a = new QAction(text, this);
    if (!keys.isEmpty()) a->setShortcut(keys);
    if (icon != QStyle::SP_CustomBase) a->setIcon(style()->standardIcon(icon));
    a->setToolTip(keys.isEmpty() ? text : QStringLiteral("%1 (%2)").arg(QString(text).remove('&'), keys.toString(QKeySequence::NativeText)));
    connect(a, &QAction::triggered, this, slot);
    return a;
  };
  QAction* new_action = action(tr("&New"), QKeySequence::New, QStyle::SP_FileIcon, [this] { newProject(); });
  QAction* open = action(tr("&Open…"), QKeySequence::Open, QStyle::SP_DialogOpenButton, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open project"), document_.baseDir(), tr("Projects (*.json)"));
    if (!path.isEmpty()) openProject(path);
  });
  QAction* save = action(tr("&Save"), QKeySequence::Save, QStyle::SP_DialogSaveButton, [this] { saveProject(); });
  QAction* save_as = action(tr("Save &As…"), QKeySequence::SaveAs, QStyle::SP_CustomBase, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save project as"), document_.path().isEmpty() ? document_.baseDir() : document_.path(),
                                                      tr("Projects (*.json)"));
    if (!path.isEmpty()) saveProjectAs(path);
  });
  QAction* quit = action(tr("&Quit"), QKeySequence::Quit, QStyle::SP_CustomBase, [this] { close(); });
  file->addAction(new_action);
  file->addAction(open);
  recent_menu_ = file->addMenu(tr("Open &Recent"));
  file->addSeparator();
  file->addAction(save);
  file->addAction(save_as);
  file->addSeparator();
  file->addAction(quit);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  QAction* undo = document_.undoStack()->createUndoAction(this, tr("&Undo"));
  undo->setShortcut(QKeySequence::Undo);
  undo->setIcon(style()->standardIcon(QStyle::SP_ArrowBack));
  QAction* redo = document_.undoStack()->createRedoAction(this, tr("&Redo"));
  redo->setShortcuts({QKeySequence::Redo, QKeySequence(Qt::CTRL | Qt::Key_Y)});
  redo->setIcon(style()->standardIcon(QStyle::SP_ArrowForward));
  edit->addAction(undo);
  edit->addAction(redo);
  edit->addSeparator();
  edit->addAction(action(tr("Auto &plan…"), QKeySequence(Qt::CTRL | Qt::Key_P), QStyle::SP_CustomBase,
                         [this] { memory_->autoPlanButton()->click(); }));
  edit->addAction(action(tr("&Find in history"), QKeySequence::Find, QStyle::SP_CustomBase, [this] {
    showPage(Page::history);
    history_view_->findChild<QLineEdit*>(QStringLiteral("historyFilter"))->setFocus();
  }));

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  QAction* start = action(tr("&Run project"), QKeySequence(Qt::Key_F5), QStyle::SP_MediaPlay, [this] { startRun(); });
  QAction* stop = action(tr("&Stop"), QKeySequence(Qt::SHIFT | Qt::Key_F5), QStyle::SP_MediaStop, [this] { run_->stopRun(); });
  run->addAction(start);
  run->addAction(stop);
  run_action_ = start;
  stop_action_ = stop;
  run_action_->setObjectName(QStringLiteral("runAction"));
  stop_action_->setObjectName(QStringLiteral("stopAction"));
  // Drawn, coloured icons read on both themes (the style's run/stop icons are black).
  run_action_->setIcon(glyphIcon(Glyph::run, QColor(0x10, 0xB9, 0x81)));
  stop_action_->setIcon(glyphIcon(Glyph::stop, QColor(0xEF, 0x44, 0x44)));
  run->addAction(action(tr("Open &metrics.jsonl…"), QKeySequence(Qt::CTRL | Qt::Key_M), QStyle::SP_CustomBase,
                        [this] { openMetricsFile(); }));
  run->addAction(action(tr("Refresh &history"), QKeySequence(Qt::CTRL | Qt::Key_R), QStyle::SP_BrowserReload,
                        [this] { history_view_->refresh(); }));

  QMenu* view = menuBar()->addMenu(tr("&View"));
  const QStringList names = {tr("&Model"), tr("M&esh"), tr("&Plan && memory"), tr("&Run"), tr("&History"), tr("&Compare"), tr("&Serve")};
  for (int i = 0; i < names.size(); ++i) {
    view->addAction(action(names[i], QKeySequence(Qt::CTRL | (Qt::Key_1 + i)), QStyle::SP_CustomBase,
                           [this, i] { showPage(static_cast<Page>(i)); }));
  }
  view->addSeparator();
  view->addAction(action(tr("Toggle &dark theme"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T), QStyle::SP_CustomBase,
                         [this] { setTheme(theme_ == Theme::dark ? Theme::light : Theme::dark); }));

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(action(tr("&Keyboard shortcuts"), QKeySequence::HelpContents, QStyle::SP_CustomBase, [this] {
    QMessageBox::information(this, tr("Keyboard shortcuts"),
                             tr("Ctrl+N / Ctrl+O / Ctrl+S / Ctrl+Shift+S: new, open, save, save as\n"
                                "Ctrl+Z / Ctrl+Shift+Z (Ctrl+Y): undo, redo\n"
                                "Ctrl+1 … Ctrl+7: Model, Mesh, Plan & memory, Run, History, Compare, Serve\n"
                                "Ctrl+P: auto plan · F5: run · Shift+F5: stop · Ctrl+M: open metrics.jsonl\n"
                                "Ctrl+F: filter the history · Ctrl+R: refresh the history\n"
                                "Ctrl+Shift+T: dark / light theme · Ctrl+Q: quit"));
  }));

  toolbar->addAction(new_action);
  toolbar->addAction(open);
  toolbar->addAction(save);
  toolbar->addSeparator();
  toolbar->addAction(undo);
  toolbar->addAction(redo);
  toolbar->addSeparator();
  toolbar->addAction(start);
  toolbar->addAction(stop);
}

void MainWindow::showPage(Page page) {
  const int index = std::clamp(static_cast<int>(page), 0, pages_->count() - 1);
  sidebar_->setCurrentRow(index);
  pages_->setCurrentIndex(index);
}

MainWindow::Page MainWindow::currentPage() const { return static_cast<Page>(pages_->currentIndex()); }

void MainWindow::showNotice(const QString& text, bool error) {
  notice_->setText(text);
  notice_->setProperty("error", error);
  notice_->style()->unpolish(notice_);
  notice_->style()->polish(notice_);
  notice_->setVisible(true);
  notice_close_->setVisible(true);
  statusBar()->showMessage(text.section('\n', 0, 0), 8000);
}

void MainWindow::requestAnalysis() { estimates_.request(document_.json(), document_.baseDir()); }

void MainWindow::onAnalysis(const AnalysisPtr& analysis) {
  picker_->showAnalysis(analysis);
  mesh_->showAnalysis(analysis);
  plan_->showAnalysis(analysis);
  memory_->showAnalysis(analysis);
  schedule_->showAnalysis(analysis);
  schedule_area_->setVisible(schedule_->hasPipeline());
  chunks_->showAnalysis(analysis);
  chunk_area_->setVisible(chunks_->hasChunks());
  QString blocker;
  if (analysis->error) {
    blocker = QString::fromStdString(analysis->error->message);
  } else if (analysis->run_blocker) {
    blocker = QString::fromStdString(analysis->run_blocker->message);
  }
  run_->setLaunchBlocker(blocker);

  if (analysis->error) {
    fit_status_->setText(tr("<span style='color:#EF4444'>⚠ %1</span>").arg(QString::fromStdString(analysis->error->message).toHtmlEscaped()));
  } else if (analysis->estimated()) {
    const double peak = double(analysis->estimate->memory.peakDeviceBytes());
    const int over = analysis->devicesOverCapacity();
    const QString model = tr("%1 params").arg(humanCount(double(analysis->parameter_count)));
    if (analysis->capacity_bytes <= 0) {
      fit_status_->setText(tr("%1 · peak %2 per device").arg(model, humanBytes(peak)));
    } else if (over == 0) {
      fit_status_->setText(tr("%1 · <span style='color:#10B981'>fits</span>: peak %2 of %3").arg(model, humanBytes(peak), humanBytes(analysis->capacity_bytes)));
    } else {
      fit_status_->setText(tr("%1 · <span style='color:#EF4444'>%2 devices over capacity</span>").arg(model).arg(over));
    }
  }
  timing_status_->setText(tr("estimate %1 ms").arg(estimates_.lastMilliseconds(), 0, 'f', 2));
  if (analysis->estimated() && analysis->devicesOverCapacity() > 0) suggestFittingPlan();
}

void MainWindow::suggestFittingPlan() {
  if (suggestion_watcher_.isRunning()) return;  // its answer is checked against the project when it lands
  suggestion_for_ = document_.json();
  suggestion_.reset();
  memory_->showSuggestion(tr("Asking the planner which plan would fit…"));
  suggestion_watcher_.setFuture(QtConcurrent::run(runAutoPlan, suggestion_for_, document_.baseDir().toStdString(), true));
}

void MainWindow::showFitSuggestion() {
  const AutoPlanOutcome outcome = suggestion_watcher_.result();
  const AnalysisPtr analysis = estimates_.latest();
  const bool still_over = analysis && analysis->estimated() && analysis->devicesOverCapacity() > 0;
  if (suggestion_for_ != document_.json()) {
    // The project changed while the planner searched: ask again if it still does not fit.
    if (still_over) suggestFittingPlan();
    return;
  }
  if (!still_over) return;
  if (!outcome.error.isEmpty()) {
    memory_->showSuggestion(tr("The planner could not search this project: %1").arg(outcome.error.toHtmlEscaped()));
  } else if (outcome.result.anythingFits()) {
    suggestion_ = outcome.result.best.front();
    const PlanEstimate& e = suggestion_->estimate;
    memory_->showSuggestion(tr("<b>Would fit:</b> %1 — peak %2, %3 tokens/s (the planner's fastest plan this build can run). "
                               "<a href='apply'>Apply it</a>")
                                .arg(QString::fromStdString(suggestion_->summary).toHtmlEscaped(),
                                     humanBytes(double(e.memory.peakDeviceBytes())), humanCount(e.time.tokens_per_s)));
  } else {
    memory_->showSuggestion(tr("<b>No plan this build can run fits these devices.</b> %1")
                                .arg(QString::fromStdString(outcome.result.message).toHtmlEscaped()));
  }
}

void MainWindow::newProject() {
  if (!maybeSave()) return;
  document_.reset(newProjectJson());
  statusBar()->showMessage(tr("New project"), 3000);
}

bool MainWindow::openProject(const QString& path) {
  // Validate first: a bad file must not cost the open project anything.
  try {
    ProjectDocument probe;
    probe.open(path);
  } catch (const std::exception& error) {
    showNotice(tr("Could not open %1 — your current project is unchanged.\n%2").arg(path, QString::fromStdString(error.what())), true);
    return false;
  }
  if (!maybeSave()) return false;
  try {
    document_.open(path);
  } catch (const std::exception& error) {
    showNotice(tr("Could not open %1 — your current project is unchanged.\n%2").arg(path, QString::fromStdString(error.what())), true);
    return false;
  }
  notice_->setVisible(false);
  notice_close_->setVisible(false);
  addRecent(document_.path());
  statusBar()->showMessage(tr("Opened %1").arg(document_.path()), 4000);
  return true;
}

bool MainWindow::saveProject() {
  if (document_.path().isEmpty()) {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save project as"), document_.baseDir(), tr("Projects (*.json)"));
    return !path.isEmpty() && saveProjectAs(path);
  }
  return saveProjectAs(document_.path());
}

bool MainWindow::saveProjectAs(const QString& path) {
  try {
    document_.saveAs(path);
  } catch (const std::exception& error) {
    showNotice(tr("Could not save %1: %2\nYour edits are still here; try another folder.").arg(path, QString::fromStdString(error.what())), true);
    return false;
  }
  addRecent(document_.path());
  statusBar()->showMessage(tr("Saved %1").arg(document_.path()), 4000);
  return true;
}

bool MainWindow::maybeSave() {
  if (!document_.isModified()) return true;
  const auto answer = QMessageBox::warning(this, tr("Unsaved changes"),
                                           tr("%1 has unsaved changes. Save them?").arg(document_.displayName()),
                                           QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
  if (answer == QMessageBox::Cancel) return false;
  if (answer == QMessageBox::Save) return saveProject();
  return true;
}

void MainWindow::addRecent(const QString& path) {
  recent_.removeAll(path);
  recent_.prepend(path);
  while (recent_.size() > kMaxRecent) recent_.removeLast();
  if (restore_settings_) studioSettings().setValue(QStringLiteral("recentProjects"), recent_);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recent_menu_->clear();
  for (const QString& path : recent_) {
    recent_menu_->addAction(QFileInfo(path).fileName() + QStringLiteral("  —  ") + QFileInfo(path).absolutePath(),
                            this, [this, path] { openProject(path); });
  }
  recent_menu_->setEnabled(!recent_.isEmpty());
}

void MainWindow::updateTitle() {
  setWindowTitle(QStringLiteral("%1[*] — Behemoth Studio").arg(document_.displayName()));
  setWindowModified(document_.isModified());
}

void MainWindow::resumeRun(const QString& step_dir) {
  if (run_->controller()->isRunning()) {
    showNotice(tr("A run is in progress: stop it before resuming from %1.").arg(QFileInfo(step_dir).fileName()), true);
    return;
  }
  if (document_.path().isEmpty() && !document_.isModified()) {
    showNotice(tr("Open the project to resume (its current plan is used; it may differ from the one that saved %1).")
                   .arg(QFileInfo(step_dir).fileName()),
               true);
    return;
  }
  launchRun(step_dir);
}

void MainWindow::launchRun(const QString& resume) {
  const AnalysisPtr analysis = estimates_.latest();
  if (analysis && (analysis->error || analysis->run_blocker)) {
    const auto& issue = analysis->error ? *analysis->error : *analysis->run_blocker;
    showNotice(tr("Cannot run this project here: %1").arg(QString::fromStdString(issue.message)), true);
    return;
  }
  if (run_->controller()->isRunning()) return;
  // The engine runs the file: save first (relative paths resolve against its folder).
  if (document_.isModified() || document_.path().isEmpty()) {
    if (!saveProject()) return;
  }
  const int nproc = analysis && analysis->project ? analysis->project->devices.count : 1;
  showPage(Page::run);
  if (!run_->startRun(document_.path(), nproc, analysis ? analysis->flops.model() : 0, resume)) {
    showNotice(tr("Could not start the engine (%1). Build the `behemoth` target next to behemoth-studio.").arg(run_->engine()), true);
  }
}

void MainWindow::serveProject() {
  // The engine serves the file: save first, as for a run.
  if (document_.isModified() || document_.path().isEmpty()) {
    if (!saveProject()) return;
  }
  showPage(Page::serve);
  serve_->startServer(document_.path());  // an engine that cannot start is reported in the page's banner
}

void MainWindow::openMetricsFile() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open a run's metrics"), document_.baseDir(), tr("Metrics (metrics.jsonl *.jsonl)"));
  if (path.isEmpty()) return;
  try {
    const AnalysisPtr analysis = estimates_.latest();
    RunSeries series = readMetricsFile(path, analysis ? analysis->flops.model() : 0);
    run_->showRecorded(std::move(series), tr("Recorded run: %1").arg(path));
    showPage(Page::run);
  } catch (const std::exception& error) {
    showNotice(QString::fromStdString(error.what()), true);
  }
}

void MainWindow::openHistoryRun(std::int64_t id) { history_.fetch({id}, kFetchOpen); }

void MainWindow::compareRuns(std::vector<std::int64_t> ids) {
  std::sort(ids.begin(), ids.end());  // oldest first: the baseline is the first column
  if (ids.size() < 2) {
    showNotice(tr("Select two or more runs to compare."), false);
    return;
  }
  history_.fetch(ids, kFetchCompare);
}

void MainWindow::onFetched(const HistoryDetails& details, int purpose) {
  if (!details.error.isEmpty()) {
    showNotice(tr("Cannot read the run history: %1").arg(details.error), true);
    return;
  }
  if (purpose == kFetchOpen && !details.runs.empty()) {
    const RunDetails& run = details.runs.front();
    RunSeries series = seriesFromHistory(run);
    // The history keeps no checkpoint events: mark the checkpoints still on disk (none when the
    // folder cannot be read; the curves matter more).
    try {
      for (const CheckpointInfo& checkpoint : listCheckpoints(run.run.out_dir)) series.addCheckpoint(double(checkpoint.step));
    } catch (const std::exception&) {
    }
    run_->showRecorded(std::move(series), tr("Run #%1 %2 (%3)")
                                                   .arg(run.run.id)
                                                   .arg(QString::fromStdString(run.run.name), QString::fromStdString(outcomeName(run.run.outcome))));
    run_->showTrace(QString::fromStdString(run.run.out_dir), run.run.project);
    run_->showChunks(QString::fromStdString(run.run.out_dir), run.run.project);
    showPage(Page::run);
  } else if (purpose == kFetchCompare) {
    compare_->showRuns(details.runs);
    showPage(Page::compare);
  } else if (purpose == kFetchCompareRefresh) {
    compare_->updateRuns(details.runs);
  }
}

void MainWindow::setTheme(Theme theme) {
  theme_ = theme;
  if (auto* app = qobject_cast<QApplication*>(QCoreApplication::instance())) applyTheme(*app, theme);
  restyleCharts();
  if (restore_settings_) studioSettings().setValue(QStringLiteral("theme"), themeName(theme));
}

void MainWindow::restyleCharts() {
  const QPalette pal = QApplication::palette();

  for (MetricCharts* charts : findChildren<MetricCharts*>()) charts->applyTheme(pal);
  memory_->applyTheme(pal);
  history_view_->applyTheme(pal);
  serve_->applyTheme(pal);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (run_->controller()->isRunning()) {
    const auto answer = QMessageBox::question(this, tr("A run is in progress"), tr("Stop the run and quit?"));
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
    run_->stopRun();
  }
  if (!maybeSave()) {
    event->ignore();
    return;
  }
  serve_->stopServer();  // a server started here ends with the Studio
  if (restore_settings_) {
    QSettings settings = studioSettings();
    settings.setValue(QStringLiteral("geometry"), saveGeometry());
    settings.setValue(QStringLiteral("windowState"), saveState());
    settings.setValue(QStringLiteral("page"), static_cast<int>(currentPage()));
  }
  event->accept();
}

}  // namespace behemoth::ui
