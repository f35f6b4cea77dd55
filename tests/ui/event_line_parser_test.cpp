// The engine's event lines are parsed on a thread of their own and delivered in order, text lines
// and malformed JSON as log text, and a drain answers only after every line given before it.
#include <QCoreApplication>
#include <QThread>
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "tests/ui/ui_test_support.h"
#include "ui/event_line_parser.h"

namespace behemoth::ui {
namespace {

TEST(EventLineStream, ParsesOffTheWindowThreadInOrderAndDrainsAfterTheLastLine) {
  EventLineStream stream;
  std::vector<int> steps;
  QStringList texts;
  std::atomic<bool> parsed_elsewhere{true};
  int drained = -1;
  QObject receiver;
  // Direct: runs where the parser emits (its own thread).
  QObject::connect(stream.parser(), &EventLineParser::parsed, stream.parser(), [&](const nlohmann::json&) {
    if (QThread::currentThread() == QCoreApplication::instance()->thread()) parsed_elsewhere = false;
  }, Qt::DirectConnection);
  QObject::connect(stream.parser(), &EventLineParser::parsed, &receiver, [&](const nlohmann::json& event) {
    steps.push_back(event.at("step").get<int>());
  });
  QObject::connect(stream.parser(), &EventLineParser::text, &receiver, [&](const QString& line) { texts << line; });
  QObject::connect(stream.parser(), &EventLineParser::drained, &receiver, [&](int token) {
    EXPECT_EQ(steps.size(), 500u) << "drained before the last event arrived";
    drained = token;
  });

  QByteArray chunk;
  for (int step = 1; step <= 500; ++step) {
    chunk += QByteArray("{\"event\": \"step\", \"step\": ") + QByteArray::number(step) + "}\n";
    if (step == 250) chunk += "  a worker's plain text line  \n{\"broken\": \n\n";
    if (step % 50 == 0) {
      stream.give(chunk);
      chunk.clear();
    }
  }
  stream.drain(7);
  ASSERT_TRUE(waitUntil([&] { return drained == 7; }, 10000));
  ASSERT_EQ(steps.size(), 500u);
  for (int k = 0; k < 500; ++k) EXPECT_EQ(steps[k], k + 1);
  EXPECT_EQ(texts, (QStringList{"a worker's plain text line", "{\"broken\":"}));
  EXPECT_TRUE(parsed_elsewhere);
}

}  // namespace
}  // namespace behemoth::ui
