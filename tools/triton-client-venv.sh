#!/usr/bin/env bash
# Creates (or reuses) the test-only virtual environment holding Triton's Python gRPC client,
# pinned, for the service interoperability test. Never a dependency of the product.
#   tools/triton-client-venv.sh VENV_DIR
# Exit status: 0 when VENV_DIR/bin/python can import tritonclient.grpc; 77 when PyPI cannot be
# reached (the caller skips with that message); 1 on any other failure.
set -euo pipefail

venv=${1:?usage: tools/triton-client-venv.sh VENV_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
requirements="$here/triton-client-requirements.txt"
stamp="$venv/.sonic-requirements"

if [[ -x "$venv/bin/python" && -f "$stamp" ]] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi

# Debian's interpreter, not whatever python3 is first on PATH (DESIGN.md).
/usr/bin/python3 -m venv --clear "$venv"
log="$venv/pip-install.log"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
     --timeout 30 --retries 2 -r "$requirements" >"$log" 2>&1; then
  if grep -qiE "Could not find a version|No matching distribution|connection|network|resolve|timed out" "$log" \
     && ! "$venv/bin/python" -m pip download --no-deps --quiet --dest "$venv/probe" pip >/dev/null 2>&1; then
    echo "triton-client-venv: PyPI is unreachable; cannot install tritonclient (see $log)" >&2
    exit 77
  fi
  echo "triton-client-venv: pip install failed (see $log):" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
"$venv/bin/python" -c "import tritonclient.grpc, tritonclient.utils.shared_memory"
cp "$requirements" "$stamp"
echo "triton-client-venv: ready in $venv"
