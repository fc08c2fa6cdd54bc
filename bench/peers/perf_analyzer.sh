#!/usr/bin/env bash
# Triton's perf_analyzer and `sonicbench sweep --server` side by side against the same
# `sonicbench serve` server (null backend by default, batching off): closed loop at each
# concurrency (default 1, 4, 16; at each, perf_analyzer then sonicbench, so that both see the
# same machine), then the highest request rate each tool drives, the best of several high
# concurrencies (default 16, 32, 48, 64) for each tool and, for perf_analyzer, of its synchronous
# and asynchronous modes (--max-concurrency "" skips it).
# Prints one table (bench/peers/perf_analyzer_table.py): throughput, p50 and p99 latency of
# both tools and their ratios, and the CPU each tool used (cores: a tool near its share of the
# machine measures its own cost as much as the server). --rounds N repeats each concurrency's
# pair N times (perf_analyzer, sonicbench, perf_analyzer, ...): these machines drift by several
# percent within a minute, so the table takes the median over the rounds of each figure and of
# the per-round ratios. Load averages are printed before and after.
#
# perf_analyzer comes from PyPI, pinned, into a virtual environment: see
# bench/peers/perf_analyzer_venv.sh.
#
# Usage: bench/peers/perf_analyzer.sh [--sonicbench PATH] [--model jet_cnn]
#                                     [--backend null] [--server-threads N] [--rounds 1]
#                                     [--concurrency "1 4 16"] [--max-concurrency "16 32 48 64"]
#                                     [--window-s 5] [--nice N] [--out DIR]
#                                     [--server-cpus LIST --client-cpus LIST]
# --server-cpus/--client-cpus pin the server and each tool (taskset -c, e.g. 0 and 1), so that a
# client that costs more CPU per request cannot take it from the server it measures; on a 2-core
# machine each tool then has one core, and from concurrency 4 up each tool's rate is set by its
# own cost per request (docs/PERFORMANCE.md).
# --backend onednn (with --model resnet18, say) makes the server's compute the bottleneck, so that
# neither tool's own CPU cost per request decides what it measures: there the two tools must
# agree at every concurrency. Against `null` on 2 shared cores, a tool's rate from concurrency 16
# up is set as much by its own CPU cost as by the server's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/bench/script_helpers.sh"
sonicbench=${SONICBENCH:-$repo/build/release/bench/cli/sonicbench}
model=jet_cnn
backend=null
server_threads=0
concurrencies="1 4 16"
rounds=1
max_concurrencies="16 32 48 64"
window_s=5
niceness=0
out=$repo/out/perf_analyzer
server_pin=()
client_pin=()

while (($#)); do
  case $1 in
    --sonicbench) sonicbench=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --concurrency) concurrencies=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --max-concurrency) max_concurrencies=$2; shift 2 ;;
    --window-s) window_s=$2; shift 2 ;;
    --nice) niceness=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --server-cpus) server_pin=(taskset -c "$2"); shift 2 ;;
    --client-cpus) client_pin=(taskset -c "$2"); shift 2 ;;
    -h|--help) usage "$0" 30 ;;
    *) echo "perf_analyzer.sh: unknown argument '$1'" >&2; usage "$0" 30 2 >&2 ;;
  esac
done
need_executable "$sonicbench" "sonicbench binary" --sonicbench
shape=$(model_input_shape "$model")

# --- perf_analyzer, from PyPI -------------------------------------------------------------
source "$repo/bench/peers/perf_analyzer_venv.sh"

# --- one server for both tools ------------------------------------------------------------
mkdir -p "$out"
rm -f "$out"/*.csv "$out"/*.h5
"${server_pin[@]}" "$sonicbench" serve --model "$model" --backend "$backend" \
  --threads "$server_threads" --port 0 --dynamic-batching off > "$out/serve.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
address=$(wait_for_log "$out/serve.log" 'listening on [0-9.]+:[0-9]+')
[[ -n $address ]] || { echo "perf_analyzer.sh: the server did not start" >&2; exit 1; }
echo "perf_analyzer.sh: server pinned: ${server_pin[*]:-no}; tools pinned: ${client_pin[*]:-no}"
echo "perf_analyzer.sh: $model on $backend at $address; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# perf_analyzer: stable when 3 consecutive windows agree within 10% (its default), at most 20.
# Its CPU time (user, system) and wall-clock over the whole run go to pa_NAME.time.
pa() {  # NAME CONCURRENCY [more perf_analyzer flags]
  local name=$1 c=$2
  shift 2
  # Bounded: perf_analyzer 2.47 searching for stability at high concurrency on a starved core was
  # seen to run for minutes, its memory growing past 16 GB.
  timed timeout --kill-after=10 $((window_s * 30)) "${client_pin[@]}" \
    /usr/bin/time -f '%e %U %S' -o "$out/pa_$name.time" "$perf_analyzer" -m "$model" -i grpc -u "$address" --concurrency-range "$c" \
    -p $((window_s * 1000)) --max-trials 20 --shape "input:$shape" -f "$out/pa_$name.csv" "$@" \
    > "$out/pa_$name.log" 2>&1 || echo "perf_analyzer.sh: perf_analyzer $name failed (see $out/pa_$name.log)" >&2
}
# sonicbench: converged when the 95% CI of the throughput is within ±5% after window_s seconds.
sb() {  # NAME CONCURRENCY-LIST [more sweep flags]
  local name=$1 c=$2
  shift 2
  timed "${client_pin[@]}" "$sonicbench" sweep --target remote --server "$address" --backend "$backend" --model "$model" \
    --concurrency "$c" --warmup-s 1 --min-duration-s "$window_s" --max-duration-s $((window_s * 4)) \
    --no-peak --out "$out/sb_$name.h5" "$@" > "$out/sb_$name.log" 2>&1 || true
  "$sonicbench" report "$out/sb_$name.h5" --csv "$out/sb_$name.csv" > /dev/null
}

for c in $concurrencies; do
  for ((round = 1; round <= rounds; ++round)); do
    pa "c${c}_r$round" "$c"
    sb "c${c}_r$round" "$c"
  done
done
# Highest rate: each tool at several high concurrencies, perf_analyzer's asynchronous mode
# included; the table takes each tool's best.
for c in $max_concurrencies; do
  pa "max_sync_c$c" "$c"
  pa "max_async_c$c" "$c" --async
  sb "max_c$c" "$c" --channels 4
done

echo "perf_analyzer.sh: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$repo/bench/peers/perf_analyzer_table.py" "$out" "$backend" "$rounds" \
  "$concurrencies" "$max_concurrencies" \
  | tee "$out/table.txt"
