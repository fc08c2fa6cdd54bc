#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds with the cuDNN backend ON, runs the GPU-labelled tests,
# then a ResNet-50 batch sweep (1..256) per precision on `cudnn`, and prints a table.
# Usage: tools/gpu-check.sh [--precisions fp32,fp16,bf16] [--iterations N]
set -euo pipefail
cd "$(dirname "$0")/.."
precisions="fp32,fp16,bf16"
iterations=50
while (($#)); do
  case $1 in
    --precisions) precisions=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
done

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSONIC_BACKEND_CUDNN=ON \
  -DSONIC_BACKEND_ONEDNN=AUTO
cmake --build build/gpu -j "$(nproc)"
ctest --test-dir build/gpu -L gpu --output-on-failure

bin=build/gpu/bench/cli/sonicbench
printf '\n%-6s %6s %12s %12s %12s\n' precision batch "img/s" "p50 ms" "p99 ms"
IFS=, read -ra list <<<"$precisions"
for precision in "${list[@]}"; do
  for batch in 1 2 4 8 16 32 64 128 256; do
    json=$("$bin" infer --backend cudnn --model resnet50 --precision "$precision" \
      --batch "$batch" --iterations "$iterations" --warmup 10 --json)
    /usr/bin/python3 - "$precision" "$batch" "$json" <<'PY'
import json, sys
precision, batch, result = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lat = result["latency_ms"]
print(f"{precision:<9} {batch:>6} {result['throughput_img_s']:12.1f} {lat['p50']:12.3f} {lat['p99']:12.3f}")
PY
  done
done

# The peer: PyTorch on the same GPU, if the Python here has a CUDA-enabled torch.
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo
  echo "PyTorch peer (channels-last, CUDA graph):"
  python3 bench/peers/torch_gpu.py --batches 1,256 --precision fp16
else
  echo "gpu-check: no CUDA-enabled torch for python3: PyTorch comparison skipped" >&2
fi
