#!/usr/bin/python3
"""Runs one peer CPU runtime on a model at one batch size and thread count, the way
`sonicbench infer` does (untimed load and compile, warm-up, then timed runs with a monotonic
clock), and prints one JSON line; or prints the comparison table from such lines.

  peers.py run --runtime onnxruntime|openvino-latency|openvino-throughput --onnx FILE
               [--precision fp32|bf16|int8] ...
  peers.py run --runtime torch --torchvision resnet50 --batch N --threads T ...
  peers.py quantize --onnx FILE --calibration RAW.bin --out QDQ.onnx
  peers.py table RESULT.json|SWEEP.csv ...

Precisions: fp32 runs the file as it is, every runtime at f32. bf16 is OpenVINO with
INFERENCE_PRECISION_HINT=bf16 (ONNX Runtime's CPU provider has no bf16 kernels on x86, PyTorch is
compared at fp32 only). int8 runs a QDQ model that `quantize` made with ONNX Runtime's static
quantisation (per-channel s8 weights, u8 activations, MinMax ranges) from the same calibration
inputs sonicbench's --calibration reads (raw float32, the model's per-sample shape): ONNX
Runtime and OpenVINO both run that file.

A SWEEP.csv (`sonicbench report --csv` of a one-cell local sweep) is sonicbench's throughput
mode, compared with OpenVINO's THROUGHPUT row.

Each runtime runs in its own process (its thread pool must not meet another's). ONNX Runtime and
OpenVINO come from the pinned virtual environment that run_peers.sh makes; PyTorch is Debian's
and runs under /usr/bin/python3 outside it, since the pip packages may bring a numpy that
Debian's torch was not built against. PyTorch cannot load ONNX, so it runs the same torchvision
architecture the ONNX file was exported from (same layers and shapes; weights do not change the
speed).
"""

import argparse
import csv
import json
import math
import sys
import time


def percentile(sorted_values, p):
    """Nearest rank, as sonicbench computes it."""
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def time_runs(run_once, batch, warmup, iterations, max_seconds):
    """Warm-up, then timed sequential runs; stops early (after at least 3) past max_seconds."""
    for _ in range(warmup):
        run_once()
    latencies = []
    start = time.monotonic()
    while len(latencies) < iterations:
        t0 = time.monotonic_ns()
        run_once()
        latencies.append(time.monotonic_ns() - t0)
        if len(latencies) >= 3 and time.monotonic() - start > max_seconds:
            break
    return summarise(latencies, batch * len(latencies), sum(latencies))


def summarise(latencies_ns, images, wall_ns):
    ordered = sorted(latencies_ns)
    return {
        "runs": len(ordered),
        "latency_ms": {
            "p50": percentile(ordered, 50) * 1e-6,
            "p90": percentile(ordered, 90) * 1e-6,
            "p99": percentile(ordered, 99) * 1e-6,
            "min": ordered[0] * 1e-6,
            "mean": sum(ordered) / len(ordered) * 1e-6,
        },
        "throughput_img_s": images / (wall_ns * 1e-9),
    }


def random_input(batch, shape, seed):
    import numpy as np
    return np.random.default_rng(seed).random((batch, *shape), dtype=np.float32)


def run_onnxruntime(args):
    if args.precision == "bf16":
        raise SystemExit("peers: ONNX Runtime's CPU provider has no bf16 execution on x86")
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
    model_input = session.get_inputs()[0]
    x = random_input(args.batch, model_input.shape[1:], args.seed)
    feeds = {model_input.name: x}
    result = time_runs(lambda: session.run(None, feeds), args.batch, args.warmup, args.iterations,
                       args.max_seconds)
    result.update(runtime="onnxruntime", version=ort.__version__,
                  detail=f"CPUExecutionProvider, ORT_ENABLE_ALL, sequential, {args.precision}"
                         + (" QDQ" if args.precision == "int8" else ""))
    return result


def run_openvino(args, hint):
    """LATENCY: one stream, synchronous requests, as sonicbench runs. THROUGHPUT: OpenVINO's
    streams fed by an asynchronous queue of its optimal number of requests, each of `batch`
    images (its best case for img/s; each request's latency then includes queueing)."""
    import openvino as ov
    core = ov.Core()
    model = core.read_model(args.onnx)
    # The file's batch axis is dynamic; a static shape lets OpenVINO plan its memory up front.
    input_shape = [d.get_length() for d in model.input(0).get_partial_shape()[1:]]
    model.reshape({model.input(0).get_any_name(): [args.batch, *input_shape]})
    x = random_input(args.batch, input_shape, args.seed)
    config = {"PERFORMANCE_HINT": hint, "INFERENCE_NUM_THREADS": args.threads}
    # fp32 against fp32 (on CPUs with AMX OpenVINO would otherwise pick bf16 itself), bf16 against
    # bf16. An int8 QDQ model runs its quantised layers in int8 and, between them, whatever
    # OpenVINO picks by itself: its best case.
    hint_of = {"fp32": "f32", "bf16": "bf16"}
    if args.precision in hint_of:
        config["INFERENCE_PRECISION_HINT"] = hint_of[args.precision]
    compiled = core.compile_model(model, "CPU", config)
    if hint == "LATENCY":
        request = compiled.create_infer_request()
        result = time_runs(lambda: request.infer({0: x}), args.batch, args.warmup,
                           args.iterations, args.max_seconds)
        detail = "LATENCY hint, synchronous"
    else:
        result, detail = run_openvino_async(compiled, x, args)
    streams = compiled.get_property("NUM_STREAMS")
    precision = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    result.update(runtime=f"openvino-{hint.lower()}", version=ov.get_version().split("-")[0],
                  detail=f"{detail}, {streams} stream(s), {args.precision}"
                         + (" QDQ" if args.precision == "int8" else "")
                         + f", inference precision {precision}")
    return result


