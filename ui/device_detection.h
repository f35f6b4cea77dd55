// "Detect this machine": the devices `behemoth env --json` reports, as the project's `devices`
// section. GPUs when the engine sees any; otherwise one CPU process per core, each with an equal
// share of the host memory. The engine is asked (not Qt) so the Studio shows what a run would get.
#pragma once

#include <QObject>
#include <QProcess>
#include <QString>

#include <nlohmann/json.hpp>
#include <optional>

namespace behemoth::ui {

struct DetectedDevices {
  nlohmann::json devices;  // {"kind", "count", "memory_gb", "per_node"[, "name"]}
  QString summary;         // one line for the status bar ("2 CPU cores, 23.5 GB")
};

// From the engine's environment report; nullopt when it lacks what is needed.
std::optional<DetectedDevices> devicesFromEnvironment(const nlohmann::json& environment);

// Runs `ENGINE env --json` in the background and reports once.
class DeviceDetector : public QObject {
  Q_OBJECT

 public:
  explicit DeviceDetector(QObject* parent = nullptr);
  void start(const QString& engine);
  bool busy() const { return process_.state() != QProcess::NotRunning; }

 signals:
  void detected(const nlohmann::json& devices, const QString& summary);
  void failed(const QString& message);

 private:
  QProcess process_;
};

}  // namespace behemoth::ui
