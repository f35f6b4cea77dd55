#include "ui/serve_view.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStyle>
#include <QTextCursor>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

#include "backend/checkpoint/checkpoint_catalog.h"
#include "ui/icons.h"
#include "ui/run_controller.h"
#include "ui/serve_charts.h"
#include "ui/serve_completion_client.h"
#include "ui/serve_controller.h"

namespace behemoth::ui {
namespace {

// Only the newest runs are offered: listing a run's checkpoints reads a few files on the UI thread.
constexpr std::size_t kHistoryRunsOffered = 20;
constexpr int kNoSeed = -1;

QString totalsText(const MetricsScrape& scrape) {
  return QObject::tr("requests: %1 ok · %2 invalid · %3 rejected · %4 cancelled — tokens: %5 prompt · %6 generated — queue %7")
      .arg(scrape.counter("behemoth_requests_total{outcome=\"ok\"}"))
      .arg(scrape.counter("behemoth_requests_total{outcome=\"invalid\"}"))
      .arg(scrape.counter("behemoth_requests_total{outcome=\"rejected\"}"))
      .arg(scrape.counter("behemoth_requests_total{outcome=\"cancelled\"}"))
      .arg(scrape.counter("behemoth_prompt_tokens_total"))
      .arg(scrape.counter("behemoth_generated_tokens_total"))
      .arg(scrape.gauge("behemoth_queue_length"));
}

}  // namespace

ServeView::ServeView(QWidget* parent)
    : QWidget(parent),
      engine_(RunController::defaultEngine()),
      controller_(new ServeController(this)),
      client_(new ServeCompletionClient(this)) {
  auto* layout = new QVBoxLayout(this);

  auto* bar = new QHBoxLayout;
  source_ = new QComboBox(this);
  source_->setObjectName(QStringLiteral("serveSource"));
  source_->setMinimumWidth(260);
  source_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  source_->addItem(tr("The current project"), QString());
  source_->setToolTip(tr("What to serve: the open project (its newest checkpoint, else fresh weights), "
                         "a run's checkpoints from the history, or a folder on disk"));
  browse_ = new QToolButton(this);
  browse_->setText(tr("Browse…"));
  browse_->setPopupMode(QToolButton::InstantPopup);
  auto* browse_menu = new QMenu(browse_);
  browse_menu->addAction(tr("Project file…"), this, [this] { browse(false); });
  browse_menu->addAction(tr("Checkpoint, out_dir or Hugging Face folder…"), this, [this] { browse(true); });
  browse_->setMenu(browse_menu);
  ranks_ = new QSpinBox(this);
  ranks_->setRange(1, 64);
  ranks_->setPrefix(tr("tp "));
  ranks_->setToolTip(tr("Tensor-parallel ranks on this machine (--nproc); n_head and d_model must divide by it"));
  start_ = new QPushButton(glyphIcon(Glyph::run, Qt::white), tr("Start server"), this);
  start_->setObjectName(QStringLiteral("primary"));
  stop_ = new QPushButton(glyphIcon(Glyph::stop, QColor(0xEF, 0x44, 0x44)), tr("Stop"), this);
  status_ = new QLabel(tr("Not serving"), this);
  status_->setObjectName(QStringLiteral("sectionTitle"));
  status_->setTextInteractionFlags(Qt::TextBrowserInteraction);
  status_->setOpenExternalLinks(true);
  bar->addWidget(new QLabel(tr("Serve"), this));
  bar->addWidget(source_);
  bar->addWidget(browse_);
  bar->addWidget(ranks_);
  bar->addWidget(start_);
  bar->addWidget(stop_);
  bar->addStretch(1);
  layout->addLayout(bar);
  // Its own row: a long name or URL must not widen the window.
  layout->addWidget(status_);

  banner_ = new QLabel(this);
  banner_->setObjectName(QStringLiteral("banner"));
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setVisible(false);
  layout->addWidget(banner_);
  totals_ = new QLabel(this);
  totals_->setObjectName(QStringLiteral("hint"));
  layout->addWidget(totals_);

  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* left = new QWidget(split);
  auto* column = new QVBoxLayout(left);
  column->setContentsMargins(0, 0, 0, 0);
  auto* prompt_title = new QLabel(tr("Prompt"), left);
  prompt_title->setObjectName(QStringLiteral("sectionTitle"));
  column->addWidget(prompt_title);
  prompt_ = new QPlainTextEdit(left);
  prompt_->setObjectName(QStringLiteral("servePrompt"));
  prompt_->setPlaceholderText(tr("Type a prompt; Ctrl+Enter sends it."));
  prompt_->setMaximumHeight(110);
  column->addWidget(prompt_);
  max_tokens_ = new QSpinBox(left);
  max_tokens_->setRange(1, 65536);
  max_tokens_->setValue(64);
  max_tokens_->setToolTip(tr("max_tokens: at most this many tokens (the server refuses more than serve.max_tokens)"));
  temperature_ = new QDoubleSpinBox(left);
  temperature_->setRange(0, 5);
  temperature_->setSingleStep(0.1);
  temperature_->setDecimals(2);
  temperature_->setValue(0.8);
  temperature_->setToolTip(tr("temperature: 0 is greedy (always the likeliest token)"));
  seed_ = new QSpinBox(left);
  seed_->setRange(kNoSeed, std::numeric_limits<int>::max());
  seed_->setValue(kNoSeed);
  seed_->setSpecialValueText(tr("none"));
  seed_->setToolTip(tr("seed: the same seed samples the same text, whatever else the server runs"));
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(tr("max tokens"), left));
  row->addWidget(max_tokens_);
  row->addWidget(new QLabel(tr("temperature"), left));
  row->addWidget(temperature_);
  row->addWidget(new QLabel(tr("seed"), left));
  row->addWidget(seed_);
  row->addStretch(1);
  column->addLayout(row);
  auto* send_row = new QHBoxLayout;
  send_ = new QPushButton(style()->standardIcon(QStyle::SP_ArrowRight), tr("Send"), left);
  send_->setObjectName(QStringLiteral("primary"));
  send_->setToolTip(tr("Stream the completion of the prompt (Ctrl+Enter)"));
  cancel_ = new QPushButton(tr("Cancel"), left);
  cancel_->setToolTip(tr("Stop this answer; the server frees its sequence"));
  answer_ = new QLabel(left);
  answer_->setObjectName(QStringLiteral("hint"));
  answer_->setWordWrap(true);
  send_row->addWidget(send_);
  send_row->addWidget(cancel_);
  send_row->addWidget(answer_, 1);
  column->addLayout(send_row);
  output_ = new QPlainTextEdit(left);
  output_->setObjectName(QStringLiteral("serveOutput"));
  output_->setReadOnly(true);
  output_->setPlaceholderText(tr("The answer appears here as its tokens stream in; the prompt is shown in grey."));
  column->addWidget(output_, 3);
  log_ = new QPlainTextEdit(left);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(500);
  log_->setMaximumHeight(90);
  log_->setPlaceholderText(tr("Server output appears here."));
  QFont mono(QStringLiteral("monospace"));
  mono.setStyleHint(QFont::Monospace);
  log_->setFont(mono);
  column->addWidget(log_, 1);
  charts_ = new ServeCharts(split);
  split->addWidget(left);
  split->addWidget(charts_);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 3);
  layout->addWidget(split, 1);

  auto* send_shortcut = new QAction(this);
  send_shortcut->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
  send_shortcut->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  connect(send_shortcut, &QAction::triggered, this, &ServeView::sendPrompt);
  prompt_->addAction(send_shortcut);

  connect(start_, &QPushButton::clicked, this, &ServeView::onStartClicked);
  connect(stop_, &QPushButton::clicked, this, &ServeView::stopServer);
  connect(send_, &QPushButton::clicked, this, &ServeView::sendPrompt);
  connect(cancel_, &QPushButton::clicked, client_, &ServeCompletionClient::cancel);
  connect(controller_, &ServeController::ready, this, &ServeView::onReady);
  connect(controller_, &ServeController::ended, this, &ServeView::onEnded);
  connect(controller_, &ServeController::metricsScraped, this, &ServeView::onScrape);
  connect(controller_, &ServeController::logLine, this, [this](const QString& line, bool) { log_->appendPlainText(line); });
  connect(client_, &ServeCompletionClient::pieceReceived, this, &ServeView::onPiece);
  connect(client_, &ServeCompletionClient::finished, this, [this](const QString& reason) { onAnswerEnded(reason, false); });
  connect(client_, &ServeCompletionClient::failed, this, [this](const QString& message) { onAnswerEnded(message, true); });
  updateButtons();
}

