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
# root; bench/script_helpers.sh): on a machine shared with other work it gives the measurement a
# steadier share of the cores.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/bench/script_helpers.sh"
sonicbench=${SONICBENCH:-$repo/build/release/bench/cli/sonicbench}
pairs=3
threads=2
model=resnet50
niceness=0
out=$repo/out/remote_vs_local
extra=()

while (($#)); do
  case $1 in
    --sonicbench) sonicbench=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --nice) niceness=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage "$0" 14 ;;
    *) echo "remote_vs_local: unknown argument '$1'" >&2; usage "$0" 14 2 >&2 ;;
  esac
done
need_executable "$sonicbench" "sonicbench binary" --sonicbench

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
