// The subcommands of the `behemoth` executable, each registered on a CLI11 app by its own file.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace behemoth {

// Each adds its subcommand to `app` and sets `action` to what runs when it is chosen; the action
// returns the process exit code.
void addRunCommand(CLI::App& app, std::function<int()>& action);
void addProfileCommand(CLI::App& app, std::function<int()>& action);
void addWorkerCommand(CLI::App& app, std::function<int()>& action);
void addHistoryCommand(CLI::App& app, std::function<int()>& action);
void addEnvCommand(CLI::App& app, std::function<int()>& action);
void addPlanCommand(CLI::App& app, std::function<int()>& action);
void addCheckpointCommand(CLI::App& app, std::function<int()>& action);
void addTraceCommand(CLI::App& app, std::function<int()>& action);
void addTokenizerCommand(CLI::App& app, std::function<int()>& action);
void addConvertCommand(CLI::App& app, std::function<int()>& action);
void addServeCommand(CLI::App& app, std::function<int()>& action);

}  // namespace behemoth
