#include "ui/event_line_parser.h"

#include <QMetaObject>

namespace behemoth::ui {

void EventLineParser::parseLines(const QByteArray& lines) {
  for (const QByteArray& raw : lines.split('\n')) {
    const QByteArray line = raw.trimmed();
    if (line.isEmpty()) continue;
    if (!line.startsWith('{')) {
      emit text(QString::fromUtf8(line));
      continue;
    }
    try {
      emit parsed(nlohmann::json::parse(line.constData(), line.constData() + line.size()));
    } catch (const nlohmann::json::exception&) {
      emit text(QString::fromUtf8(line));
    }
  }
}

void EventLineParser::drain(int token) { emit drained(token); }

EventLineStream::EventLineStream(QObject* parent) : QObject(parent), parser_(new EventLineParser) {
  qRegisterMetaType<nlohmann::json>("nlohmann::json");
  parser_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, parser_, &QObject::deleteLater);
  thread_.setObjectName(QStringLiteral("event parser"));
  thread_.start();
}

EventLineStream::~EventLineStream() {
  thread_.quit();
  thread_.wait();
}

void EventLineStream::give(const QByteArray& lines) {
  QMetaObject::invokeMethod(parser_, "parseLines", Qt::QueuedConnection, Q_ARG(QByteArray, lines));
}

void EventLineStream::drain(int token) {
  QMetaObject::invokeMethod(parser_, "drain", Qt::QueuedConnection, Q_ARG(int, token));
}

}  // namespace behemoth::ui