void ServeView::applyTheme(const QPalette& palette) { charts_->applyTheme(palette); }

void ServeView::setHistoryRuns(const std::vector<RunRecord>& runs) {
  const QString chosen = chosenSource();
  // Keep "the current project" and what was browsed; replace the history's entries.
  for (int i = source_->count() - 1; i >= 1; --i) {
    if (source_->itemData(i, Qt::UserRole + 1).toBool()) source_->removeItem(i);
  }
  std::vector<RunRecord> newest = runs;
  std::sort(newest.begin(), newest.end(), [](const RunRecord& a, const RunRecord& b) { return a.id > b.id; });
  if (newest.size() > kHistoryRunsOffered) newest.resize(kHistoryRunsOffered);
  for (const RunRecord& run : newest) {
    std::vector<CheckpointInfo> checkpoints;
    try {
      checkpoints = listCheckpoints(run.out_dir);
    } catch (const std::exception&) {
      continue;  // a folder not on this machine, or unreadable: nothing to serve from it
    }
    if (checkpoints.empty()) continue;
    const QString out_dir = QString::fromStdString(run.out_dir);
    source_->addItem(tr("Run #%1 %2 — latest of %3 checkpoints (step %4)")
                         .arg(run.id)
                         .arg(QString::fromStdString(run.name))
                         .arg(checkpoints.size())
                         .arg(checkpoints.back().step),
                     out_dir);
    source_->setItemData(source_->count() - 1, true, Qt::UserRole + 1);
    source_->setItemData(source_->count() - 1, out_dir, Qt::ToolTipRole);
  }
  const int again = chosen.isEmpty() ? 0 : source_->findData(chosen);
  source_->setCurrentIndex(std::max(0, again));
}

