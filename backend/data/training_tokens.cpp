#include "backend/data/training_tokens.h"

#include "backend/data/token_cache.h"

namespace behemoth {

namespace fs = std::filesystem;

bool usesByteTokenizer(const DataConfig& data) { return data.tokenizer == "byte"; }

fs::path tokenCacheFolder(const std::string& out_dir) {
  fs::path run = fs::absolute(out_dir).lexically_normal();
  if (!run.has_filename()) run = run.parent_path();  // "runs/a/" names the folder "a"
  return run.parent_path() / "token-cache";
}

TrainingTokens trainingTokens(const Project& project, std::shared_ptr<const Corpus> corpus, const Tokenizer& tokenizer,
                              bool show_progress) {
  TrainingTokens tokens;
  tokens.tokenizer = tokenizer.kind();
  if (usesByteTokenizer(project.data)) {
    tokens.summary = "data: byte tokenizer, " + std::to_string(corpus->size()) + " tokens (one per byte of " +
                     corpus->source + ")";
    tokens.ids = corpusBytes(std::move(corpus));
    return tokens;
  }
  const TokenCache cache = openTokenCache(*corpus, tokenizer, tokenCacheFolder(project.train.out_dir), show_progress);
  tokens.ids = cache.tokens;
  tokens.summary = "data: " + tokenizer.kind() + " tokenizer " + project.data.tokenizer + ", " +
                   std::to_string(cache.tokens->size()) + " tokens from " + std::to_string(corpus->size()) + " bytes of " +
                   corpus->source + "; token cache " + cache.path.string() +
                   (cache.built ? (cache.rebuilt_because.empty() ? " (written)" : " (written again, the old one was refused: " + cache.rebuilt_because + ")")
                                : " (reused)");
  return tokens;
}

}  // namespace behemoth
