#!/usr/bin/env bash
# Nightly tracking: runs configs/nightly.conf, appends the run to a history file, compares it with
# the previous run of the history and with a pinned baseline file, and draws the trend per metric.
# Exits 3 when either comparison finds a regression beyond noise or a cell missing from tonight's
# run (the nightly check's signal); --allow-missing accepts missing cells (a grid changed on
# purpose).
# Usage: tools/nightly.sh [--history FILE] [--baseline FILE] [--threshold 5%] [--out DIR]
#        [--config FILE] [--sonicbench BIN] [--allow-missing]
set -euo pipefail
cd "$(dirname "$0")/.."
history=out/nightly/history.h5
baseline=""
threshold=5%
out=out/nightly
config=configs/nightly.conf
bin=build/release/bench/cli/sonicbench
allow_missing=()
while (($#)); do
  case $1 in
    --history) history=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --threshold) threshold=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --sonicbench) bin=$2; shift 2 ;;
    --allow-missing) allow_missing=(--allow-missing); shift ;;
    *) echo "nightly: unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ ! -x $bin ]]; then
  cmake --preset release && cmake --build --preset release -j "$(nproc)"
fi
mkdir -p "$out" "$(dirname "$history")"

append=()
[[ -f $history ]] && append=(--append)
"$bin" sweep --config "$config" --out "$history" "${append[@]}"

status=0
# The history's run ids, oldest first: the last two are compared.
mapfile -t runs < <(/usr/bin/python3 -c '
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    def start(r):  # a str in files of schema 2, bytes (fixed-length) from schema 3
        value = f["runs"][r].attrs.get("start_time_utc", r)
        return value.decode() if isinstance(value, bytes) else str(value)
    runs = sorted(f["runs"], key=start)
print("\n".join(runs))' "$history")
if ((${#runs[@]} >= 2)); then
  echo "== against the previous run (${runs[-2]})"
  "$bin" compare "$history" "$history" --base-run "${runs[-2]}" --new-run "${runs[-1]}" \
    --threshold "$threshold" "${allow_missing[@]}" || status=$?
fi
if [[ -n $baseline ]]; then
  echo "== against the pinned baseline ($baseline)"
  baseline_status=0
  "$bin" compare "$baseline" "$history" --threshold "$threshold" "${allow_missing[@]}" ||
    baseline_status=$?
  if ((baseline_status > status)); then status=$baseline_status; fi
fi
"$bin" plot "$history" --out "$out/trend" --trend >/dev/null
echo "history: $(realpath "$history"); trend figures: $(realpath "$out/trend")/"
exit "$status"
