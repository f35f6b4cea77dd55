// Finding and loading libbehemoth_spm.so (the SentencePiece module) once per process, into a link
// namespace of its own. Looked for at $BEHEMOTH_SPM_MODULE, else beside the running executable,
// else in build/bin under the working directory.
#pragma once

#include <string>

#include "backend/tokenizer/spm_module_abi.h"

namespace behemoth {

// Throws std::runtime_error with one line naming where it looked, or why loading failed.
const BehemothSpmApi& sentencePieceModule();

// Collects what a module callback reports (its `context` is the object).
struct SpmBytes {
  std::string bytes;
  static void sink(void* context, const char* data, size_t size) {
    static_cast<SpmBytes*>(context)->bytes.append(data, size);
  }
};

}  // namespace behemoth
