// Helpers of the Studio's widget tests: fixtures on disk, waiting for background work.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QString>

#include <nlohmann/json.hpp>
#include <string>

#include "ui/estimate_service.h"
#include "ui/screenshot.h"

namespace behemoth::ui::testing {

inline QString sourceDir() {
  const QByteArray dir = qgetenv("BEHEMOTH_SOURCE");
  return dir.isEmpty() ? QStringLiteral(BEHEMOTH_TEST_SOURCE_DIR) : QString::fromLocal8Bit(dir);
}

inline QString engineBinary() {
  const QByteArray dir = qgetenv("BEHEMOTH_BIN");
  return (dir.isEmpty() ? QStringLiteral(BEHEMOTH_TEST_BIN_DIR) : QString::fromLocal8Bit(dir)) + QStringLiteral("/behemoth");
}

inline void writeText(const QString& path, const std::string& text) {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) throw std::runtime_error("cannot write " + path.toStdString());
  file.write(text.data(), static_cast<qint64>(text.size()));
}

// The tiny CPU project the tests edit (the shipped default's sizes).
inline nlohmann::json tinyProject() {
  return nlohmann::json::parse(R"({
    "name": "tiny",
    "model": {"arch": "gpt", "n_layer": 2, "n_head": 4, "d_model": 128, "seq_len": 64, "vocab_size": 256},
    "data": {"corpus": "builtin", "global_batch_size": 16},
    "devices": {"kind": "cpu", "count": 2},
    "parallel": {"dp": -1, "tp": 1, "pp": 1, "sp": 1, "zero": 0},
    "precision": "fp32",
    "train": {"steps": 20, "log_every": 5, "out_dir": "runs/tiny"}
  })");
}

// Waits until the service has no work left and has produced an analysis newer than `before`.
inline AnalysisPtr waitForAnalysis(EstimateService& service, const AnalysisPtr& before = nullptr, int timeout_ms = 10000) {
  waitUntil([&] { return service.latest() && service.latest() != before && !service.busy(); }, timeout_ms);
  return service.latest();
}

}  // namespace behemoth::ui::testing
