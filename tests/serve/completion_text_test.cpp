// What a client sees of the generated tokens: text as soon as it is certain, never part of a stop
// string or of a UTF-8 character, and nothing after a stop string.
#include <gtest/gtest.h>

#include "backend/serve/completion_stream.h"
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

// A connection whose thread wakes late still gets one piece per token, in order, and the end only
// with the last piece (it was seen as one coalesced event under load).
TEST(CompletionStream, EachTokensTextIsItsOwnPieceHoweverLateTheConnectionWakes) {
  const auto bytes = openTokenizer("byte");
  CompletionStream stream(*bytes, {});
  for (const char byte : std::string("abc")) stream.onToken(static_cast<unsigned char>(byte));
  stream.onFinish(FinishReason::length);
  std::vector<std::string> texts;
  std::optional<FinishReason> finish;
  for (int k = 0; k < 3; ++k) {
    const CompletionStream::Piece piece = stream.wait(std::chrono::milliseconds(0));
    texts.push_back(piece.text);
    finish = piece.finish;
    EXPECT_EQ(piece.finish.has_value(), k == 2) << "piece " << k;
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(finish, FinishReason::length);
  EXPECT_EQ(stream.generatedTokens(), 3);
}

}  // namespace
}  // namespace behemoth
