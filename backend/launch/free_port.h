// A TCP port that is free right now on this machine, for the single-node rendezvous.
#pragma once

namespace behemoth {

// Binds port 0 on 127.0.0.1, reads back the port the kernel chose and closes the socket.
// Race: another process may take the port between this call and rank 0 binding it. The window
// is milliseconds and the kernel hands out ephemeral ports round-robin, so it is rare; a rank
// that loses it fails loudly at rendezvous instead of hanging. Throws std::runtime_error.
int pickFreePort();

}  // namespace behemoth
