#!/usr/bin/env bash
# Installs the Debian 12 packages Behemoth needs to build, test and benchmark. Safe to run again:
# only missing packages are installed. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libgloo-dev            # the engine (LibTorch 1.13 CPU, c10d gloo)
  libopenblas0-serial                 # a real BLAS for LibTorch (Debian's default, reference BLAS, is ~7x slower);
                                      # serial, because every rank runs one math thread
  nlohmann-json3-dev libcli11-dev libsqlite3-dev
  libxxhash-dev                       # checkpoint checksums (xxHash)
  libsentencepiece-dev sentencepiece  # SentencePiece tokenizers (data.tokenizer, behemoth tokenizer train)
  python3-sentencepiece               # the independent tokenizer check and the speed baseline
  libgtest-dev libgmock-dev libbenchmark-dev
  qt6-base-dev libqcustomplot-dev xvfb xauth   # the Studio and its offscreen/GUI tests
  qt6-svg-dev                         # the Studio's SVG export of charts
  fonts-dejavu-core                   # readable text in offscreen renders and screenshots
  libcpp-httplib-dev                   # behemoth serve's HTTP server
  python3-torch                        # the PyTorch baseline the benchmarks compare against
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: every package is present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
