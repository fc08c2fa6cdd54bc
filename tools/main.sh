#!/usr/bin/env bash
# The main job on a new machine: installs the Debian packages, builds the release preset, runs
# the sweep in configs/main.conf on the embedded default (ResNet-50 on oneDNN in the process and
# behind the built-in KServe v2 server on loopback, edge and cloud links), draws the figures and
# the report, and prints where they are. Usage: tools/main.sh [OUT_DIR] (default: out/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}

bash tools/setup.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"

bin=build/release/bench/cli/sonicbench
mkdir -p "$out"
"$bin" sysinfo
# The paper's clients sent jet images: a synthetic top-tagging sample in the public dataset's layout.
"$bin" dataset generate --kind top-tagging --jets 512 --seed 1 --out "$out/jets.h5"
"$bin" sweep --config configs/main.conf --inputs "$out/jets.h5" --out "$out/main.h5"
"$bin" report "$out/main.h5"
"$bin" plot "$out/main.h5" --out "$out/figures" >/dev/null

echo
echo "results: $(realpath "$out/main.h5")"
echo "figures: $(realpath "$out/figures")/"
echo "report:  $(realpath "$out/figures/report.md")"
