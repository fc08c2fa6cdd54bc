"""PyTorch's ResNet-50 on a CUDA GPU: the peer the cudnn backend is compared with (issue 6).

Channels-last fp16 (or bf16/fp32) torchvision ResNet-50 in eval mode, replayed through a CUDA graph
(what makes batch-1 latency low in PyTorch), timed with CUDA events. Prints one JSON line per batch
size. Run with a Python whose torch has CUDA (Debian's python3-torch is CPU-only):

  python3 bench/peers/torch_gpu.py --batches 1,256 --precision fp16 --iterations 200
"""

import argparse
import json
import statistics

import torch
import torchvision


def measure(model, batch, dtype, iterations, warmup, use_graph):
    x = torch.rand(batch, 3, 224, 224, device="cuda", dtype=dtype).to(
        memory_format=torch.channels_last)
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        torch.cuda.synchronize()
        run = lambda: model(x)
        if use_graph:
            graph = torch.cuda.CUDAGraph()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    model(x)
            torch.cuda.current_stream().wait_stream(stream)
            with torch.cuda.graph(graph):
                model(x)
            run = graph.replay
        times_ms = []
        for _ in range(iterations):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            times_ms.append(start.elapsed_time(end))
    p50 = statistics.median(times_ms)
    return {"batch": batch, "p50_ms": p50, "img_per_s": batch / (p50 / 1e3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,256")
    parser.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp16")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--no-graph", action="store_true", help="plain eager replay")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_gpu.py: this torch has no CUDA device")
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.precision]
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = torchvision.models.resnet50().eval().cuda().to(dtype).to(
        memory_format=torch.channels_last)
    for batch in (int(b) for b in args.batches.split(",")):
        result = measure(model, batch, dtype, args.iterations, args.warmup, not args.no_graph)
        result.update(tool="pytorch", precision=args.precision, torch=torch.__version__,
                      gpu=torch.cuda.get_device_name())
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
