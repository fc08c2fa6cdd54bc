#!/usr/bin/env bash
# Runs sonicbench and the CPU runtimes users would pick instead -- ONNX Runtime, OpenVINO and
# Debian's PyTorch (TorchScript-frozen) -- on the same ONNX file (torchvision's ResNet-50 and
# MobileNetV2), at the same thread count and precision, at each batch size, and prints a table
# per model of img/s, p50 latency and the ratios (above 1: sonicbench ahead). OpenVINO runs twice: LATENCY hint (synchronous, like `sonicbench infer`) and
# THROUGHPUT hint (streams fed by an asynchronous queue), which is compared with sonicbench's own
# throughput mode (a local sweep cell: one client per thread, one-thread executables).
#
# ONNX Runtime and OpenVINO are installed from PyPI, pinned, into a virtual environment
# (.venv-peers at the repository root) for benchmarking only: they are never a dependency of
# the product. The environment sees Debian's system packages (numpy).
#
# --precision: fp32 runs every runtime at fp32. bf16 runs OpenVINO with
# INFERENCE_PRECISION_HINT=bf16 (ONNX Runtime's CPU provider has no bf16 on x86; PyTorch is
# compared at fp32 only). int8 calibrates on 32 ImageNet-normalised inputs: sonicbench through
# --calibration, and ONNX Runtime's static quantisation makes a QDQ model from the same file,
# which ONNX Runtime and OpenVINO both run (bench/peers/peers.py, "quantize").
#
# Usage: bench/peers/run_peers.sh [--sonicbench PATH] [--backend onednn]
#                                 [--precision fp32|bf16|int8]
#                                 [--models "resnet50 mobilenet_v2"]
#                                 [--threads 2] [--batches "1 16"] [--iterations 20]
#                                 [--warmup 3] [--max-seconds 60] [--nice N] [--out DIR]
#                                 [--also-options "OPTIONS ..."]
# --nice N runs each timed process in a scheduling group of its own at that niceness (negative
# needs root): on a machine shared with other work it gives each runtime in turn the same larger
# share of the cores. --also-options adds a sonicbench row per backend options string (default
# for onednn fp32: conv=direct, the same kernels without Winograd; "" for none).
# Example (after building): bench/peers/run_peers.sh --sonicbench build/release/bench/cli/sonicbench
set -euo pipefail

ONNXRUNTIME_VERSION=1.32.0
OPENVINO_VERSION=2026.4.1
# ONNX Runtime's quantisation tool needs a newer onnx than Debian's, and ml_dtypes.
ONNX_VERSION=1.19.1
ML_DTYPES_VERSION=0.5.3
CALIBRATION_SAMPLES=32

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/bench/script_helpers.sh"
sonicbench=${SONICBENCH:-$repo/build/release/bench/cli/sonicbench}
backend=onednn
precision=fp32
models="resnet50 mobilenet_v2"
threads=2
batches="1 16"
iterations=20
warmup=3
max_seconds=60
niceness=0
# Extra sonicbench rows with these backend options; onednn's conv=direct (no Winograd) shows
# what the same kernels do without the algorithmic saving.
also_options=auto
out=$repo/out/peers

while (($#)); do
  case $1 in
    --sonicbench) sonicbench=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --precision) precision=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --nice) niceness=$2; shift 2 ;;
    --also-options) also_options=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage "$0" 29 ;;
    *) echo "run_peers: unknown argument '$1'" >&2; usage "$0" 29 2 >&2 ;;
  esac
done
need_executable "$sonicbench" "sonicbench binary" --sonicbench
case $precision in
  fp32|bf16|int8) ;;
  *) echo "run_peers: --precision '$precision': expected fp32, bf16 or int8" >&2; exit 2 ;;
esac

if [[ $also_options == auto ]]; then
  also_options=$([[ $backend == onednn && $precision == fp32 ]] && echo conv=direct || true)
fi

venv=$repo/.venv-peers
if [[ ! -x $venv/bin/python ]]; then
  echo "run_peers: creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# pip leaves already-satisfied pins alone, so this is quick after the first run.
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "onnxruntime==$ONNXRUNTIME_VERSION" "openvino==$OPENVINO_VERSION" "onnx==$ONNX_VERSION" \
  "ml_dtypes==$ML_DTYPES_VERSION"

mkdir -p "$out"
peers=$repo/bench/peers/peers.py
common=(--threads "$threads" --iterations "$iterations" --warmup "$warmup"
        --max-seconds "$max_seconds")
