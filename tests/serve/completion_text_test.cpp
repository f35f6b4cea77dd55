// What a client sees of the generated tokens: text as soon as it is certain, never part of a stop
// string or of a UTF-8 character, and nothing after a stop string.
#include <gtest/gtest.h>

#include "backend/serve/completion_text.h"

namespace behemoth {
namespace {

std::vector<std::string> feed(CompletionText& text, const std::string& bytes) {
  std::vector<std::string> pieces;
  for (const char byte : bytes) pieces.push_back(text.add(static_cast<unsigned char>(byte)));
  pieces.push_back(text.flush());
  return pieces;
}

TEST(CompletionText, ShowsEachByteAtOnceWithoutStops) {
  const auto bytes = openTokenizer("byte");
  CompletionText text(*bytes, {});
  EXPECT_EQ(feed(text, "abc"), (std::vector<std::string>{"a", "b", "c", ""}));
}

TEST(CompletionText, EndsBeforeAStopStringThatArrivesAcrossTokens) {
  const auto bytes = openTokenizer("byte");
  CompletionText text(*bytes, {"END", "\n\n"});
  EXPECT_EQ(feed(text, "hi ENxEND more"), (std::vector<std::string>{"h", "i", " ", "", "", "ENx", "", "", "", "", "", "", "", "", ""}));
  EXPECT_TRUE(text.stopped());
  EXPECT_EQ(text.shown(), "hi ENx");
}

TEST(CompletionText, HoldsAnUnfinishedUtf8CharacterBack) {
  const auto bytes = openTokenizer("byte");
  CompletionText text(*bytes, {});
  // "é" is C3 A9, "€" is E2 82 AC.
  EXPECT_EQ(feed(text, "\xC3\xA9\xE2\x82\xAC!"), (std::vector<std::string>{"", "\xC3\xA9", "", "", "\xE2\x82\xAC", "!", ""}));
}

TEST(CompletionText, FlushShowsWhatWasHeldBackWhenGenerationEnds) {
  const auto bytes = openTokenizer("byte");
  CompletionText text(*bytes, {"STOP"});
  EXPECT_EQ(feed(text, "aST"), (std::vector<std::string>{"a", "", "", "ST"}));
  EXPECT_FALSE(text.stopped());
}

}  // namespace
}  // namespace behemoth
