#!/usr/bin/env bash
# Installs lace's build dependencies (Debian 12 packages) and builds it into build/.
# Used by both README commands and by CI. Safe to run again: apt and cmake skip finished work.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake
  libtorch-dev libopenblas0-pthread          # LibTorch (CPU) and the fast BLAS behind it
  python3-torch python3-numpy python3-pil python3-pytest  # /usr/bin/python3: exporting models, script tests
  libcli11-dev nlohmann-json3-dev libstb-dev libspdlog-dev
  libgtest-dev libbenchmark-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${LACE_CMAKE_ARGS:-}
cmake --build build -j "$(nproc)"
