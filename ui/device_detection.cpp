#include "ui/device_detection.h"

#include <cmath>

namespace behemoth::ui {

std::optional<DetectedDevices> devicesFromEnvironment(const nlohmann::json& environment) {
  try {
    const nlohmann::json& cuda = environment.at("cuda");
    const int gpus = cuda.value("devices", 0);
    if (cuda.value("available", false) && gpus > 0) {
      // The engine does not report GPU memory: keep the kind's default (devices.memory_gb 0).
      DetectedDevices found;
      found.devices = {{"kind", "cuda"}, {"count", gpus}, {"memory_gb", 0.0}, {"per_node", gpus}};
      found.summary = QObject::tr("%1 CUDA GPU(s) on this machine").arg(gpus);
      return found;
    }
    const nlohmann::json& cpu = environment.at("cpu");
    const int cores = cpu.at("cores").get<int>();
    const double memory = cpu.at("memory_gib").get<double>() * 1.073741824;  // GiB -> GB
    if (cores < 1 || memory <= 0.0) return std::nullopt;
    // Every worker process is one "device" sharing the host memory.
    const double share = std::floor(memory / cores * 10.0) / 10.0;
    DetectedDevices found;
    found.devices = {{"kind", "cpu"}, {"count", cores}, {"memory_gb", share}, {"per_node", cores}};
    found.summary = QObject::tr("%1 CPU cores, %2 GB (%3 GB per process)")
                        .arg(cores)
                        .arg(memory, 0, 'f', 1)
                        .arg(share, 0, 'f', 1);
    return found;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

DeviceDetector::DeviceDetector(QObject* parent) : QObject(parent) {
  connect(&process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    const QByteArray output = process_.readAllStandardOutput();
    if (status != QProcess::NormalExit || code != 0) {
      emit failed(tr("Device detection failed: %1 env exited with %2: %3")
                      .arg(process_.program())
                      .arg(code)
                      .arg(QString::fromLocal8Bit(process_.readAllStandardError()).trimmed()));
      return;
    }
    const nlohmann::json report = nlohmann::json::parse(output.toStdString(), nullptr, /*allow_exceptions=*/false);
    const std::optional<DetectedDevices> found = devicesFromEnvironment(report);
    if (!found) {
      emit failed(tr("Device detection failed: %1 env --json did not describe the devices").arg(process_.program()));
      return;
    }
    emit detected(found->devices, found->summary);
  });
  connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
    if (error == QProcess::FailedToStart) {
      emit failed(tr("Device detection failed: could not start %1: %2").arg(process_.program(), process_.errorString()));
    }
  });
}

void DeviceDetector::start(const QString& engine) {
  if (busy()) return;
  process_.start(engine, {QStringLiteral("env"), QStringLiteral("--json")});
}

}  // namespace behemoth::ui