def run_openvino_async(compiled, x, args):
    """Keeps OpenVINO's optimal number of requests in flight, each waited for in turn (no Python
    completion callbacks: they need the GIL from OpenVINO's threads, which can deadlock)."""
    count = compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    requests = [compiled.create_infer_request() for _ in range(count)]

    def drive(total, max_seconds):
        """Runs `total` requests (fewer, but at least 3, past max_seconds); returns the
        per-request latencies (ns) and the wall time (ns)."""
        started = [0] * count
        in_flight = [False] * count
        latencies = []
        submitted = 0
        start = time.monotonic_ns()

        def submit(i):
            nonlocal submitted
            started[i] = time.monotonic_ns()
            requests[i].start_async({0: x})
            in_flight[i] = True
            submitted += 1

        for i in range(min(count, total)):
            submit(i)
        i = 0
        while any(in_flight):
            if in_flight[i]:
                requests[i].wait()
                latencies.append(time.monotonic_ns() - started[i])
                in_flight[i] = False
                elapsed = (time.monotonic_ns() - start) * 1e-9
                if submitted < total and (submitted < 3 or elapsed <= max_seconds):
                    submit(i)
            i = (i + 1) % count
        return latencies, time.monotonic_ns() - start

    drive(args.warmup * count, math.inf)
    latencies, wall = drive(max(args.iterations, 3 * count), args.max_seconds)
    result = summarise(latencies, args.batch * len(latencies), wall)
    return result, f"THROUGHPUT hint, {count} requests in flight"


def run_torch(args):
    if args.precision != "fp32":
        raise SystemExit("peers: PyTorch is compared at fp32 only")
    import torch
    import torchvision
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    model = getattr(torchvision.models, args.torchvision)(weights=None).eval()
    x = torch.from_numpy(random_input(args.batch, (3, 224, 224), args.seed))
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(model, x))
        result = time_runs(lambda: frozen(x), args.batch, args.warmup, args.iterations,
                           args.max_seconds)
    result.update(runtime="pytorch", version=torch.__version__,
                  detail=f"TorchScript traced + frozen, torchvision {args.torchvision}")
    return result


