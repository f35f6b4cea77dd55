// Byte-level BPE's pre-tokenization: the text is cut into pieces by a regular expression before
// merges apply, so no token spans two words. The two expressions published byte-level BPE models
// use are written out by hand (the regex libraries here do not handle \p{L} / \p{N}):
//   GPT-2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   LLaMA-3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//            \s*[\r\n]+|\s+(?!\S)|\s+
// Matched leftmost-first, as a backtracking engine does. The case-insensitive contractions are
// folded for ASCII only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace behemoth {

enum class PretokenizerPattern { kGpt2, kLlama3 };

// The pattern whose expression is exactly `regex` (as tokenizer.json spells it), if it is one of the two.
std::optional<PretokenizerPattern> pretokenizerPatternFor(const std::string& regex);
std::string pretokenizerRegex(PretokenizerPattern pattern);

// Calls `piece` on each piece of `text` in order; together they are exactly `text`.
void pretokenize(std::string_view text, PretokenizerPattern pattern,
                 const std::function<void(std::string_view)>& piece);

}  // namespace behemoth
