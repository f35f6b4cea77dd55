// Reading the project a command was given: the file, then every --set override, then validation.
#pragma once

#include <string>
#include <vector>

#include "backend/project/project.h"

namespace behemoth {

// Loads PATH, applies `overrides` ("key=value"), parses and validates for `world_size` ranks, and
// (with `check_corpus`) opens the tokenizer and reads (and tokenizes) the corpus to check them
// against the project. Throws
// std::invalid_argument naming the file and the field.
enum class CorpusCheck { read_and_check, skip };
Project readProject(const std::string& path, const std::vector<std::string>& overrides, int world_size,
                    CorpusCheck corpus_check = CorpusCheck::read_and_check);

// The two halves of readProject: the file with its overrides parsed, and a parsed project (its
// plan changed, say) validated for `world_size`. Errors name the file.
Project parseProject(const std::string& path, const std::vector<std::string>& overrides);
Project validatedProject(Project project, const std::string& path, int world_size,
                         CorpusCheck corpus_check = CorpusCheck::read_and_check);

// Writes text to `path` atomically and durably (writeFileDurably: temporary file fsynced, renamed).
void writeFileAtomically(const std::string& path, const std::string& text);

}  // namespace behemoth
