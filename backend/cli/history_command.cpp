// `behemoth history [list|show ID [--vs-plan]|compare ID ID|export ID --format csv|jsonl|delete ID|
// tag ID TAG...]`: the runs recorded in the SQLite history (docs/history.md).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "backend/cli/commands.h"
#include "backend/cli/project_input.h"
#include "backend/history/history_format.h"
#include "backend/history/history_store.h"
#include "backend/history/run_export.h"
#include "backend/planning/run_against_plan.h"

namespace behemoth {

namespace {

struct HistoryOptions {
  std::string database;  // empty: HistoryStore::defaultPath()
  std::string filter;
  int limit = 0;
  std::vector<std::int64_t> ids;
  std::vector<std::string> tags;
  bool vs_plan = false;
  std::string format = "csv";
  std::string output;  // empty: standard output
};

HistoryStore openStore(const HistoryOptions& options) {
  return HistoryStore(options.database.empty() ? HistoryStore::defaultPath() : options.database);
}

RunDetails requireRun(HistoryStore& store, std::int64_t id) {
  auto details = store.getRun(id);
  if (!details) throw std::invalid_argument("history: no run with id " + std::to_string(id));
  return *details;
}

}  // namespace

void addHistoryCommand(CLI::App& app, std::function<int()>& action) {
  auto options = std::make_shared<HistoryOptions>();
  CLI::App* history = app.add_subcommand("history", "Runs recorded in the history database");
  history->add_option("--db", options->database, "History database (default: $BEHEMOTH_HISTORY or ~/.local/share/behemoth)");
  history->require_subcommand(0, 1);

  CLI::App* list = history->add_subcommand("list", "List runs, newest first");
  list->add_option("--filter", options->filter, "Only runs whose name, tags or outcome contain this text");
  list->add_option("--limit", options->limit, "At most this many runs");
  CLI::App* show = history->add_subcommand("show", "A run's plan, summary and logged steps");
  show->add_option("id", options->ids, "Run id")->required()->expected(1);
  show->add_flag("--vs-plan", options->vs_plan,
                 "Also the planner's estimate for the run's plan and device beside what it measured, per rank");
  CLI::App* compare = history->add_subcommand("compare", "Two runs side by side");
  compare->add_option("ids", options->ids, "Two run ids")->required()->expected(2);
  CLI::App* exported = history->add_subcommand("export", "A run's logged steps as CSV or JSON lines");
  exported->add_option("id", options->ids, "Run id")->required()->expected(1);
  exported->add_option("--format", options->format, "csv (one column per metric) or jsonl (one step event per line)");
  exported->add_option("--output,-o", options->output, "Write this file (atomically) instead of standard output");
  CLI::App* remove = history->add_subcommand("delete", "Delete a run from the history");
  remove->add_option("id", options->ids, "Run id")->required()->expected(1);
  CLI::App* tag = history->add_subcommand("tag", "Set a run's tags");
  tag->add_option("id", options->ids, "Run id")->required()->expected(1);
  tag->add_option("tags", options->tags, "Tags (none clears them)");

  history->callback([&action, options, list, show, compare, exported, remove, tag] {
    action = [=] {
      HistoryStore store = openStore(*options);
      // A run whose launcher vanished (SIGKILL, a crash) is shown as lost, not as running forever.
      if (!remove->parsed() && !tag->parsed()) store.markLostRuns();
      if (show->parsed()) {
        const RunDetails details = requireRun(store, options->ids.at(0));
        std::cout << formatRunDetails(details);
        if (options->vs_plan) std::cout << "\n" << formatRunAgainstPlan(compareRunWithPlan(details));
      } else if (exported->parsed()) {
        const ExportFormat format = exportFormatFromName(options->format);
        const RunDetails details = requireRun(store, options->ids.at(0));
        const std::string text = format == ExportFormat::csv ? runToCsv(details) : runToJsonLines(details);
        if (options->output.empty()) {
          std::cout << text;
        } else {
          writeFileAtomically(options->output, text);
        }
      } else if (compare->parsed()) {
        std::cout << formatRunComparison(requireRun(store, options->ids.at(0)), requireRun(store, options->ids.at(1)));
      } else if (remove->parsed()) {
        if (!store.deleteRun(options->ids.at(0))) {
          throw std::invalid_argument("history: no run with id " + std::to_string(options->ids.at(0)));
        }
        std::cout << "deleted run " << options->ids.at(0) << "\n";
      } else if (tag->parsed()) {
        requireRun(store, options->ids.at(0));
        store.setTags(options->ids.at(0), options->tags);
      } else {
        (void)list;
        std::cout << formatRunList(store.listRuns(options->filter, RunOrder::newest_first, options->limit));
      }
      return 0;
    };
  });
}

}  // namespace behemoth
