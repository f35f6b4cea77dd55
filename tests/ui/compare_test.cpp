// The compare view's curves and tables on known data: smoothing (debiased, the raw curve behind),
// the x axis in tokens, log scales, the crosshair, runs grouped by a plan field as a mean with a
// band, resolved settings (a default left out is no difference), exports, and the planner's
// model-state bytes per rank beside a recorded dp 2 ZeRO-2 run's.
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QImage>
#include <QMenu>
#include <QProcess>
#include <QSlider>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QToolButton>
#include <qcustomplot.h>
#include <gtest/gtest.h>

#include "backend/history/history_store.h"
#include "backend/project/project.h"
#include "tests/ui/ui_test_support.h"
#include "ui/compare_view.h"
#include "ui/history_view.h"
#include "ui/main_window.h"
#include "ui/chart_style.h"
#include "ui/metric_charts.h"
#include "ui/plan_check_panel.h"
#include "ui/run_comparison.h"
#include "ui/run_groups.h"
#include "ui/series_transform.h"

namespace behemoth::ui {
namespace {

constexpr double kTokensPerStep = 16 * 64;  // the tiny project's global batch x seq_len

// A recorded run of the tiny project with these losses at steps 1, 2, ... and evaluations at
// `eval_steps` (eval loss = the step's loss + 0.5).
RunDetails knownRun(std::int64_t id, int zero, const std::vector<double>& losses, const std::vector<int>& eval_steps = {}) {
  RunDetails details;
  details.run.id = id;
  details.run.name = "run" + std::to_string(id);
  details.run.project = testing::tinyProject();
  details.run.project["parallel"]["zero"] = zero;
  details.run.plan = planToJson(projectFromJson(details.run.project).plan);
  details.run.plan["dp"] = 2;
  details.run.world_size = 2;
  details.run.started_at = "2026-12-01T10:00:00Z";
  for (std::size_t k = 0; k < losses.size(); ++k) {
    StepMetrics m;
    m.step = static_cast<std::int64_t>(k) + 1;
    m.loss = losses[k];
    m.tokens_seen = m.step * static_cast<std::int64_t>(kTokensPerStep);
    m.elapsed_s = 0.5 * double(m.step);
    m.tokens_per_s = 1000;
    m.step_time_s = 0.5;
    details.steps.push_back(m);
  }
  for (int step : eval_steps) details.evals.emplace_back(step, losses.at(step - 1) + 0.5);
  return details;
}

QCPGraph* graphNamed(MetricCharts* charts, MetricCharts::Chart chart, const QString& name) {
  QCustomPlot* plot = charts->plot(chart);
  for (int g = 0; g < plot->graphCount(); ++g) {
    if (plot->graph(g)->name() == name) return plot->graph(g);
  }
  return nullptr;
}

std::vector<std::pair<double, double>> pointsOf(QCPGraph* graph) {
  std::vector<std::pair<double, double>> points;
  for (auto p = graph->data()->constBegin(); p != graph->data()->constEnd(); ++p) points.emplace_back(p->key, p->value);
  return points;
}

TEST(Smoothing, TheFirstPointIsRawAConstantStaysAndWeightZeroIsTheSeries) {
  const QVector<double> raw = {4.0, 2.0, 3.0, 1.0};
  const QVector<double> smooth = smoothed(raw, 0.6);
  EXPECT_DOUBLE_EQ(smooth[0], 4.0);
  // By hand: averages 1.6, 0.96 + 0.8 = 1.76, ... over 1 - 0.6^n.
  EXPECT_NEAR(smooth[1], (0.6 * 1.6 + 0.4 * 2.0) / (1 - 0.36), 1e-12);
  EXPECT_EQ(smoothed(raw, 0.0), raw);
  for (double value : smoothed({5, 5, 5, 5, 5}, 0.9)) EXPECT_NEAR(value, 5.0, 1e-12);
  // A diverged step passes through and does not poison the rest.
  const QVector<double> gap = smoothed({1.0, std::nan(""), 1.0}, 0.5);
  EXPECT_TRUE(std::isnan(gap[1]));
  EXPECT_DOUBLE_EQ(gap[2], 1.0);
}

TEST(CompareCurves, SmoothingChangesTheDrawnSeriesKeepsTheRawBehindAndStartsAtTheRawPoint) {
  CompareView view;
  view.resize(1200, 800);
  const std::vector<double> losses = {3.0, 1.0, 2.5, 0.5, 2.0};
  view.showRuns({knownRun(1, 0, losses), knownRun(2, 1, {2, 2, 2, 2, 2})});
  MetricCharts* charts = view.charts();
  QCPGraph* before = graphNamed(charts, MetricCharts::loss, "#1 run1");
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(pointsOf(before)[1].second, 1.0);
  EXPECT_EQ(graphNamed(charts, MetricCharts::loss, "#1 run1 (raw)"), nullptr) << "no raw copy without smoothing";

  view.smoothingSlider()->setValue(60);
  QCPGraph* smooth = graphNamed(charts, MetricCharts::loss, "#1 run1");
  QCPGraph* raw = graphNamed(charts, MetricCharts::loss, "#1 run1 (raw)");
  ASSERT_NE(smooth, nullptr);
  ASSERT_NE(raw, nullptr);
  const auto drawn = pointsOf(smooth);
  ASSERT_EQ(drawn.size(), losses.size());
  EXPECT_DOUBLE_EQ(drawn[0].second, 3.0) << "debiased: the first smoothed point is the first raw point";
  const QVector<double> expected = smoothed(QVector<double>(losses.begin(), losses.end()), 0.6);
  for (std::size_t k = 0; k < losses.size(); ++k) {
    EXPECT_DOUBLE_EQ(drawn[k].second, expected[static_cast<int>(k)]) << "step " << k + 1;
    EXPECT_EQ(pointsOf(raw)[k].second, losses[k]);
  }
  EXPECT_NE(drawn[1].second, 1.0);
  // The raw copy is faint and out of the legend.
  EXPECT_LT(raw->pen().color().alpha(), 255);
  EXPECT_FALSE(charts->plot(MetricCharts::loss)->legend->hasItemWithPlottable(raw));
}

TEST(CompareCurves, TokensOnTheXAxisPlaceStepKAtKTimesTheTokensPerStep) {
  CompareView view;
  view.showRuns({knownRun(1, 0, {3, 2, 1, 0.5}, {2, 4}), knownRun(2, 1, {3, 2.5, 2, 1.5})});
  view.xAxisChooser()->setCurrentIndex(view.xAxisChooser()->findData(static_cast<int>(XAxisKind::tokens)));
  MetricCharts* charts = view.charts();
  const auto train = pointsOf(graphNamed(charts, MetricCharts::loss, "#1 run1"));
  ASSERT_EQ(train.size(), 4u);
  for (std::size_t k = 0; k < train.size(); ++k) EXPECT_DOUBLE_EQ(train[k].first, double(k + 1) * kTokensPerStep);
  const auto eval = pointsOf(graphNamed(charts, MetricCharts::loss, "#1 run1 eval"));
  ASSERT_EQ(eval.size(), 2u);
  EXPECT_DOUBLE_EQ(eval[1].first, 4 * kTokensPerStep);
  EXPECT_EQ(charts->plot(MetricCharts::loss)->xAxis->label(), "tokens seen");

  view.xAxisChooser()->setCurrentIndex(view.xAxisChooser()->findData(static_cast<int>(XAxisKind::wall_relative)));
  EXPECT_DOUBLE_EQ(pointsOf(graphNamed(charts, MetricCharts::step_time, "#2 run2 step time"))[2].first, 1.5);
  view.xAxisChooser()->setCurrentIndex(view.xAxisChooser()->findData(static_cast<int>(XAxisKind::wall_absolute)));
  const double started = QDateTime::fromString("2026-12-01T10:00:00Z", Qt::ISODate).toMSecsSinceEpoch() / 1e3;
  EXPECT_DOUBLE_EQ(pointsOf(graphNamed(charts, MetricCharts::loss, "#1 run1"))[0].first, started + 0.5);
}

// Every point reachable: a million points with one spike; the drawn chart shows the spike at the
// whole-run zoom (each pixel column draws its lowest and highest point, not a thinned sample).
TEST(CompareCurves, AMillionPointsDrawWithTheirOneSpike) {
  RunSeries run;
  run.label = "million";
  const int points = 1000000, spike = 333333;
  for (int k = 0; k < points; ++k) {
    run.steps.append(k + 1);
    run.loss.append(k == spike ? 5.0 : 1.0 + 0.001 * (k % 7));
  }
  MetricCharts charts;
  charts.resize(1200, 700);
  charts.show();
  charts.setRuns({run});
  QCustomPlot* plot = charts.plot(MetricCharts::loss);
  plot->replot(QCustomPlot::rpImmediateRefresh);
  ASSERT_EQ(plot->graph(0)->dataCount(), points);
  const QImage image = plot->toPixmap(plot->width(), plot->height()).toImage();
  const QColor line = seriesColor(0);
  const int top = static_cast<int>(plot->yAxis->coordToPixel(4.9));
  const int bottom = static_cast<int>(plot->yAxis->coordToPixel(2.0));
  const QRect area = plot->axisRect()->rect();
  int line_pixels = 0, column = -1;
  for (int y = std::max(area.top(), top); y <= bottom; ++y) {
    for (int x = area.left(); x <= area.right(); ++x) {
      const QColor pixel = image.pixelColor(x, y);
      if (std::abs(pixel.red() - line.red()) + std::abs(pixel.green() - line.green()) + std::abs(pixel.blue() - line.blue()) < 60) {
        ++line_pixels;
        column = x;
      }
    }
  }
  EXPECT_GT(line_pixels, 5) << "the spike is drawn";
  EXPECT_NEAR(column, plot->xAxis->coordToPixel(spike + 1), 3) << "where it is";
}

TEST(CompareCurves, ALogScaleIsPerChartAndTheCrosshairReadsEveryRun) {
  CompareView view;
  view.resize(1200, 800);
  view.showRuns({knownRun(1, 0, {3, 2, 1}), knownRun(2, 1, {4, 3.5, 3})});
  QAction* loss_log = view.logScaleButton()->menu()->actions().at(MetricCharts::loss);
  loss_log->setChecked(true);
  MetricCharts* charts = view.charts();
  EXPECT_EQ(charts->plot(MetricCharts::loss)->yAxis->scaleType(), QCPAxis::stLogarithmic);
  EXPECT_EQ(charts->plot(MetricCharts::throughput)->yAxis->scaleType(), QCPAxis::stLinear);
  EXPECT_GT(charts->plot(MetricCharts::loss)->yAxis->range().lower, 0.0);

  charts->showCrosshairAt(2.4);  // between steps 2 and 3: the values of step 2
  const QString text = charts->crosshairText(MetricCharts::loss);
  EXPECT_TRUE(text.contains("#1 run1: 2")) << text.toStdString();
  EXPECT_TRUE(text.contains("#2 run2: 3.5")) << text.toStdString();
  charts->hideCrosshair();
  EXPECT_TRUE(charts->crosshairText(MetricCharts::loss).isEmpty());
}

TEST(CompareGroups, ThreeRunsByZeroAreTwoGroupsWithTheirMeanAndBand) {
  const std::vector<RunDetails> runs = {knownRun(1, 0, {1, 2, 3}), knownRun(2, 0, {3, 4, 5, 6}), knownRun(3, 1, {2, 2, 2})};
  EXPECT_TRUE(groupableFields(runs).contains("parallel.zero"));
  const std::vector<RunGroup> groups = groupRuns(runs, "parallel.zero");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].value, "0");
  EXPECT_EQ(groups[0].members, (std::vector<int>{0, 1}));
  EXPECT_EQ(groups[1].members, (std::vector<int>{2}));

