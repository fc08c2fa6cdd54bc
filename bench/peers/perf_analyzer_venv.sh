# Sourced by bench/peers/perf_analyzer*.sh: installs Triton's perf_analyzer from PyPI, pinned, into
# a virtual environment (.venv-perf-analyzer at the repository root), for benchmarking and
# checking only -- never a dependency of the product -- and sets $perf_analyzer to its binary,
# with LD_LIBRARY_PATH exported so that it runs. Needs $repo. Exits 1 when it cannot run here.
#  - first choice: the `perf-analyzer` wheel ($PERF_ANALYZER_VERSION). Its only builds are
#    manylinux_2_38: the binary needs glibc 2.38 (`__isoc23_strtol` & co.) and GCC 13's
#    libstdc++ (GLIBCXX_3.4.31/32); pip rejects them on Debian 12 (glibc 2.36, GCC 12).
#  - otherwise: perf_analyzer $TRITONCLIENT_VERSION as the tritonclient wheel of that version
#    shipped it (bin/perf_analyzer, built for glibc 2.35). It links libb64.so.0d (Debian's
#    libb64-0d, unpacked into the venv with `apt-get download`, not installed) and
#    libcudart.so.12 (PyPI's nvidia-cuda-runtime-cu12, pinned; no GPU is used).

PERF_ANALYZER_VERSION=2.60.0
TRITONCLIENT_VERSION=2.47.0
CUDA_RUNTIME_VERSION=12.4.127
LIBB64_VERSION=1.2-5+b1

venv=$repo/.venv-perf-analyzer
pip_quiet=(--quiet --disable-pip-version-check --no-input)
[[ -x $venv/bin/python ]] || /usr/bin/python3 -m venv "$venv"
perf_analyzer=$venv/bin/perf_analyzer
libs=$venv/native-libs
if [[ ! -x $perf_analyzer ]]; then
  if "$venv/bin/pip" install "${pip_quiet[@]}" "perf-analyzer==$PERF_ANALYZER_VERSION" 2>/dev/null; then
    echo "$(basename "$0"): perf-analyzer $PERF_ANALYZER_VERSION from PyPI"
  else
    echo "$(basename "$0"): PyPI's perf-analyzer $PERF_ANALYZER_VERSION has only manylinux_2_38" \
      "builds (glibc $(ldd --version | head -1 | awk '{print $NF}') here); using the perf_analyzer" \
      "of tritonclient $TRITONCLIENT_VERSION"
    "$venv/bin/pip" install "${pip_quiet[@]}" --no-deps "tritonclient==$TRITONCLIENT_VERSION" \
      "nvidia-cuda-runtime-cu12==$CUDA_RUNTIME_VERSION"
    mkdir -p "$libs"
    cp "$venv"/lib/python3*/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12 "$libs/"
    deb_dir=$(mktemp -d)
    (cd "$deb_dir" && apt-get download "libb64-0d=$LIBB64_VERSION" >/dev/null 2>&1) || {
      echo "$(basename "$0"): apt-get download libb64-0d=$LIBB64_VERSION failed" >&2; exit 1; }
    dpkg -x "$deb_dir"/libb64-0d_*.deb "$deb_dir/root"
    cp "$deb_dir"/root/usr/lib/x86_64-linux-gnu/libb64.so.0d* "$libs/"
    rm -rf "$deb_dir"
  fi
fi
export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if missing=$(ldd "$perf_analyzer" 2>&1 | grep -E "not found"); then
  echo "$(basename "$0"): $perf_analyzer cannot run here, missing: $missing" >&2
  exit 1
fi
echo "$(basename "$0"): $("$perf_analyzer" --version 2>&1 | head -1)"
