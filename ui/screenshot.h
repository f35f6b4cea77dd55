// `behemoth-studio --screenshot VIEW --project FILE --out FILE.png`: renders one main view of the
// real window offscreen, after its estimates and history queries have finished.
#pragma once

#include <QSize>
#include <QStringList>
#include <QString>

#include <cstdint>
#include <functional>
#include <vector>

namespace behemoth::ui {

struct ScreenshotOptions {
  QString view;        // picker, mesh, plan, run, history, compare, chunks, serve
  QString project;     // project file to open (optional for history/compare)
  QString out;         // PNG path
  QString history;     // history database (default: the engine's)
  QString metrics;     // run: a metrics.jsonl to chart (default: the newest run in the history)
  QString theme = QStringLiteral("light");
  QString highlight;   // mesh: the axis to colour by (dp, pp, tp, sp, ep)
  QString trace;       // run: a traced run's OUT_DIR, its pipeline timeline shown (with the project's plan)
  QString run_dir;     // chunks: a ZeRO-3 run's OUT_DIR, its measured chunk record shown (else the plan's)
  std::vector<std::int64_t> runs;  // compare / run: these run ids (default: the newest two / one)
  // compare: the chart toolbar and the lower tab.
  double smoothing = 0;  // EMA weight in [0, 1)
  QString x_axis;        // step, tokens, wall, time (empty: step)
  QString group_by;      // a plan or project field ("parallel.zero"), or "tags"
  QStringList log_y;     // charts with a log y axis: loss, throughput, step-time, memory, communication, grad-norm
  QString tab;           // settings (default) or plan (the planner against measured, of the first of `runs`)
  QSize size{1400, 900};
};

const std::vector<QString>& screenshotViews();

// Returns 0 on success; otherwise prints why on stderr and returns 1.
int renderScreenshot(const ScreenshotOptions& options);

// Processes events until `done` or `timeout_ms` passes; returns done().
bool waitUntil(const std::function<bool()>& done, int timeout_ms);

}  // namespace behemoth::ui