void ServeView::addSource(const QString& input) {
  const QString path = QFileInfo(input).absoluteFilePath();
  int index = source_->findData(path);
  if (index < 0) {
    source_->addItem(QFileInfo(path).fileName() + QStringLiteral(" — ") + QFileInfo(path).absolutePath(), path);
    index = source_->count() - 1;
    source_->setItemData(index, path, Qt::ToolTipRole);
  }
  source_->setCurrentIndex(index);
}

QString ServeView::chosenSource() const { return source_->currentData().toString(); }

void ServeView::browse(bool folder) {
  const QString path = folder ? QFileDialog::getExistingDirectory(this, tr("Serve a checkpoint, out_dir or Hugging Face folder"))
                              : QFileDialog::getOpenFileName(this, tr("Serve a project"), QString(), tr("Projects (*.json)"));
  if (!path.isEmpty()) addSource(path);
}

void ServeView::onStartClicked() {
  const QString input = chosenSource();
  if (input.isEmpty()) {
    emit currentProjectRequested();
  } else {
    startServer(input);
  }
}

bool ServeView::startServer(const QString& input) {
  if (controller_->isRunning()) return false;
  banner_->setVisible(false);
  totals_->clear();
  log_->clear();
  charts_->clear();
  const QFileInfo info(input);
  // A project's relative paths resolve against its folder; a folder input needs none.
  const QString working_dir = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
  const QStringList arguments = ServeController::serveArguments(input, ranks_->value());
  log_->appendPlainText(QStringLiteral("$ %1 %2").arg(engine_, arguments.join(' ')));
  status_->setText(tr("Starting %1…").arg(info.fileName()));
  const bool started = controller_->start(engine_, input, ranks_->value(), QDir(working_dir).exists() ? working_dir : QDir::currentPath());
  updateButtons();
  return started;
}

