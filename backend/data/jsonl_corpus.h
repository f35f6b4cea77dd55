// JSONL corpora: one document per line, a JSON object whose "text" string is the document (the
// format of most published pretraining sets). Other fields are ignored; blank lines are skipped.
#pragma once

#include <string>

#include "backend/data/corpus.h"

namespace behemoth {

// Whether `path` is read as JSONL (its name ends in ".jsonl").
bool isJsonlFile(const std::string& path);

// Appends every document of `content` (the text of the file `path`) to `corpus`: its start to
// documentStarts, its text and a line break to bytes. Throws std::invalid_argument
// ("data.corpus: PATH:LINE: ...") for a line that is not a JSON object or lacks a "text" string.
void appendJsonlDocuments(const std::string& path, const std::string& content, Corpus& corpus);

}  // namespace behemoth
