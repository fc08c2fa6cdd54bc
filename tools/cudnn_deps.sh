# Sourced by tools/test.sh (and its test, tools/cudnn_deps_test.sh): decides whether the cudnn
# backend can be built here, looking where CMake's FindCUDAToolkit and cmake/FindCUDNN.cmake look.

# Prints what the cudnn backend lacks, one line each, and nothing when all is there. Searches the
# colon-separated toolkit roots ($1) for bin/nvcc with include/cuda_runtime.h, and the cuDNN roots
# ($2) for include/cudnn_version.h and libcudnn.so under lib64, lib or lib/<multiarch>.
cudnn_backend_missing() {
  local toolkit_roots=$1 cudnn_roots=$2 root toolkit="" header="" library="" lib
  local IFS=:
  for root in $toolkit_roots; do
    if [[ -n $root && -x $root/bin/nvcc && -f $root/include/cuda_runtime.h ]]; then
      toolkit=$root
      break
    fi
  done
  for root in $cudnn_roots; do
    [[ -n $root ]] || continue
    [[ -z $header && -f $root/include/cudnn_version.h ]] && header=$root
    for lib in "$root"/lib64/libcudnn.so "$root"/lib/libcudnn.so "$root"/lib/*-linux-gnu/libcudnn.so; do
      [[ -z $library && -e $lib ]] && library=$lib
    done
  done
  [[ -n $toolkit ]] || echo "the CUDA toolkit (bin/nvcc, include/cuda_runtime.h) in ${toolkit_roots}"
  [[ -n $header ]] || echo "cuDNN's include/cudnn_version.h in ${cudnn_roots}"
  [[ -n $library ]] || echo "cuDNN's libcudnn.so in ${cudnn_roots}"
}

# The roots CMake searches by default: CUDAToolkit_ROOT, CUDA_PATH, the nvcc on PATH and
# /usr/local/cuda for the toolkit; CUDNN_ROOT, those and /usr for cuDNN.
cudnn_default_toolkit_roots() {
  local nvcc_root=""
  if command -v nvcc >/dev/null 2>&1; then nvcc_root=$(dirname "$(dirname "$(command -v nvcc)")"); fi
  echo "${CUDAToolkit_ROOT:-}:${CUDA_PATH:-}:${nvcc_root}:/usr/local/cuda"
}
cudnn_default_roots() { echo "${CUDNN_ROOT:-}:$(cudnn_default_toolkit_roots):/usr"; }

# The -D option tools/test.sh gives the `ci` preset for the cudnn backend: none (the preset's ON)
# when its dependencies are here; otherwise -DSONIC_BACKEND_CUDNN=OFF, after a warning on stderr
# naming what is missing.
cudnn_ci_option() {
  local missing
  missing=$(cudnn_backend_missing "$1" "$2")
  if [[ -n $missing ]]; then
    {
      echo "WARNING: no CUDA toolkit/cuDNN found: the cudnn backend and its tests are SKIPPED"
      echo "WARNING: missing: ${missing//$'\n'/; }"
      echo "WARNING: set CUDAToolkit_ROOT and CUDNN_ROOT to build it"
    } >&2
    echo "-DSONIC_BACKEND_CUDNN=OFF"
  fi
}
