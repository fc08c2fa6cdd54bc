#!/usr/bin/python3
"""Integration tests of the `sonicbench` command line: runs the built binary as a user would and
checks exit codes, messages and --json output.

Usage: cli_test.py PATH/TO/sonicbench [unittest arguments, e.g. CliTest.test_models_lists_resnet50]
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

SONICBENCH = None  # set from argv[1]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def run(*args, timeout=240):
    return subprocess.run([SONICBENCH, *args], capture_output=True, text=True, timeout=timeout)


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number, payload):
    """A protobuf field: an int is a varint, bytes are length-delimited."""
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def relu_model(per_sample_dims):
    """A serialized onnx.ModelProto: y = Relu(x), x of FLOAT [batch, *per_sample_dims]. Written
    by hand so that the test needs no onnx module."""
    dims = field(1, field(2, b"batch")) + b"".join(field(1, field(1, d)) for d in per_sample_dims)
    tensor_type = field(1, field(1, 1) + field(2, dims))  # elem_type FLOAT, shape
    graph = (field(1, field(1, b"x") + field(2, b"y") + field(4, b"Relu")) + field(2, b"relu") +
             field(11, field(1, b"x") + field(2, tensor_type)) +
             field(12, field(1, b"y") + field(2, tensor_type)))
    return field(1, 7) + field(7, graph) + field(8, field(2, 13))


class CliTest(unittest.TestCase):
    def assert_exit(self, result, code):
        self.assertEqual(result.returncode, code,
                         f"exit {result.returncode}, expected {code}\n"
                         f"stdout: {result.stdout}\nstderr: {result.stderr}")

    def test_models_lists_resnet50(self):
        result = run("models")
        self.assert_exit(result, EXIT_OK)
        self.assertIn("resnet50", result.stdout)
        result = run("models", "--json")
        self.assert_exit(result, EXIT_OK)
        models = {m["name"]: m for m in json.loads(result.stdout)["models"]}
        self.assertEqual(models["resnet50"]["input_shape"], [3, 224, 224])
        self.assertIn("jet_cnn", models)

    def test_infer_check_json(self):
        result = run("infer", "--backend", "reference", "--model", "jet_cnn", "--batch", "2",
                     "--iterations", "3", "--check", "--json")
        self.assert_exit(result, EXIT_OK)
        report = json.loads(result.stdout)
        self.assertEqual(report["batch"], 2)
        self.assertEqual(report["iterations"], 3)
        self.assertEqual(report["precision"], "fp32")
        latency = report["latency_ms"]
        self.assertGreater(latency["min"], 0)
        self.assertLessEqual(latency["min"], latency["p50"])
        self.assertLessEqual(latency["p50"], latency["p90"])
        self.assertLessEqual(latency["p90"], latency["p99"])
        self.assertGreater(report["throughput_img_s"], 0)
        self.assertGreater(report["gflop_s"], 0)
        check = report["check"]
        self.assertTrue(check["passed"])
        self.assertLess(check["relative_error"], 1e-6)  # the reference against itself
        self.assertEqual(check["top1_agreement"], 1.0)

    def test_accuracy_judges_jets_and_a_failed_backend_is_its_own_row(self):
        with tempfile.TemporaryDirectory() as folder:
            jets = os.path.join(folder, "jets.h5")
            self.assert_exit(run("dataset", "generate", "--kind", "top-tagging", "--jets", "40",
                                 "--seed", "3", "--out", jets), EXIT_OK)
            # The reference against itself deviates by nothing; an AUC is a probability.
            result = run("accuracy", "--model", "jet_cnn", "--dataset", jets, "--backend",
                         "reference", "--batch", "16", "--json")
            self.assert_exit(result, EXIT_OK)
            report = json.loads(result.stdout)
            self.assertEqual((report["samples"], report["signal"], report["background"]),
                             (40, 20, 20))
            [cell] = report["cells"]
            self.assertTrue(cell["ran"])
            self.assertEqual(cell["max_abs_deviation"], 0)
            self.assertTrue(0 <= cell["auc"] <= 1)
            # A backend that cannot run with the options given fails its own row, naming why;
            # the others still run.
            result = run("accuracy", "--model", "jet_cnn", "--dataset", jets, "--backend",
                         "reference,null", "--backend-options", "latency_us=1", "--json")
            self.assert_exit(result, EXIT_FAILURE)
            cells = {c["backend"]: c for c in json.loads(result.stdout)["cells"]}
            self.assertFalse(cells["reference"]["ran"])
            self.assertIn("backend options 'latency_us=1'", cells["reference"]["error"])
            self.assertTrue(cells["null"]["ran"], cells["null"])
            self.assert_exit(run("accuracy", "--model", "jet_cnn", "--dataset", jets,
                                 "--backend", "reference", "--signal-class", "2"), EXIT_USAGE)

    def test_bad_backend_names_known_ones(self):
        result = run("infer", "--backend", "tpu9000", "--model", "jet_cnn")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("tpu9000", result.stderr)
        self.assertIn("reference", result.stderr)

    def test_batch_zero_is_usage_error(self):
        result = run("infer", "--backend", "reference", "--model", "jet_cnn", "--batch", "0")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("--batch", result.stderr)
        result = run("infer", "--backend", "reference", "--model", "jet_cnn", "--iterations", "0")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("--iterations", result.stderr)

    def test_missing_onnx_is_usage_error(self):
        result = run("infer", "--backend", "reference", "--onnx", "/nonexistent/model.onnx")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("/nonexistent/model.onnx", result.stderr)
        result = run("infer", "--backend", "reference", "--model", "nosuchnet")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("resnet50", result.stderr)  # names the known models

    def test_infer_out_of_memory_names_the_tensor(self):
        # 2^49 floats per sample (2 PiB): more than any address space holds.
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "huge.onnx")
            with open(path, "wb") as out:
                out.write(relu_model([1 << 24, 1 << 25]))
            result = run("infer", "--backend", "reference", "--onnx", path, "--iterations", "1")
        self.assert_exit(result, EXIT_FAILURE)
        self.assertIn("out of memory allocating input 'x'", result.stderr)
        self.assertIn("2251799813685248 bytes", result.stderr)
        self.assertNotIn("internal error", result.stderr)

    def test_serve_out_of_memory_names_the_tensor(self):
        # The same 2 PiB sample: serve fails at startup naming the model's input, not bad_alloc.
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "huge.onnx")
            with open(path, "wb") as out:
                out.write(relu_model([1 << 24, 1 << 25]))
            result = run("serve", "--backend", "reference", "--onnx", path, "--port", "0",
                         "--max-batch", "1")
        self.assert_exit(result, EXIT_FAILURE)
        self.assertIn("out of memory allocating model 'huge' input", result.stderr)
        self.assertIn("2251799813685248 bytes", result.stderr)
        self.assertNotIn("internal error", result.stderr)

    def test_unsupported_precision_is_usage_error(self):
        result = run("infer", "--backend", "reference", "--model", "jet_cnn", "--precision",
                     "int8")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("int8", result.stderr)
        result = run("infer", "--backend", "reference", "--model", "jet_cnn", "--precision",
                     "fp64")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("fp32", result.stderr)  # names the accepted ones

    def test_help_has_examples(self):
        for command in ([], ["backends"], ["models"], ["infer"], ["sysinfo"]):
            result = run(*command, "--help")
            self.assert_exit(result, EXIT_OK)
            self.assertIn("Examples:", result.stdout, f"sonicbench {' '.join(command)} --help")
        self.assert_exit(run(), EXIT_USAGE)  # a subcommand is required
        self.assert_exit(run("infer", "--model", "jet_cnn"), EXIT_USAGE)  # --backend missing

    def test_device_and_backend_options_are_checked_before_any_work(self):
        result = run("infer", "--backend", "null", "--model", "jet_cnn",
                     "--backend-options", "latency_us=100", "--iterations", "2", "--json")
        self.assert_exit(result, EXIT_OK)
        self.assertEqual(json.loads(result.stdout)["backend"]["backend_options"], "latency_us=100")
        # The form of earlier versions: an option given as the device selector.
        result = run("infer", "--backend", "null", "--model", "jet_cnn",
                     "--device", "latency_us=100")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("takes no selector", result.stderr)
        self.assertIn("--backend-options", result.stderr)
        result = run("serve", "--backend", "null", "--model", "jet_cnn",
                     "--backend-options", "latency=5")
        self.assert_exit(result, EXIT_USAGE)
        self.assertIn("backend option 'latency=5' is unknown", result.stderr)

    def test_backends_and_sysinfo_json(self):
        result = run("backends", "--json")
        self.assert_exit(result, EXIT_OK)
        backends = {b["name"]: b for b in json.loads(result.stdout)["backends"]}
        self.assertIn("fp32", backends["reference"]["precisions"])
        self.assertTrue(backends["reference"]["available"])
        self.assertIn("latency_us=", backends["null"]["option_forms"])
        self.assertEqual(backends["null"]["device_forms"], "")
        result = run("sysinfo", "--json")
        self.assert_exit(result, EXIT_OK)
        info = json.loads(result.stdout)
        self.assertGreaterEqual(info["cpu"]["threads"], 1)
        self.assertGreater(info["memory_bytes"], 0)
        self.assertGreater(info["peaks"]["fp32_gflops_all"], 0)
        self.assertGreater(info["peaks"]["stream_triad_gbs"], 0)
        self.assertEqual(info["peaks"]["bf16_kernel"] != "", info["isa"]["avx512_bf16"])
        self.assertEqual(info["peaks"]["bf16_gflops_all"] > 0, info["isa"]["avx512_bf16"])
        # AMX: measured where /proc/cpuinfo lists the unit (the kernel enabled it), well above
        # half the vector peak of its precision; else 0, with an empty kernel field or the reason.
        peaks = info["peaks"]
        for unit, vector, rate in (("amx_bf16", "bf16_gflops_all", "amx_bf16_gflops_all"),
                                   ("amx_int8", "int8_gops_all", "amx_int8_gops_all")):
            kernel = peaks[f"{unit}_kernel"]
            # An OS that refuses the tile state (arch_prctl) leaves the peak 0, saying so.
            refused = kernel.startswith("amx: arch_prctl(ARCH_REQ_XCOMP_PERM) failed")
            if info["isa"]["amx_tile"] and info["isa"][unit] and not refused:
                self.assertEqual(kernel, unit)
                self.assertGreater(peaks[rate], 0.5 * peaks[vector])
            else:
                self.assertEqual(peaks[rate], 0)
                self.assertTrue(kernel == "" or kernel.startswith("amx: "), kernel)
        # The peak each precision's share of peak uses: its own precision's fastest measured unit.
        shares = peaks["share_peaks"]
        self.assertEqual(shares["fp32"], {"kernel": peaks["fp32_kernel"],
                                          "rate": peaks["fp32_gflops_all"]})
        for precision, amx in (("bf16", "amx_bf16"), ("int8", "amx_int8")):
            if peaks[f"{amx}_kernel"] == amx:
                self.assertEqual(shares[precision]["kernel"], amx)
        if peaks["amx_int8_kernel"] != "amx_int8":
            self.assertEqual(shares["int8"], {"kernel": peaks["int8_kernel"],
                                              "rate": peaks["int8_gops_all"]})
        result = run("sysinfo")
        self.assert_exit(result, EXIT_OK)
        self.assertIn(f"fp32 of the {peaks['fp32_kernel']} peak", result.stdout)
        result = run("sysinfo", "--json", "--no-peaks")
        self.assert_exit(result, EXIT_OK)
        self.assertIsNone(json.loads(result.stdout)["peaks"])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    SONICBENCH = sys.argv.pop(1)
    unittest.main()
