#!/usr/bin/env bash
# Sets up a new machine and runs every test: installs the Debian packages (tools/setup.sh), checks
# formatting, builds the `ci` preset (every backend named ON/OFF explicitly) and runs all of its
# CTest tests, then builds the `asan` preset (AddressSanitizer + UBSan) and runs its unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
bash tools/format-check.sh

jobs=$(nproc)
cmake --preset ci
cmake --build --preset ci -j "$jobs"
ctest --preset ci

cmake --preset asan
cmake --build --preset asan -j "$jobs"
ctest --preset asan-unit