void ServeView::stopServer() {
  if (!controller_->isRunning()) return;
  client_->cancel();
  controller_->stop();
  status_->setText(tr("Stopping…"));
  updateButtons();
}

bool ServeView::sendPrompt() {
  if (controller_->state() != ServeController::State::serving || client_->busy()) return false;
  CompletionSettings settings;
  settings.prompt = prompt_->toPlainText();
  settings.max_tokens = max_tokens_->value();
  settings.temperature = temperature_->value();
  if (seed_->value() != kNoSeed) settings.seed = seed_->value();
  output_->clear();
  QTextCursor cursor(output_->document());
  QTextCharFormat prompt_format;
  prompt_format.setForeground(palette().color(QPalette::PlaceholderText));
  cursor.insertText(settings.prompt, prompt_format);
  answer_->setText(tr("waiting for the first token…"));
  answer_time_.start();
  const bool sent = client_->send(controller_->url(), settings);
  updateButtons();
  return sent;
}

void ServeView::onPiece(const QString& piece) {
  QTextCursor cursor(output_->document());
  cursor.movePosition(QTextCursor::End);
  cursor.insertText(piece, QTextCharFormat());
  output_->ensureCursorVisible();
  answer_->setText(tr("streaming… %1 pieces").arg(client_->pieces()));
}

void ServeView::onAnswerEnded(const QString& outcome, bool failed) {
  const double seconds = answer_time_.elapsed() / 1000.0;
  answer_->setText(failed ? tr("<span style='color:#EF4444'>%1</span>").arg(outcome.toHtmlEscaped())
                          : tr("finish reason <b>%1</b> · %2 pieces in %3 s").arg(outcome).arg(client_->pieces()).arg(seconds, 0, 'f', 2));
  updateButtons();
}

void ServeView::onReady() {
  status_->setText(tr("Serving %1 on <a href='%2'>%2</a> (tp %3, KV blocks %4)")
                       .arg(controller_->modelName().toHtmlEscaped(), controller_->url().toString())
                       .arg(controller_->tensorParallel())
                       .arg(controller_->kvBlocks()));
  emit statusMessage(tr("Serving %1 on %2").arg(controller_->modelName(), controller_->url().toString()));
  updateButtons();
}

void ServeView::onEnded(bool failed, const QString& message) {
  charts_->replotNow();
  status_->setText(failed ? tr("Not serving") : tr("Server stopped"));
  // Never ready: the engine refused the input (its one line), or could not listen.
  if (failed) showBanner((controller_->url().isEmpty() ? tr("The server did not start: %1") : tr("The server ended: %1")).arg(message), true);
  log_->appendPlainText(message);
  emit statusMessage(message);
  updateButtons();
}

void ServeView::onScrape(const MetricsScrape& scrape, double seconds) {
  charts_->addScrape(seconds, scrape);
  totals_->setText(totalsText(scrape));
}

void ServeView::showBanner(const QString& text, bool error) {
  banner_->setText(text);
  banner_->setProperty("error", error);
  banner_->style()->unpolish(banner_);
  banner_->style()->polish(banner_);
  banner_->setVisible(true);
}

void ServeView::updateButtons() {
  const bool running = controller_->isRunning();
  const bool serving = controller_->state() == ServeController::State::serving;
  start_->setEnabled(!running);
  source_->setEnabled(!running);
  browse_->setEnabled(!running);
  ranks_->setEnabled(!running);
  stop_->setEnabled(running && controller_->state() != ServeController::State::stopping);
  send_->setEnabled(serving && !client_->busy());
  cancel_->setEnabled(client_->busy());
}

}  // namespace behemoth::ui
