// A graceful stop: SIGINT or SIGTERM sets a flag instead of killing the worker; the trainer sees
// it at the next step boundary, agrees with every rank to stop, writes a final checkpoint and
// returns. A second signal falls back to the default action (the launcher's SIGKILL after its
// grace period does the same).
#pragma once

namespace behemoth {

void installStopRequestHandlers();
bool stopRequested();
// Tests: pretend a signal arrived (or clear it).
void setStopRequested(bool requested);

}  // namespace behemoth
