// behemoth-studio: the Studio's entry point. With --screenshot it renders one view offscreen to a
// PNG and exits (docs/studio.md); otherwise it opens the window (and the project given, if any).
#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>

#include <cstdlib>
#include <cstring>

#include "ui/main_window.h"
#include "ui/screenshot.h"
#include "ui/theme.h"

namespace {

bool wantsScreenshot(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--screenshot") == 0 || std::strncmp(argv[i], "--screenshot=", 13) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Screenshots render without a display; this must be decided before QApplication exists.
  if (wantsScreenshot(argc, argv)) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("Behemoth Studio"));
  QApplication::setOrganizationName(QStringLiteral("Behemoth"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Behemoth Studio: design, run and compare parallel training plans."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("project"), QStringLiteral("Project file to open"), QStringLiteral("[project]"));
  const QCommandLineOption screenshot(QStringLiteral("screenshot"), QStringLiteral("Render VIEW (picker, mesh, plan, run, history, compare, chunks, serve) to --out and exit"), QStringLiteral("VIEW"));
  const QCommandLineOption project(QStringLiteral("project"), QStringLiteral("Project file"), QStringLiteral("FILE"));
  const QCommandLineOption out(QStringLiteral("out"), QStringLiteral("PNG to write"), QStringLiteral("FILE"));
  const QCommandLineOption history(QStringLiteral("history"), QStringLiteral("History database"), QStringLiteral("DB"));
  const QCommandLineOption metrics(QStringLiteral("metrics"), QStringLiteral("run view: a recorded metrics.jsonl"), QStringLiteral("FILE"));
  const QCommandLineOption runs(QStringLiteral("runs"), QStringLiteral("run/compare views: history run ids, comma-separated"), QStringLiteral("IDS"));
  const QCommandLineOption theme(QStringLiteral("theme"), QStringLiteral("light or dark"), QStringLiteral("NAME"));
  const QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size for screenshots, WxH (default 1400x900)"), QStringLiteral("WxH"));
  const QCommandLineOption highlight(QStringLiteral("highlight"), QStringLiteral("mesh view: colour ranks by this axis"), QStringLiteral("AXIS"));
  const QCommandLineOption trace(QStringLiteral("trace"), QStringLiteral("run view: a traced run's OUT_DIR (its pipeline timeline)"), QStringLiteral("DIR"));
  const QCommandLineOption run_dir(QStringLiteral("run-dir"), QStringLiteral("chunks view: a ZeRO-3 run's OUT_DIR (its measured chunk record)"), QStringLiteral("DIR"));
  const QCommandLineOption smoothing(QStringLiteral("smoothing"), QStringLiteral("compare view: EMA smoothing weight in [0, 1)"), QStringLiteral("W"));
  const QCommandLineOption x_axis(QStringLiteral("x-axis"), QStringLiteral("compare view: step, tokens, wall or time"), QStringLiteral("AXIS"));
  const QCommandLineOption group_by(QStringLiteral("group-by"), QStringLiteral("compare view: group the runs by this plan or project field (or tags)"), QStringLiteral("FIELD"));
  const QCommandLineOption log_y(QStringLiteral("log-y"), QStringLiteral("compare view: charts with a log y axis, comma-separated"), QStringLiteral("CHARTS"));
  const QCommandLineOption tab(QStringLiteral("tab"), QStringLiteral("compare view: settings or plan (the planner against measured)"), QStringLiteral("TAB"));
  parser.addOptions({screenshot, project, out, history, metrics, runs, theme, size, highlight, trace, run_dir, smoothing, x_axis, group_by, log_y, tab});
  parser.process(app);

  if (parser.isSet(screenshot)) {
    behemoth::ui::ScreenshotOptions options;
    options.view = parser.value(screenshot);
    options.project = parser.value(project);
    options.out = parser.value(out).isEmpty() ? QStringLiteral("studio-%1.png").arg(options.view) : parser.value(out);
    options.history = parser.value(history);
    options.metrics = parser.value(metrics);
    options.highlight = parser.value(highlight);
    options.trace = parser.value(trace);
    options.run_dir = parser.value(run_dir);
    if (parser.isSet(smoothing)) {
      bool number = false;
      options.smoothing = parser.value(smoothing).toDouble(&number);
      if (!number) options.smoothing = -1;  // refused by the compare view with the option's name
    }
    options.x_axis = parser.value(x_axis);
    options.group_by = parser.value(group_by);
    options.log_y = parser.value(log_y).split(',', Qt::SkipEmptyParts);
    options.tab = parser.value(tab);
    if (parser.isSet(theme)) options.theme = parser.value(theme);
    for (const QString& id : parser.value(runs).split(',', Qt::SkipEmptyParts)) options.runs.push_back(id.toLongLong());
    if (parser.isSet(size)) {
      const QStringList wh = parser.value(size).split('x');
      if (wh.size() == 2) options.size = QSize(wh[0].toInt(), wh[1].toInt());
    }
    behemoth::ui::applyTheme(app, behemoth::ui::themeFromName(options.theme));
    return behemoth::ui::renderScreenshot(options);
  }

  const QString theme_name = parser.isSet(theme) ? parser.value(theme)
                                                 : QSettings(QStringLiteral("Behemoth"), QStringLiteral("Studio"))
                                                       .value(QStringLiteral("theme"), QStringLiteral("light"))
                                                       .toString();
  behemoth::ui::MainWindow window(parser.value(history));
  window.setTheme(behemoth::ui::themeFromName(theme_name));
  const QString to_open = parser.isSet(project) ? parser.value(project) : parser.positionalArguments().value(0);
  if (!to_open.isEmpty()) window.openProject(to_open);
  window.show();
  return app.exec();
}
