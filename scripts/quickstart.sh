#!/usr/bin/env bash
# The main job of the README: installs what is missing, builds, trains the default project on the
# built-in corpus with 2 worker processes, and opens the Studio on it where a display exists.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./build/bin/behemoth run projects/default.json --nproc 2
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/bin/behemoth-studio ]; then
  exec ./build/bin/behemoth-studio projects/default.json
fi
