#!/usr/bin/env bash
# Checks that Triton's perf_analyzer reads `sonicbench serve --metrics-port` as it reads Triton's
# :8002: `perf_analyzer --collect-metrics --metrics-url` against our server, one short closed-loop
# run, then bench/peers/perf_analyzer_metrics_check.py compares the server-side metrics in its CSV
# with a scrape of our endpoint (the GPUs' uuids and total memory must be ours; without GPUs, its
# GPU columns must be empty and its log must show that it parsed a response lacking them, as our
# endpoint exports no GPU series there). The control: against a URL where nothing listens,
# perf_analyzer must not show that it parsed anything, so that a pass means it read ours.
# Exits 0 when both hold, 1 otherwise.
#
# perf_analyzer comes from PyPI, pinned, into a virtual environment: see
# bench/peers/perf_analyzer_venv.sh. perf_analyzer parses only GPU metrics (nv_gpu_utilization,
# nv_gpu_power_usage, nv_gpu_memory_used_bytes, nv_gpu_memory_total_bytes): our server exports
# them only for models on cudnn, from NVML, so on a machine without an NVIDIA GPU the check shows
# that perf_analyzer reaches and parses the endpoint, with nothing for it to report.
#
# Usage: bench/peers/perf_analyzer_metrics.sh [--sonicbench PATH] [--model jet_cnn]
#                                             [--backend null] [--window-s 2] [--out DIR]
# On a GPU machine: --backend cudnn --model resnet50.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/bench/script_helpers.sh"
sonicbench=${SONICBENCH:-$repo/build/release/bench/cli/sonicbench}
model=jet_cnn
backend=null
window_s=2
out=$repo/out/perf_analyzer_metrics

while (($#)); do
  case $1 in
    --sonicbench) sonicbench=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --window-s) window_s=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0" 19 ;;
    *) echo "perf_analyzer_metrics.sh: unknown argument '$1'" >&2; usage "$0" 19 2 >&2 ;;
  esac
done
need_executable "$sonicbench" "sonicbench binary" --sonicbench
shape=$(model_input_shape "$model")

source "$repo/bench/peers/perf_analyzer_venv.sh"

mkdir -p "$out"
rm -f "$out"/*.csv "$out"/*.log "$out"/*.txt
"$sonicbench" serve --model "$model" --backend "$backend" --port 0 --metrics-port 0 \
  --dynamic-batching off > "$out/serve.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
address=$(wait_for_log "$out/serve.log" 'listening on [0-9.]+:[0-9]+')
metrics=$(wait_for_log "$out/serve.log" 'metrics on http://[0-9.]+:[0-9]+/metrics')
[[ -n $address && -n $metrics ]] || { echo "perf_analyzer_metrics.sh: the server did not start" >&2; exit 1; }
echo "perf_analyzer_metrics.sh: $model on $backend at $address, metrics at $metrics"

pa() {  # METRICS_URL CSV LOG
  timeout --kill-after=10 $((window_s * 20 + 30)) "$perf_analyzer" -m "$model" -i grpc -u "$address" \
    --shape "input:$shape" -p $((window_s * 1000)) --max-trials 5 --stability-percentage 50 \
    --collect-metrics --metrics-url "$1" --metrics-interval 250 --verbose-csv -f "$2" > "$3" 2>&1
}
status=0
pa "${metrics#http://}" "$out/pa.csv" "$out/pa.log" || status=$?
[[ $status == 0 ]] || { echo "perf_analyzer_metrics.sh: perf_analyzer failed ($status), see $out/pa.log" >&2; exit 1; }
# The control: where nothing listens, perf_analyzer 2.47 either says "Unable to connect" and
# stops, or measures on with nothing parsed -- never its "Unable to parse" warnings, which it
# prints only for a response it received and found without GPU series.
pa "127.0.0.1:1/metrics" "$out/pa_dead.csv" "$out/pa_dead.log" || true
if grep -q "Unable to parse 'nv_gpu" "$out/pa_dead.log"; then
  echo "perf_analyzer_metrics.sh: perf_analyzer claims to parse a dead metrics URL (see $out/pa_dead.log)" >&2
  exit 1
fi
/usr/bin/python3 "$repo/bench/peers/perf_analyzer_metrics_check.py" "$out/pa.csv" "$out/pa.log" \
  "$metrics" | tee "$out/check.txt"