  CompareView view;
  view.showRuns(runs);
  view.groupChooser()->setCurrentIndex(view.groupChooser()->findText("parallel.zero"));
  MetricCharts* charts = view.charts();
  QCPGraph* mean = graphNamed(charts, MetricCharts::loss, "parallel.zero = 0 (2 runs)");
  QCPGraph* low = graphNamed(charts, MetricCharts::loss, "parallel.zero = 0 (2 runs) lowest");
  QCPGraph* high = graphNamed(charts, MetricCharts::loss, "parallel.zero = 0 (2 runs) highest");
  ASSERT_TRUE(mean && low && high);
  // Steps both runs logged (1..3): means 2, 3, 4; band 1..3, 2..4, 3..5. Step 4 (one run) is left out.
  EXPECT_EQ(pointsOf(mean), (std::vector<std::pair<double, double>>{{1, 2}, {2, 3}, {3, 4}}));
  EXPECT_EQ(pointsOf(low), (std::vector<std::pair<double, double>>{{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(pointsOf(high), (std::vector<std::pair<double, double>>{{1, 3}, {2, 4}, {3, 5}}));
  EXPECT_EQ(high->channelFillGraph(), low);
  QCPGraph* single = graphNamed(charts, MetricCharts::loss, "parallel.zero = 1 (1 run)");
  ASSERT_NE(single, nullptr);
  EXPECT_EQ(pointsOf(single), (std::vector<std::pair<double, double>>{{1, 2}, {2, 2}, {3, 2}}));
  EXPECT_TRUE(charts->plot(MetricCharts::loss)->legend->hasItemWithPlottable(mean));

  view.groupChooser()->setCurrentIndex(0);
  EXPECT_NE(graphNamed(charts, MetricCharts::loss, "#3 run3"), nullptr) << "ungrouped again";
}

TEST(CompareGroups, ATagGroupsTheRunsWithItAgainstTheOthers) {
  std::vector<RunDetails> runs = {knownRun(1, 0, {1, 2}), knownRun(2, 0, {3, 4}), knownRun(3, 1, {5, 6})};
  runs[0].run.tags = {"baseline", "keep"};
  runs[2].run.tags = {"baseline"};
  const QStringList fields = groupableFields(runs);
  EXPECT_TRUE(fields.contains("tag:keep"));
  EXPECT_TRUE(fields.contains("tag:baseline"));
  const std::vector<RunGroup> groups = groupRuns(runs, "tag:baseline");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label(), "baseline (2 runs)");
  EXPECT_EQ(groups[0].members, (std::vector<int>{0, 2}));
  EXPECT_EQ(groups[1].label(), "not baseline (1 run)");
}

TEST(CompareTable, AKeyLeftOutEqualsTheDefaultAndShowAllListsEverySetting) {
  RunDetails a = knownRun(1, 0, {1, 2});
  RunDetails b = knownRun(2, 0, {1, 2});
  a.run.project.erase("precision");               // absent: the default, fp32
  b.run.project["precision"] = "fp32";
  b.run.project["model"]["tie_embeddings"] = true;  // the default, written out
  b.run.project["train"]["measure_memory"] = false;
  const std::vector<ComparisonRow> rows = compareRuns({a, b});
  for (const ComparisonRow& row : rows) {
    EXPECT_TRUE(row.is_result) << row.field.toStdString() << " is listed though both runs resolve it alike";
  }
  const std::vector<ComparisonRow> all = compareRuns({a, b}, true);
  const auto precision = std::find_if(all.begin(), all.end(), [](const ComparisonRow& r) { return r.field == "precision"; });
  ASSERT_NE(precision, all.end());
  EXPECT_FALSE(precision->differs);
  EXPECT_EQ(precision->values, (QStringList{"fp32", "fp32"}));

  CompareView view;
  view.showRuns({a, b});
  const int before = view.diffTable()->rowCount();
  view.showAllSettings()->setChecked(true);
  EXPECT_GT(view.diffTable()->rowCount(), before + 20);
  const QString csv = view.tableCsv();
  EXPECT_TRUE(csv.startsWith("setting / result,#1 run1,#2 run2\n")) << csv.toStdString();
  EXPECT_TRUE(csv.contains("\nprecision,fp32,fp32\n")) << csv.toStdString();
}

TEST(CompareExport, ChartsAsPngAndSvgAndTheCurvesAsCsv) {
  QTemporaryDir dir;
  CompareView view;
  view.resize(1200, 800);
  view.show();
  view.showRuns({knownRun(1, 0, {3, 2, 1}), knownRun(2, 1, {4, 3.5, 3})});
  const QString png = dir.filePath("charts.png"), svg = dir.filePath("charts.svg"), csv = dir.filePath("curves.csv");
  ASSERT_TRUE(view.exportChartsPng(png));
  QImage image(png);
  EXPECT_GT(image.width(), 400);
  ASSERT_TRUE(view.exportChartsSvg(svg));
  QFile svg_file(svg);
  ASSERT_TRUE(svg_file.open(QIODevice::ReadOnly));
  const QByteArray svg_text = svg_file.readAll();
  EXPECT_TRUE(svg_text.contains("<svg")) << svg_text.left(200).toStdString();
  EXPECT_TRUE(svg_text.contains("<path") || svg_text.contains("<polyline")) << "the curves are vectors";
  ASSERT_TRUE(view.exportSeriesCsv(csv));
  QFile csv_file(csv);
  ASSERT_TRUE(csv_file.open(QIODevice::ReadOnly));
  const QString text = QString::fromUtf8(csv_file.readAll());
  EXPECT_TRUE(text.startsWith("chart,curve,step,value\n"));
  EXPECT_TRUE(text.contains("\nloss,#2 run2,2,3.5\n")) << text.toStdString();
  EXPECT_FALSE(view.exportSeriesCsv(dir.filePath("no/such/folder/curves.csv")));
  // One chart alone, each format by its suffix.
  ASSERT_TRUE(view.exportChart(MetricCharts::throughput, dir.filePath("throughput.png")));
  const QImage one(dir.filePath("throughput.png"));
  EXPECT_EQ(one.size(), view.charts()->plot(MetricCharts::throughput)->size());
  ASSERT_TRUE(view.exportChart(MetricCharts::loss, dir.filePath("loss.svg")));
  QFile loss_svg(dir.filePath("loss.svg"));
  ASSERT_TRUE(loss_svg.open(QIODevice::ReadOnly));
  EXPECT_TRUE(loss_svg.readAll().contains("<svg"));
}

// A run still running when compared: its curve grows as the history gets its steps, and the live
// refresh stops once it has finished.
TEST(CompareLive, ARunningRunsCurveFollowsTheHistory) {
  QTemporaryDir dir;
  const QString db = dir.filePath("history.sqlite");
  HistoryStore store(db.toStdString());
  std::vector<std::int64_t> ids;
  for (const int zero : {0, 1}) {
    RunStart start;
    start.name = "live" + std::to_string(zero);
    start.project = testing::tinyProject();
    start.plan = planToJson(projectFromJson(start.project).plan);
    start.plan["dp"] = 2;
    start.world_size = 2;
    ids.push_back(store.beginRun(start));
  }
  auto log = [&](std::int64_t id, int step) {
    StepMetrics m;
    m.step = step;
    m.loss = 3.0 - 0.1 * step;
    store.appendStep(id, m);
  };
  for (int step = 1; step <= 3; ++step) log(ids[0], step), log(ids[1], step);
  store.finishRun(ids[0], RunOutcome::completed, "", {});

  MainWindow window(db, false);
  window.show();
  ASSERT_TRUE(waitUntil([&] { return window.historyView()->loaded() && !window.historyService()->busy(); }, 10000));
  window.compareView()->setLiveIntervalMs(50);
  window.compareRuns(ids);
  ASSERT_TRUE(waitUntil([&] { return window.currentPage() == MainWindow::Page::compare; }, 10000));
  MetricCharts* charts = window.compareView()->charts();
  EXPECT_TRUE(window.compareView()->live());
  const auto points = [&] { return pointsOf(graphNamed(charts, MetricCharts::loss, QStringLiteral("#%1 live1").arg(ids[1]))).size(); };
  EXPECT_EQ(points(), 3u);
  for (int step = 4; step <= 6; ++step) log(ids[1], step);
  EXPECT_TRUE(waitUntil([&] { return points() == 6u; }, 10000)) << points();
  store.finishRun(ids[1], RunOutcome::completed, "", {});
  EXPECT_TRUE(waitUntil([&] { return !window.compareView()->live(); }, 10000));
  EXPECT_EQ(pointsOf(graphNamed(charts, MetricCharts::loss, QStringLiteral("#%1 live0").arg(ids[0]))).size(), 3u);
}

// A real run: dp 2 ZeRO-2 of the tiny model, recorded by `behemoth run` into a history.
TEST(ComparePlanCheck, ARecordedZeroTwoRunsModelStatePerRankEqualsThePlanners) {
  QTemporaryDir dir;
  nlohmann::json project = testing::tinyProject();
  project["model"]["d_model"] = 32;
  project["model"]["seq_len"] = 16;
  project["data"]["global_batch_size"] = 8;
  project["parallel"] = {{"dp", 2}, {"zero", 2}};
  project["train"] = {{"steps", 3}, {"log_every", 1}, {"out_dir", dir.filePath("run").toStdString()}};
  const QString path = dir.filePath("zero2.json");
  testing::writeText(path, project.dump());
  const QString db = dir.filePath("history.sqlite");
  QProcess run;
  run.start(testing::engineBinary(), {"run", path, "--nproc", "2", "--history", db});
  ASSERT_TRUE(run.waitForFinished(300000));
  ASSERT_EQ(run.exitCode(), 0) << run.readAllStandardError().toStdString();
  HistoryStore store(db.toStdString());
  const auto details = store.getRun(1);
  ASSERT_TRUE(details);

  CompareView view;
  view.showRuns({*details, *details});
  PlanCheckPanel* panel = view.planCheck();
  ASSERT_TRUE(waitUntil([&] { return !panel->busy() && panel->comparison(); }, 60000)) << panel->status()->text().toStdString();
  const RunAgainstPlan& comparison = *panel->comparison();
  ASSERT_EQ(comparison.ranks.size(), 2u);
  int state_rows = 0;
  for (int r = 0; r < panel->table()->rowCount(); ++r) {
    if (panel->table()->item(r, 2)->text() != "model state") continue;
    ++state_rows;
    EXPECT_EQ(panel->table()->item(r, 3)->text(), panel->table()->item(r, 4)->text()) << "row " << r;
    EXPECT_EQ(panel->table()->item(r, 5)->text(), "+0.0 %") << "row " << r;
  }
  EXPECT_EQ(state_rows, 2);
  for (const RankAgainstPlan& rank : comparison.ranks) {
    const PlanFigure& state = rank.figures.at(0);
    ASSERT_TRUE(state.measured);
    EXPECT_EQ(*state.measured, double(details->steps.back().rank_model_state_bytes.at(rank.rank)));
    EXPECT_EQ(*state.predicted, *state.measured);
  }
}

}  // namespace
}  // namespace behemoth::ui
