// The engine's output lines turned into events on a thread of their own, so a fast stream of
// large events (a 64-rank run's per-rank arrays) never costs the window's thread the JSON parsing:
// the window only draws. Lines are handled in the order they were given; drain() answers after
// every line given before it.
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QThread>

#include <nlohmann/json.hpp>

namespace behemoth::ui {

// Lives on the parser thread; EventLineStream below owns it.
class EventLineParser : public QObject {
  Q_OBJECT

 public slots:
  // Complete lines, '\n'-separated (a trailing part without one is a line too).
  void parseLines(const QByteArray& lines);
  void drain(int token);

 signals:
  void parsed(const nlohmann::json& event);
  void text(const QString& line);  // not a JSON object: shown as log output
  void drained(int token);
};

// The parser and its thread (stopped and joined on destruction).
class EventLineStream : public QObject {
  Q_OBJECT

 public:
  explicit EventLineStream(QObject* parent = nullptr);
  ~EventLineStream() override;

  void give(const QByteArray& lines);
  void drain(int token);
  EventLineParser* parser() const { return parser_; }

 private:
  QThread thread_;
  EventLineParser* parser_;  // owned by thread_ (deleted when it finishes)
};

}  // namespace behemoth::ui
