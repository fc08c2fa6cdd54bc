#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy) over the project's own sources, the files of the
# `ci` build's compile_commands.json under backends/ bench/ core/ datasets/ models/ results/
# service/, and fails on any finding. Needs build/ci configured and built (the generated headers):
# tools/test.sh runs it after the ci build and its tests. Prints each finding once (a header's
# appears once per file that includes it), then a one-line summary.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f build/ci/compile_commands.json ]]; then
  echo "tidy: build/ci/compile_commands.json is missing: configure and build the ci preset" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run-clang-tidy -p build/ci -quiet -j "$(nproc)" \
  "^$PWD/(backends|bench|core|datasets|models|results|service)/" >"$log" 2>&1 || status=$?
# run-clang-tidy always asks clang-tidy for colour: strip it, and show paths from the repository.
sed -i -e 's/\x1b\[[0-9;]*m//g' -e "s|^$PWD/||" "$log"
mapfile -t findings < <(grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning):' "$log" | sort -u)
files=$(grep -c '^clang-tidy' "$log" || true)
if ((${#findings[@]})); then
  printf '%s\n' "${findings[@]}"
  echo "tidy: ${#findings[@]} finding(s) in $files files"
  exit 1
fi
if ((status != 0)); then
  # No finding, yet clang-tidy failed (e.g. a file that does not compile): show everything.
  cat "$log"
  echo "tidy: clang-tidy failed without a finding (output above)"
  exit 1
fi
echo "tidy: $files files clean"
