#!/usr/bin/python3
"""Tests bench/micro/layer_summary.py: on Google Benchmark JSON files written here, its sums over
a model's layers (each distinct layer counted as often as the model has it), default / best
ratios and slower-default listing must be the ones computed here from those inputs; bad inputs
must fail with exit 2 and a message naming the problem; and one tiny real run of
onednn_layer_benchmark (jet_cnn) must be read back.

Usage: layer_summary_test.py [ONEDNN_LAYER_BENCHMARK]
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

BENCHMARK = sys.argv.pop(1) if len(sys.argv) > 1 else None
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layer_summary.py")


def run_script(*args):
    return subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True)


def aggregate(run_name, ms, layers, is_default, name="median", unit="ms"):
    scale = {"ms": 1.0, "us": 1e3}[unit]
    return {"name": f"{run_name}_{name}", "run_name": run_name, "run_type": "aggregate",
            "aggregate_name": name, "time_unit": unit, "real_time": ms * scale,
            "layers": layers, "default": 1.0 if is_default else 0.0}


def iteration(run_name, ms, layers, is_default):
    return {"name": run_name, "run_name": run_name, "run_type": "iteration", "time_unit": "ms",
            "real_time": ms, "layers": layers, "default": 1.0 if is_default else 0.0}


def name(layer, impl, cache, precision="fp32", batch=16):
    return f"m/{precision}/batch:{batch}/{layer}/{impl}/{cache}/manual_time"


class SummaryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, benchmarks, filename="run.json"):
        path = os.path.join(self.dir.name, filename)
        with open(path, "w") as f:
            json.dump({"context": {}, "benchmarks": benchmarks}, f)
        return path

    def test_sums_count_each_layer_as_often_as_the_model_has_it(self):
        # Layer A occurs 3 times, default 2.0 ms, an alternative at 1.5 ms (25% faster: listed);
        # layer B once, default 4.0 ms and fastest. Cold: A 3.0 (default fastest), B 6.0 ms written
        # in microseconds, so units must be converted. Means are decoys: only medians may count.
        rows = [
            aggregate(name("A", "wino", "hot"), 2.0, 3, True),
            aggregate(name("A", "wino", "hot"), 99.0, 3, True, name="mean"),
            aggregate(name("A", "direct", "hot"), 1.5, 3, False),
            aggregate(name("B", "jit", "hot"), 4.0, 1, True),
            aggregate(name("B", "gemm", "hot"), 5.0, 1, False),
            aggregate(name("A", "wino", "cold"), 3.0, 3, True),
            aggregate(name("A", "direct", "cold"), 3.1, 3, False),
            aggregate(name("B", "jit", "cold"), 6.0, 1, True, unit="us"),
        ]
        result = run_script(self.write(rows))
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        hot_default, hot_best = 3 * 2.0 + 4.0, 3 * 1.5 + 4.0
        cold_default = 3 * 3.0 + 6.0
        hot = next(l for l in lines if l.startswith("m/fp32/batch:16") and " hot " in l).split()
        cold = next(l for l in lines if l.startswith("m/fp32/batch:16") and " cold " in l).split()
        self.assertAlmostEqual(float(hot[2]), hot_default, places=3)
        self.assertAlmostEqual(float(hot[3]), hot_best, places=3)
        self.assertAlmostEqual(float(hot[4]), hot_default / hot_best, places=3)
        self.assertAlmostEqual(float(cold[2]), cold_default, places=3)
        self.assertAlmostEqual(float(cold[3]), cold_default, places=3)
        ratio = next(l for l in lines if "cold / hot" in l)
        self.assertAlmostEqual(float(ratio.split()[-1]), cold_default / hot_default, places=3)
        listed = [l for l in lines if "default wino" in l or "default jit" in l]
        self.assertEqual(len(listed), 1, result.stdout)
        self.assertIn("hot: A (x3)", listed[0])
        self.assertIn("direct 1.500 ms", listed[0])

    def test_threshold_decides_what_is_listed(self):
        rows = [aggregate(name("A", "wino", "hot"), 2.0, 1, True),
                aggregate(name("A", "direct", "hot"), 1.95, 1, False)]
        path = self.write(rows)
        self.assertNotIn("(x1)", run_script(path).stdout)  # 2.5% faster: under the default 5%
        self.assertIn("(x1)", run_script(path, "--threshold", "0.01").stdout)

    def test_exclude_leaves_out_matching_alternatives_but_never_the_default(self):
        rows = [aggregate(name("A", "wino_x", "hot"), 2.0, 1, True),
                aggregate(name("A", "wino_y", "hot"), 1.0, 1, False),
                aggregate(name("A", "direct", "hot"), 1.5, 1, False)]
        result = run_script(self.write(rows), "--exclude", "wino")
        self.assertEqual(result.returncode, 0, result.stderr)
        hot = next(l for l in result.stdout.splitlines() if " hot " in l).split()
        self.assertAlmostEqual(float(hot[2]), 2.0, places=3)  # the default, although it matches
        self.assertAlmostEqual(float(hot[3]), 1.5, places=3)  # wino_y left out
        bad = run_script(self.write(rows), "--exclude", "(")
        self.assertEqual(bad.returncode, 2)

    def test_iterations_without_aggregates_give_their_median(self):
        rows = [iteration(name("A", "wino", "hot"), ms, 2, True) for ms in (1.0, 5.0, 2.0)]
        result = run_script(self.write(rows))
        self.assertEqual(result.returncode, 0, result.stderr)
        hot = next(l for l in result.stdout.splitlines() if " hot " in l).split()
        self.assertAlmostEqual(float(hot[2]), 2 * 2.0, places=3)

    def test_groups_are_kept_apart_across_files(self):
        first = self.write([aggregate(name("A", "x", "hot", "fp32", 1), 1.0, 1, True)], "a.json")
        second = self.write([aggregate(name("A", "x", "hot", "int8", 1), 0.25, 1, True)],
                            "b.json")
        result = run_script(first, second)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"m/fp32/batch:1 +hot +1\.000")
        self.assertRegex(result.stdout, r"m/int8/batch:1 +hot +0\.250")

    def test_bad_inputs_fail_with_a_message(self):
        not_ours = self.write([aggregate("onednn/resnet50/fp32/batch:1/real_time", 1.0, 1, True)])
        result = run_script(not_ours)
        self.assertEqual(result.returncode, 2)
        self.assertIn("not an onednn_layer_benchmark name", result.stderr)
        two_defaults = self.write([aggregate(name("A", "x", "hot"), 1.0, 1, True),
                                   aggregate(name("A", "y", "hot"), 2.0, 1, True)])
        result = run_script(two_defaults)
        self.assertEqual(result.returncode, 2)
        self.assertIn("2 default implementations, expected 1", result.stderr)
        failed = self.write([{"name": "x", "run_name": name("A", "x", "hot"),
                              "run_type": "iteration", "error_occurred": True}])
        result = run_script(failed)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no successful runs", result.stderr)
        result = run_script(os.path.join(self.dir.name, "missing.json"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("missing.json", result.stderr)


@unittest.skipUnless(BENCHMARK, "needs the onednn_layer_benchmark binary")
class RealRunTest(unittest.TestCase):
    def test_jet_cnn_run_is_summarised(self):
        with tempfile.TemporaryDirectory() as out:
            path = os.path.join(out, "jet.json")
            subprocess.run([BENCHMARK, "--model=jet_cnn", "--batches=1", "--precisions=fp32",
                            "--benchmark_min_time=0.001", f"--benchmark_out={path}",
                            "--benchmark_out_format=json"], check=True, capture_output=True)
            result = run_script(path)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertRegex(result.stdout, r"jet_cnn/fp32/batch:1 +hot ")
            self.assertRegex(result.stdout, r"jet_cnn/fp32/batch:1 +cold ")


if __name__ == "__main__":
    unittest.main()
