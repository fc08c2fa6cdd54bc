#!/usr/bin/env bash
# What the service costs per inference (issue 4: ResNet-50 on onednn at batch 1, remote over
# loopback at most 5% more than local). Runs configs/remote_vs_local.conf --pairs times, each
# run one local cell and then one remote cell (the embedded server on loopback) back to back, all
# appended to one results file, and prints the pairs, the medians and the ratios
# (bench/service/remote_vs_local.py). The load average before and after is printed with them.
#
# Usage: bench/service/remote_vs_local.sh [--sonicbench PATH] [--pairs 3] [--threads 2]
#                                         [--model resnet50] [--nice N] [--out DIR]
#                                         [-- more sweep flags]
# --nice N runs each sweep in a scheduling group of its own at that niceness (negative needs
# root; bench/peers/timed.sh): on a machine shared with other work it gives the measurement a
# steadier share of the cores.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sonicbench=${SONICBENCH:-$repo/build/release/bench/cli/sonicbench}
pairs=3
threads=2
model=resnet50
niceness=0
out=$repo/out/remote_vs_local
extra=()

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    --sonicbench) sonicbench=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --nice) niceness=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage 0 ;;
    *) echo "remote_vs_local: unknown argument '$1'" >&2; usage 2 >&2 ;;
  esac
done
if [[ ! -x $sonicbench ]]; then
  echo "remote_vs_local: no sonicbench binary at $sonicbench (build it, or pass --sonicbench PATH)" >&2
  exit 2
fi
source "$repo/bench/peers/timed.sh"

mkdir -p "$out"
results=$out/remote_vs_local.h5
rm -f "$results"
echo "remote_vs_local: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < pairs; ++i)); do
  append=()
  ((i > 0)) && append=(--append)
  timed "$sonicbench" sweep --config "$repo/configs/remote_vs_local.conf" --model "$model" \
    --threads "$threads" --repeats 1 --no-peak --out "$results" "${append[@]}" "${extra[@]}"
done
echo "remote_vs_local: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$repo/bench/service/remote_vs_local.py" "$results" | tee "$out/table.txt"
