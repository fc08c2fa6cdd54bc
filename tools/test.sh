#!/usr/bin/env bash
# Sets up a new machine and runs every test: installs the Debian packages (tools/setup.sh), checks
# formatting, builds the `ci` preset (every backend named ON/OFF explicitly) and runs all of its
# CTest tests, runs clang-tidy over the project's sources with the ci build's compile database
# (tools/tidy.sh), then builds the `asan` preset (AddressSanitizer + UBSan) and runs its unit tests.
# Without the CUDA toolkit and cuDNN (looked for where CMake looks; CUDAToolkit_ROOT and CUDNN_ROOT
# come first) the cudnn backend is configured OFF, and a warning says so before and after the run.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/cudnn_deps.sh

bash tools/setup.sh
bash tools/format-check.sh

cudnn_option=$(cudnn_ci_option "$(cudnn_default_toolkit_roots)" "$(cudnn_default_roots)")
jobs=$(nproc)
cmake --preset ci ${cudnn_option:+"$cudnn_option"}
cmake --build --preset ci -j "$jobs"
ctest --preset ci
bash tools/tidy.sh

cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan-unit

if [[ -n $cudnn_option ]]; then
  echo "WARNING: the cudnn backend and its tests were SKIPPED: no CUDA toolkit/cuDNN found" >&2
fi
