// Signal numbers as people read them in error messages.
#pragma once

#include <string>

namespace behemoth {

// "SIGKILL" for 9; "signal 42" for numbers without a well-known name.
std::string signalName(int signal_number);

}  // namespace behemoth
