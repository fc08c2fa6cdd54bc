#!/usr/bin/env bash
# Installs every Debian package sonicbench needs to build, test, benchmark and plot. Idempotent:
# packages already present are left alone. Run as root (or with sudo available).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ git pkg-config clang-format clang-tidy
  # product dependencies
  libcli11-dev libfmt-dev libhdf5-dev libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  libopenmpi-dev openmpi-bin prometheus-cpp-dev libssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libonnx-testdata
  python3-torch python3-torchvision python3-onnx python3-numpy python3-venv python3-pandas
  python3-tables python3-sklearn iperf3 prometheus openssl
  # plots (run with /usr/bin/python3)
  python3-matplotlib python3-h5py
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
