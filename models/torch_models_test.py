#!/usr/bin/python3
"""Models people bring, checked against PyTorch: torchvision's MobileNetV2, SqueezeNet 1.1 and
DenseNet-121 (random weights, batch-norm statistics away from the identity; exported by
tools/export_torchvision_onnx.py) and two physics models written here in PyTorch, the hls4ml
jet-tagging MLP (16 -> 64 -> 32 -> 32 -> 5, ReLU, softmax) and a particle-flow network (dense
layers over particles x features, a sum over the particles, dense layers). Each is exported to
ONNX by Debian's PyTorch, then run

  - by `sonicbench infer --onnx M --inputs input.bin --output out.bin` on every compiled backend
    that `sonicbench models --onnx M --json` says runs it (onednn must run them all), at fp32
    (relative error <= 1e-4 against PyTorch) and, where the backend has it, bf16 (<= 2e-2, or no
    worse than PyTorch's own bf16 where the model amplifies rounding beyond that: random-weight
    MobileNetV2 turns the bf16 rounding of its input alone into ~2% at the logits);
  - by `sonicbench serve --onnx M`, called over KServe v2 by Triton's own Python client (the
    test-only virtual environment; skipped with a message when it could not be made).

The files are generated in a temporary directory, never committed. Run by CTest with Debian's
/usr/bin/python3 (python3-torch, python3-torchvision, python3-onnx).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.join(HERE, "..", "tools", "export_torchvision_onnx.py")
TORCHVISION_MODELS = ["mobilenet_v2", "squeezenet1_1", "densenet121"]
FP32_BOUND = 1e-4
BF16_BOUND = 2e-2
BATCH = 2
ARGS = None


def relative_error(actual, expected):
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def export_physics_models(out_dir):
    """Writes hls4ml_mlp/ and particle_flow/ like the torchvision exports: model.onnx, input.bin,
    torch_output.bin, torch_bf16_output.bin."""
    import onnx
    import torch
    from torch import nn

    class ParticleFlow(nn.Module):
        def __init__(self):
            super().__init__()
            self.phi = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
            self.f = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 5),
                                   nn.Softmax(dim=-1))

        def forward(self, particles):  # [batch, particles, features]
            return self.f(self.phi(particles).sum(dim=1))

    torch.manual_seed(3)
    models = {
        "hls4ml_mlp": (nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                     nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5),
                                     nn.Softmax(dim=-1)), (16,)),
        "particle_flow": (ParticleFlow(), (30, 8)),
    }
    for name, (model, shape) in models.items():
        directory = os.path.join(out_dir, name)
        os.makedirs(directory, exist_ok=True)
        model.eval()
        x = torch.randn((BATCH, *shape))
        path = os.path.join(directory, "model.onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"],
                          output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        exported = onnx.load(path)
        exported.graph.name = name  # the exporter names every graph "torch_jit"
        onnx.save(exported, path)
        x.numpy().astype(np.float32).tofile(os.path.join(directory, "input.bin"))
        with torch.no_grad():
            model(x).numpy().astype(np.float32).tofile(os.path.join(directory,
                                                                    "torch_output.bin"))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = model(x).float()
            y.numpy().astype(np.float32).tofile(os.path.join(directory, "torch_bf16_output.bin"))


def floats(path):
    return np.fromfile(path, dtype=np.float32)


def start_server(onnx, backend):
    server = subprocess.Popen(
        [ARGS.sonicbench, "serve", "--onnx", onnx, "--backend", backend, "--port", "0",
         "--max-batch", str(BATCH)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    banner = ""
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        banner += line
        match = re.search(r"listening on (\S+:\d+)", line)
        if match:
            return server, match.group(1)
    server.kill()
    raise AssertionError(f"sonicbench serve did not start: {banner!r}")


class TorchModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        for name in TORCHVISION_MODELS:
            subprocess.run([sys.executable, EXPORT, "--model", name, "--batch", str(BATCH),
                            "--seed", "1", "--out", os.path.join(cls.dir.name, name)],
                           check=True, capture_output=True)
        export_physics_models(cls.dir.name)
        cls.models = TORCHVISION_MODELS + ["hls4ml_mlp", "particle_flow"]

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def path(self, model, file):
        return os.path.join(self.dir.name, model, file)

    def verdicts(self, model):
        result = subprocess.run([ARGS.sonicbench, "models", "--onnx", self.path(model,
                                                                                 "model.onnx"),
                                 "--json"], check=True, capture_output=True, text=True)
        return json.loads(result.stdout)["backends"]

    def bound(self, model, precision):
        if precision == "fp32":
            return FP32_BOUND
        expected = floats(self.path(model, "torch_output.bin"))
        torch_bf16 = relative_error(floats(self.path(model, "torch_bf16_output.bin")), expected)
        return max(BF16_BOUND, torch_bf16)

    def test_infer_matches_pytorch_on_every_backend_that_runs_the_model(self):
        for model in self.models:
            expected = floats(self.path(model, "torch_output.bin"))
            for verdict in self.verdicts(model):
                backend, precision = verdict["backend"], verdict["precision"]
                if precision not in ("fp32", "bf16"):
                    continue
                with self.subTest(model=model, backend=backend, precision=precision):
                    if backend == "onednn":
                        self.assertTrue(verdict["runs"], verdict["reason"])
                    if not verdict["runs"]:
                        print(f"{model} {backend} {precision}: not run: {verdict['reason']}")
                        continue
                    out = self.path(model, f"{backend}_{precision}.bin")
                    subprocess.run([ARGS.sonicbench, "infer", "--backend", backend, "--onnx",
                                    self.path(model, "model.onnx"), "--precision", precision,
                                    "--batch", str(BATCH), "--iterations", "1", "--warmup", "0",
                                    "--inputs", self.path(model, "input.bin"), "--output", out],
                                   check=True, capture_output=True)
                    error = relative_error(floats(out), expected)
                    bound = self.bound(model, precision)
                    print(f"{model} {backend} {precision}: relative error {error:.3g} "
                          f"(bound {bound:.3g})")
                    self.assertLessEqual(error, bound)

    def test_serve_matches_pytorch_over_kserve(self):
        python = os.path.join(ARGS.venv, "bin", "python")
        if not os.path.exists(python):
            self.skipTest(f"no tritonclient venv at {ARGS.venv} (tools/triton-client-venv.sh)")
        for model in self.models:
            with self.subTest(model=model):
                server, url = start_server(self.path(model, "model.onnx"), "onednn")
                try:
                    out = self.path(model, "served.bin")
                    # serve names a model after its file: model.onnx is served as "model".
                    subprocess.run([python, os.path.abspath(__file__), "--client", url, "model",
                                    self.path(model, "input.bin"), out], check=True)
                finally:
                    server.terminate()
                    server.wait(timeout=60)
                    server.stdout.close()
                error = relative_error(floats(out), floats(self.path(model, "torch_output.bin")))
                print(f"{model} served by onednn: relative error {error:.3g}")
                self.assertLessEqual(error, FP32_BOUND)


def client(url, model, input_path, output_path):
    """Runs in the venv: one KServe v2 call by Triton's client with PyTorch's input."""
    import tritonclient.grpc as grpcclient

    triton = grpcclient.InferenceServerClient(url=url)
    metadata = triton.get_model_metadata(model)
    shape = [BATCH] + [int(d) for d in metadata.inputs[0].shape[1:]]
    x = np.fromfile(input_path, dtype=np.float32).reshape(shape)
    request = grpcclient.InferInput(metadata.inputs[0].name, shape, "FP32")
    request.set_data_from_numpy(x)
    result = triton.infer(model, [request])
    result.as_numpy(metadata.outputs[0].name).astype(np.float32).tofile(output_path)


def main():
    global ARGS
    if "--client" in sys.argv:
        at = sys.argv.index("--client")
        client(*sys.argv[at + 1:at + 5])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sonicbench", required=True)
    parser.add_argument("--venv", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
