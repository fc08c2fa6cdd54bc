#!/usr/bin/env bash
# Issue 4's loopback goals, with the reference bandwidth taken in the same run: iperf3 over
# loopback first, then at once service_benchmark (our client -> gRPC over loopback -> our server
# -> null, one process) for ResNet-50's 602 KB input at concurrency 1 and 4 and 1 KB at
# concurrency 16. Prints one table (bench/service/loopback_table.py) with the goals:
#   602 KB, c=1:  p50 round trip <= 1 ms
#   602 KB, c=4:  request payload throughput >= 50% of iperf3's loopback bandwidth
#   1 KB,  c=16: >= 20,000 requests/s
# and the CPU time per request (client + server), the figure that a shared machine leaves
# least distorted. Load averages before and after are printed with it.
#
# Usage: bench/service/loopback.sh [--benchmark PATH] [--min-time-s 3] [--iperf-s 5]
#                                  [--nice N] [--out DIR]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/bench/script_helpers.sh"
benchmark=$repo/build/release/service/service_benchmark
min_time_s=3
iperf_s=5
niceness=0
out=$repo/out/loopback

while (($#)); do
  case $1 in
    --benchmark) benchmark=$2; shift 2 ;;
    --min-time-s) min_time_s=$2; shift 2 ;;
    --iperf-s) iperf_s=$2; shift 2 ;;
    --nice) niceness=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0" 15 ;;
    *) echo "loopback.sh: unknown argument '$1'" >&2; usage "$0" 15 2 >&2 ;;
  esac
done
need_executable "$benchmark" service_benchmark --benchmark
command -v iperf3 > /dev/null || { echo "loopback.sh: iperf3 is not installed (apt-get install iperf3)" >&2; exit 2; }
mkdir -p "$out"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
port=$((5200 + RANDOM % 600))
iperf3 -s -p "$port" -1 > "$out/iperf3_server.log" 2>&1 &
iperf_server=$!
sleep 0.5
timed iperf3 -c 127.0.0.1 -p "$port" -t "$iperf_s" -J > "$out/iperf3.json"
wait "$iperf_server" || true
timed "$benchmark" --benchmark_min_time="$min_time_s" --benchmark_format=json \
  --benchmark_filter='BM_NullRoundTrip/bytes:(602112/concurrency:(1|4)|1024/concurrency:16)/' \
  > "$out/service_benchmark.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 "$repo/bench/service/loopback_table.py" "$out/iperf3.json" \
  "$out/service_benchmark.json" "$load_before" "$load_after" | tee "$out/table.txt"
