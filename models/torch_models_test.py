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

And int8 calibrated on the user's data (issue 18 section 3): torchvision's ResNet-50 on
ImageNet-normalised inputs, calibrated by `--calibration` on 32 of them and evaluated on 32 others,
through infer and through serve, within 5% of PyTorch; without `--calibration` the command warns
that it calibrates on random inputs.

The files are generated in a temporary directory, never committed. Run by CTest with Debian's
/usr/bin/python3 (python3-torch, python3-torchvision, python3-onnx).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from serve_process import start_serve  # noqa: E402

EXPORT = os.path.join(HERE, "..", "tools", "export_torchvision_onnx.py")
TORCHVISION_MODELS = ["mobilenet_v2", "squeezenet1_1", "densenet121"]
FP32_BOUND = 1e-4
BF16_BOUND = 2e-2
BATCH = 2
INT8_BOUND = 0.05
CALIBRATION_SAMPLES = 32
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


def serve_and_call(onnx, backend, input_path, output_path, *extra):
    """Serves `onnx` and calls it once over KServe v2 with Triton's client (in the venv) with the
    samples of `input_path`; the test is skipped without the venv."""
    python = os.path.join(ARGS.venv, "bin", "python")
    if not os.path.exists(python):
        raise unittest.SkipTest(f"no tritonclient venv at {ARGS.venv} (tools/triton-client-venv.sh)")
    server, banner = start_serve(ARGS.sonicbench,
                                 ["--onnx", onnx, "--backend", backend, "--port", "0", *extra])
    url = banner["address"]
    try:
        # serve names a model after its file: model.onnx is served as "model".
        subprocess.run([python, os.path.abspath(__file__), "--client", url, "model", input_path,
                        output_path], check=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
        server.stdout.close()


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
        for model in self.models:
            with self.subTest(model=model):
                out = self.path(model, "served.bin")
                serve_and_call(self.path(model, "model.onnx"), "onednn",
                               self.path(model, "input.bin"), out, "--max-batch", str(BATCH))
                error = relative_error(floats(out), floats(self.path(model, "torch_output.bin")))
                print(f"{model} served by onednn: relative error {error:.3g}")
                self.assertLessEqual(error, FP32_BOUND)


class ResNet50Int8(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        path = cls.dir.name
        subprocess.run([sys.executable, EXPORT, "--model", "resnet50", "--inputs", "imagenet",
                        "--batch", str(2 * CALIBRATION_SAMPLES), "--seed", "1", "--out", path],
                       check=True, capture_output=True)
        cls.onnx = os.path.join(path, "model.onnx")
        samples = floats(os.path.join(path, "input.bin")).reshape(2 * CALIBRATION_SAMPLES, -1)
        expected = floats(os.path.join(path, "torch_output.bin")).reshape(
            2 * CALIBRATION_SAMPLES, -1)
        cls.calibration = os.path.join(path, "calibration.bin")
        cls.evaluation = os.path.join(path, "evaluation.bin")
        samples[:CALIBRATION_SAMPLES].tofile(cls.calibration)
        samples[CALIBRATION_SAMPLES:].tofile(cls.evaluation)
        cls.expected = expected[CALIBRATION_SAMPLES:]
        result = subprocess.run([ARGS.sonicbench, "models", "--onnx", cls.onnx, "--json"],
                                check=True, capture_output=True, text=True)
        cls.int8 = next((v for v in json.loads(result.stdout)["backends"]
                         if v["backend"] == "onednn" and v["precision"] == "int8"), None)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def setUp(self):
        if self.int8 is None or not self.int8["runs"]:
            self.skipTest(f"onednn has no int8 here: {self.int8}")

    def infer(self, output, *extra):
        return subprocess.run([ARGS.sonicbench, "infer", "--backend", "onednn", "--onnx",
                               self.onnx, "--precision", "int8", "--batch",
                               str(CALIBRATION_SAMPLES), "--iterations", "1", "--warmup", "0",
                               "--inputs", self.evaluation, "--output", output, *extra],
                              check=True, capture_output=True, text=True)

    def test_infer_calibrated_on_the_users_data_is_within_5_percent(self):
        out = os.path.join(self.dir.name, "calibrated.bin")
        result = self.infer(out, "--calibration", self.calibration)
        self.assertNotIn("calibrated on 16 seeded random inputs", result.stderr)
        error = relative_error(floats(out), self.expected.ravel())
        print(f"resnet50 onednn int8 calibrated on {CALIBRATION_SAMPLES} other inputs: "
              f"relative error {error:.3g} (bound {INT8_BOUND})")
        self.assertLessEqual(error, INT8_BOUND)

    def test_infer_without_calibration_warns_of_random_inputs(self):
        out = os.path.join(self.dir.name, "random.bin")
        result = self.infer(out)
        self.assertIn("calibrated on 16 seeded random inputs", result.stderr)
        self.assertIn("--calibration FILE", result.stderr)
        error = relative_error(floats(out), self.expected.ravel())
        print(f"resnet50 onednn int8 calibrated on random inputs: relative error {error:.3g}")

    def test_serve_calibrated_on_the_users_data_over_kserve(self):
        served = 8
        request = os.path.join(self.dir.name, "request.bin")
        floats(self.evaluation).reshape(CALIBRATION_SAMPLES, -1)[:served].tofile(request)
        out = os.path.join(self.dir.name, "served_int8.bin")
        serve_and_call(self.onnx, "onednn", request, out, "--precision", "int8",
                       "--calibration", self.calibration, "--max-batch", str(served))
        error = relative_error(floats(out), self.expected[:served].ravel())
        print(f"resnet50 served by onednn int8, calibrated: relative error {error:.3g}")
        self.assertLessEqual(error, INT8_BOUND)


def client(url, model, input_path, output_path):
    """Runs in the venv: one KServe v2 call by Triton's client with PyTorch's input."""
    import tritonclient.grpc as grpcclient

    triton = grpcclient.InferenceServerClient(url=url)
    metadata = triton.get_model_metadata(model)
    x = np.fromfile(input_path, dtype=np.float32).reshape(
        [-1] + [int(d) for d in metadata.inputs[0].shape[1:]])
    request = grpcclient.InferInput(metadata.inputs[0].name, list(x.shape), "FP32")
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