def quantize(onnx, calibration, out):
    """Writes `out`, the QDQ int8 model ONNX Runtime's static quantisation makes of `onnx`,
    calibrated on the raw float32 samples of `calibration` (one at a time, as sonicbench's
    calibration runs them)."""
    import numpy as np
    import onnx as onnx_lib
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model = onnx_lib.load(onnx)
    graph_input = model.graph.input[0]
    shape = [d.dim_value for d in graph_input.type.tensor_type.shape.dim[1:]]
    values = np.fromfile(calibration, dtype=np.float32)
    per_sample = int(np.prod(shape))
    if values.size == 0 or values.size % per_sample:
        raise SystemExit(f"peers: {calibration}: {values.size * 4} bytes is not a whole number of "
                         f"float32 samples of shape {shape}")
    samples = values.reshape(-1, 1, *shape)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rest = iter(samples)

        def get_next(self):
            sample = next(self.rest, None)
            return None if sample is None else {graph_input.name: sample}

    prepared = out + ".pre.onnx"
    quant_pre_process(onnx, prepared)
    quantize_static(prepared, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
    print(f"peers: {out}: QDQ int8, calibrated on {len(samples)} samples of {calibration}",
          file=sys.stderr)


RUNNERS = {
    "onnxruntime": run_onnxruntime,
    "openvino-latency": lambda args: run_openvino(args, "LATENCY"),
    "openvino-throughput": lambda args: run_openvino(args, "THROUGHPUT"),
    "torch": run_torch,
}


def load_sweep_csv(path):
    """The first cell of `sonicbench report --csv`: sonicbench's own throughput mode, `threads`
    closed-loop clients each with a one-thread executable (as OpenVINO's THROUGHPUT streams)."""
    with open(path, encoding="utf-8", newline="") as f:
        cell = next(csv.DictReader(f))
    if cell["status"] == "failed":
        raise SystemExit(f"peers: {path}: the sweep cell failed: {cell['error_message']}")
    # A cell that did not converge is still a measurement, with its wider interval shown.
    converged = "" if cell["status"] == "ok" else f", NOT CONVERGED: {cell['convergence_reason']}"
    streams = int(cell["concurrency"])
    throughput = float(cell["throughput_inferences_per_s"])
    ci_percent = 100 * float(cell["throughput_inferences_per_s_ci95"]) / throughput
    return {"runtime": f"sonicbench {streams} streams", "version": "sweep",
            "detail": f"{cell['backend']} {cell['precision']}, {streams} clients x "
                      f"{cell['threads']} thread(s), closed loop, ±{ci_percent:.1f}% (95% CI)"
                      f"{converged}",
            "batch": int(cell["batch"]), "mode": "throughput", "throughput_img_s": throughput,
            "latency_ms": {"p50": float(cell["latency_p50_ns"]) * 1e-6}}


def load_result(path):
    """A peers.py line, the JSON `sonicbench infer --json` prints, or a sweep's CSV, in one
    shape. `mode` is latency (one request at a time) or throughput (several in flight)."""
    if path.endswith(".csv"):
        return load_sweep_csv(path)
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if data.get("command") == "infer":
        selector = data["backend"].get("selector", "")
        options = data["backend"].get("backend_options", "")
        # The default run is the one the ratios compare against; a run with a device selector or
        # backend options (onednn conv=direct: no Winograd) is a row of its own.
        variant = " ".join(v for v in (selector, options) if v)
        runtime = "sonicbench" if not variant else f"sonicbench {variant}"
        return {"runtime": runtime, "version": data["backend"]["library"],
                "detail": f"{data['backend']['name']} {data['precision']}"
                          + (f", --device {selector}" if selector else "")
                          + (f", --backend-options {options}" if options else ""),
                "batch": data["batch"], "threads": data["threads"], "mode": "latency",
                "throughput_img_s": data["throughput_img_s"], "latency_ms": data["latency_ms"]}
    data.setdefault("mode", "throughput" if data["runtime"] == "openvino-throughput"
                    else "latency")
    return data


def print_table(paths):
    results = [load_result(p) for p in paths]
    # Each peer is compared with sonicbench run the same way: one request at a time against the
    # default `infer` row, several in flight against the sweep's streams row (when there is one).
    ours = {(r["batch"], r["mode"]): r for r in results
            if r["runtime"] == "sonicbench" or r["runtime"].endswith(" streams")}
    # Both ratios read "how many times better sonicbench is": > 1 means sonicbench is ahead.
    header = (f"{'batch':>5}  {'runtime':<23} {'img/s':>8} {'p50 ms':>9} {'img/s ratio':>11} "
              f"{'p50 ratio':>9}  version, how")
    print(header)
    print("-" * len(header))
    for r in sorted(results, key=lambda r: (r["batch"], not r["runtime"].startswith("sonicbench"),
                                            r["runtime"])):
        throughput_ratio = latency_ratio = ""
        mine = ours.get((r["batch"], r["mode"])) or ours.get((r["batch"], "latency"))
        if not r["runtime"].startswith("sonicbench") and mine is not None:
            throughput_ratio = f"{mine['throughput_img_s'] / r['throughput_img_s']:.2f}x"
            latency_ratio = f"{r['latency_ms']['p50'] / mine['latency_ms']['p50']:.2f}x"
        print(f"{r['batch']:>5}  {r['runtime']:<23} {r['throughput_img_s']:>8.2f} "
              f"{r['latency_ms']['p50']:>9.2f} {throughput_ratio:>11} {latency_ratio:>9}  "
              f"{r['version']}, {r['detail']}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="time one runtime; prints one JSON line")
    run.add_argument("--runtime", required=True, choices=sorted(RUNNERS))
    run.add_argument("--onnx", help="ONNX file (onnxruntime, openvino-*)")
    run.add_argument("--torchvision", default="resnet50",
                     help="torchvision builder the ONNX file came from (torch; default resnet50)")
    run.add_argument("--batch", type=int, default=1)
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--iterations", type=int, default=20)
    run.add_argument("--warmup", type=int, default=3)
    run.add_argument("--max-seconds", type=float, default=60.0,
                     help="stop timing early (after at least 3 runs) past this (default 60)")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--precision", choices=["fp32", "bf16", "int8"], default="fp32",
                     help="int8: --onnx is a QDQ model made by `quantize` (default fp32)")
    quant = commands.add_parser("quantize", help="make the QDQ int8 model of an ONNX file")
    quant.add_argument("--onnx", required=True)
    quant.add_argument("--calibration", required=True,
                       help="raw float32 samples of the model's input (the ones sonicbench's "
                            "--calibration reads)")
    quant.add_argument("--out", required=True)
    table = commands.add_parser("table", help="print the comparison from result files")
    table.add_argument("results", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "table":
        print_table(args.results)
        return 0
    if args.command == "quantize":
        quantize(args.onnx, args.calibration, args.out)
        return 0
    if args.batch < 1 or args.threads < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error("--batch, --threads and --iterations must be at least 1, --warmup 0 or more")
    if args.runtime != "torch" and not args.onnx:
        parser.error(f"--runtime {args.runtime} needs --onnx FILE")
    result = RUNNERS[args.runtime](args)
    result.update(batch=args.batch, threads=args.threads, precision=args.precision)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