# The peers that run at each precision (run_peers' header says why the others do not).
case $precision in
  fp32) runtimes="onnxruntime openvino-latency openvino-throughput" ;;
  bf16) runtimes="openvino-latency openvino-throughput" ;;
  int8) runtimes="onnxruntime openvino-latency openvino-throughput" ;;
esac

for model in $models; do
  onnx_dir=$out/${model}_onnx
  if [[ ! -f $onnx_dir/model.onnx ]]; then
    /usr/bin/python3 "$repo/tools/export_torchvision_onnx.py" --model "$model" --out "$onnx_dir" \
      --batch 1 --seed 1 --no-check
  fi
  onnx=$onnx_dir/model.onnx
  peer_onnx=$onnx
  calibration=()
  if [[ $precision == int8 ]]; then
    # Other inputs than the weights' seed: ImageNet-normalised, as the model would see.
    calibration_dir=$out/${model}_calibration
    if [[ ! -f $calibration_dir/input.bin ]]; then
      /usr/bin/python3 "$repo/tools/export_torchvision_onnx.py" --model "$model" \
        --out "$calibration_dir" --batch "$CALIBRATION_SAMPLES" --seed 2 --inputs imagenet \
        --no-check
    fi
    calibration=(--calibration "$calibration_dir/input.bin")
    peer_onnx=$onnx_dir/model_qdq.onnx
    if [[ ! -f $peer_onnx ]]; then
      "$venv/bin/python" "$peers" quantize --onnx "$onnx" \
        --calibration "$calibration_dir/input.bin" --out "$peer_onnx"
    fi
  fi

  results=()
  for batch in $batches; do
    tag=${model}_${precision}_b$batch
    echo "run_peers: $model batch $batch, $threads threads: sonicbench ($backend $precision)" >&2
    timed "$sonicbench" infer --onnx "$onnx" --backend "$backend" --precision "$precision" \
      --batch "$batch" --threads "$threads" --iterations "$iterations" --warmup "$warmup" \
      "${calibration[@]}" --json > "$out/sonicbench_$tag.json"
    results+=("$out/sonicbench_$tag.json")
    for options in $also_options; do
      echo "run_peers: $model batch $batch: sonicbench --backend-options $options" >&2
      timed "$sonicbench" infer --onnx "$onnx" --backend "$backend" --precision "$precision" \
        --batch "$batch" --threads "$threads" --iterations "$iterations" --warmup "$warmup" \
        --backend-options "$options" "${calibration[@]}" --json \
        > "$out/sonicbench_${options//[^a-z0-9]/_}_$tag.json"
      results+=("$out/sonicbench_${options//[^a-z0-9]/_}_$tag.json")
    done
    # sonicbench's throughput mode, as OpenVINO's THROUGHPUT hint runs: one closed-loop client
    # per thread, each with a one-thread executable, measured by the sweep's stop rule.
    echo "run_peers: $model batch $batch: sonicbench, $threads streams" >&2
    timed "$sonicbench" sweep --backend "$backend" --precision "$precision" --model "$onnx" \
      --batch "$batch" --concurrency "$threads" --threads 1 --min-duration-s 5 \
      --max-duration-s "$max_seconds" "${calibration[@]}" --no-peak \
      --out "$out/sonicbench_streams_$tag.h5" >&2
    "$sonicbench" report "$out/sonicbench_streams_$tag.h5" \
      --csv "$out/sonicbench_streams_$tag.csv" > /dev/null
    results+=("$out/sonicbench_streams_$tag.csv")
    for runtime in $runtimes; do
      echo "run_peers: $model batch $batch: $runtime" >&2
      timed "$venv/bin/python" "$peers" run --runtime "$runtime" --onnx "$peer_onnx" \
        --precision "$precision" --batch "$batch" "${common[@]}" > "$out/${runtime}_$tag.json"
      results+=("$out/${runtime}_$tag.json")
    done
    if [[ $precision == fp32 ]]; then
      # Debian's torch, outside the venv: it was built against Debian's numpy.
      echo "run_peers: $model batch $batch: pytorch" >&2
      timed /usr/bin/python3 "$peers" run --runtime torch --torchvision "$model" \
        --batch "$batch" "${common[@]}" > "$out/pytorch_$tag.json"
      results+=("$out/pytorch_$tag.json")
    fi
  done

  echo
  {
    echo "$model: sonicbench $backend $precision, peers $precision; $threads threads;" \
      "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs;" \
      "nice $niceness; load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$venv/bin/python" "$peers" table "${results[@]}"
  } | tee "$out/table_${model}_$precision.txt"
done
