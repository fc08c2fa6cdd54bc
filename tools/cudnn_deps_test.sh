#!/usr/bin/env bash
# Test of tools/cudnn_deps.sh: toolkit and cuDNN layouts built in a scratch folder stand for a
# machine with them, without them, and with the toolkit only.
set -euo pipefail
source "$(dirname "$0")/cudnn_deps.sh"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failures=0
expect() {  # expect DESCRIPTION ACTUAL EXPECTED
  if [[ $2 != "$3" ]]; then
    echo "FAIL: $1: got [$2], expected [$3]"
    failures=$((failures + 1))
  fi
}
expect_match() {  # expect_match DESCRIPTION ACTUAL REGEX
  if [[ ! $2 =~ $3 ]]; then
    echo "FAIL: $1: [$2] does not match [$3]"
    failures=$((failures + 1))
  fi
}

empty=$scratch/empty
cuda=$scratch/cuda       # the toolkit, cuDNN installed into it (NVIDIA's tarball layout)
toolkit=$scratch/toolkit # the toolkit alone
debian=$scratch/usr      # cuDNN from Debian-style packages
mkdir -p "$empty" "$cuda"/{bin,include,lib64} "$toolkit"/{bin,include} \
  "$debian"/include "$debian"/lib/x86_64-linux-gnu
for root in "$cuda" "$toolkit"; do
  printf '#!/bin/sh\n' >"$root/bin/nvcc"
  chmod +x "$root/bin/nvcc"
  touch "$root/include/cuda_runtime.h"
done
touch "$cuda/include/cudnn_version.h" "$cuda/lib64/libcudnn.so" \
  "$debian/include/cudnn_version.h" "$debian/lib/x86_64-linux-gnu/libcudnn.so"

expect "all present" "$(cudnn_backend_missing "$empty:$cuda" "$empty:$cuda")" ""
expect "cuDNN from another root" "$(cudnn_backend_missing "$toolkit" "$toolkit:$debian")" ""
expect_match "nothing installed" "$(cudnn_backend_missing "$empty" "$empty")" \
  "CUDA toolkit.*"$'\n'".*cudnn_version.h.*"$'\n'".*libcudnn.so"
expect_match "toolkit without cuDNN" "$(cudnn_backend_missing "$toolkit" "$toolkit")" \
  "^cuDNN's include/cudnn_version.h"
# A non-executable nvcc is no toolkit.
chmod -x "$toolkit/bin/nvcc"
expect_match "nvcc not executable" "$(cudnn_backend_missing "$toolkit" "$debian")" "^the CUDA toolkit"

# What tools/test.sh passes to `cmake --preset ci`, and what it says.
expect "ci option with everything" "$(cudnn_ci_option "$cuda" "$cuda" 2>"$scratch/stderr")" ""
expect "no warning with everything" "$(cat "$scratch/stderr")" ""
expect "ci option without CUDA" "$(cudnn_ci_option "$empty" "$empty" 2>"$scratch/stderr")" \
  "-DSONIC_BACKEND_CUDNN=OFF"
expect_match "loud warning without CUDA" "$(cat "$scratch/stderr")" \
  "WARNING: no CUDA toolkit/cuDNN found: the cudnn backend and its tests are SKIPPED"

# The defaults honour CUDAToolkit_ROOT and CUDNN_ROOT first.
expect_match "default toolkit roots" "$(CUDAToolkit_ROOT=$toolkit cudnn_default_toolkit_roots)" \
  "^$toolkit:.*:/usr/local/cuda$"
expect_match "default cuDNN roots" "$(CUDNN_ROOT=$debian cudnn_default_roots)" "^$debian:.*:/usr$"

if ((failures)); then exit 1; fi
echo "cudnn_deps_test: ok"
