#!/usr/bin/python3
"""Tests bench/micro/core_goals.py: on sysinfo and Google Benchmark JSON files written here, its
medians, per-round ratios, peak shares, bounds and verdicts must be the ones computed here from
those inputs; and one tiny real run (jet_cnn) with the real backend_benchmark and sonicbench must
write every file and a summary that reads them.

Usage: core_goals_test.py BACKEND_BENCHMARK SONICBENCH
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import unittest

BENCHMARK = SONICBENCH = None
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "core_goals.py")
GFLOP_PER_IMAGE = 8.0


def write_sysinfo(path, fp32, int8, bf16, share_peaks=None):
    """A `sysinfo --json` file with these vector peaks. `share_peaks` ({precision: (kernel,
    rate)}) stands for the peaks sysinfo names for shares; by default the vector ones."""
    if share_peaks is None:
        share_peaks = {"fp32": ("avx512f", fp32), "bf16": ("avx512_bf16", bf16),
                       "int8": ("avx512_vnni", int8)}
    with open(path, "w") as f:
        json.dump({"cpu": {"model_name": "Test CPU"},
                   "peaks": {"fp32_gflops_all": fp32, "int8_gops_all": int8,
                             "bf16_gflops_all": bf16,
                             "share_peaks": {p: {"kernel": kernel, "rate": rate}
                                             for p, (kernel, rate) in share_peaks.items()}}}, f)


def write_round(path, rows):
    """rows: {(precision, batch): img/s}, written as backend_benchmark's median aggregates."""
    benchmarks = []
    for (precision, batch), img_s in rows.items():
        run_name = f"onednn/test/{precision}/batch:{batch}/real_time"
        for aggregate, factor in (("mean", 0.5), ("median", 1.0)):
            benchmarks.append({
                "name": f"{run_name}_{aggregate}", "run_name": run_name, "run_type": "aggregate",
                "aggregate_name": aggregate, "time_unit": "ms",
                "real_time": 1e3 * batch / (img_s * factor), "items_per_second": img_s * factor,
                "GFLOP/s": img_s * factor * GFLOP_PER_IMAGE})
    benchmarks.append({"name": "onednn/test/int8/batch:1/real_time_median",
                       "run_name": "onednn/test/int8/batch:1/real_time", "run_type": "aggregate",
                       "aggregate_name": "median", "error_occurred": True,
                       "error_message": "skipped"})
    with open(path, "w") as f:
        json.dump({"context": {}, "benchmarks": benchmarks}, f)


def run_script(*args):
    return subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True)


class AnalyseTest(unittest.TestCase):
    # Three rounds whose fp32 speed drifts: the median of the per-round ratios differs from the
    # ratio of the medians, so the test tells which one the script reports.
    FP32 = [30.0, 20.0, 25.0]
    BF16 = [66.0, 50.0, 40.0]
    INT8 = [120.0, 60.0, 90.0]
    DIRECT = [24.0, 16.0, 20.0]

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="core_goals_")
        write_sysinfo(os.path.join(self.dir, "sysinfo_before.json"), 240.0, 960.0, 480.0)
        write_sysinfo(os.path.join(self.dir, "sysinfo_after.json"), 260.0, 1040.0, 520.0)
        for r in range(3):
            write_round(os.path.join(self.dir, f"round{r + 1}_default.json"),
                        {("fp32", 1): 30.0 + r, ("fp32", 16): self.FP32[r],
                         ("bf16", 16): self.BF16[r], ("int8", 16): self.INT8[r]})
            write_round(os.path.join(self.dir, f"round{r + 1}_direct.json"),
                        {("fp32", 16): self.DIRECT[r]})

    def tearDown(self):
        shutil.rmtree(self.dir)

    def summary(self):
        with open(os.path.join(self.dir, "summary.json")) as f:
            return json.load(f)

    def test_medians_ratios_shares_and_bounds(self):
        result = run_script("--analyse", self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        summary = self.summary()
        fp32 = summary["configs"]["fp32/default/batch:16"]
        self.assertAlmostEqual(fp32["img_s"], 25.0)
        self.assertAlmostEqual(fp32["share_of_peak"], 25.0 * GFLOP_PER_IMAGE / 250.0)
        self.assertAlmostEqual(summary["configs"]["fp32/default/batch:1"]["ms"], 1e3 / 31.0)
        self.assertNotIn("int8/default/batch:1", summary["configs"])  # skipped in every round
        bf16 = summary["ratios"]["bf16/default"]
        expected = [b / f for b, f in zip(self.BF16, self.FP32)]
        self.assertAlmostEqual(bf16["median"], statistics.median(expected))
        self.assertNotAlmostEqual(bf16["median"], statistics.median(self.BF16) / 25.0)
        self.assertAlmostEqual(bf16["min"], min(expected))
        direct = summary["ratios"]["int8/direct"]
        self.assertAlmostEqual(direct["median"],
                               statistics.median(i / d for i, d in zip(self.INT8, self.DIRECT)))
        goals = {goal["goal"]: goal for goal in summary["goals"]}
        self.assertFalse(goals["fp32 batch 16 >= 85% of the fp32 peak"]["met"])  # 80%
        self.assertFalse(goals["fp32 batch-1 latency <= 30 ms"]["met"])  # 32.3 ms
        self.assertTrue(goals["bf16 batch 16 >= 2.0x fp32"]["met"])  # 2.2, 2.5, 1.6
        # int8 at 100% of the mean VNNI peak (1000 GOP/s) against fp32's 200 GFLOP/s.
        self.assertAlmostEqual(goals["int8 batch 16 >= 3.5x fp32"]["bound"], 1000.0 / 200.0)
        self.assertIn("| bf16 | 16 | ", result.stdout)
        self.assertIn("2.20, 2.50, 1.60", result.stdout)

    def test_check_exits_3_when_a_goal_is_not_met(self):
        self.assertEqual(run_script("--analyse", self.dir, "--check").returncode, 3)

    def test_each_share_uses_the_peak_sysinfo_names_for_its_precision(self):
        amx = {"fp32": ("avx512f", 250.0), "bf16": ("amx_bf16", 4000.0),
               "int8": ("amx_int8", 8000.0)}
        write_sysinfo(os.path.join(self.dir, "sysinfo_before.json"), 250.0, 1000.0, 500.0, amx)
        # The AMX measurement failed after the rounds: its fallback peak is not averaged in.
        write_sysinfo(os.path.join(self.dir, "sysinfo_after.json"), 250.0, 1000.0, 500.0,
                      {**amx, "bf16": ("avx512_bf16", 500.0)})
        result = run_script("--analyse", self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        summary = self.summary()
        self.assertEqual(summary["peaks"], {"fp32": [250.0, 250.0], "bf16": [4000.0],
                                            "int8": [8000.0, 8000.0]})
        self.assertEqual(summary["peak_kernels"],
                         {"fp32": "avx512f", "bf16": "amx_bf16", "int8": "amx_int8"})
        bf16 = summary["configs"]["bf16/default/batch:16"]
        self.assertAlmostEqual(bf16["share_of_peak"], bf16["gflops"] / 4000.0)
        self.assertEqual(bf16["peak_kernel"], "amx_bf16")
        goals = {goal["goal"]: goal for goal in summary["goals"]}
        fp32_gflops = summary["configs"]["fp32/default/batch:16"]["gflops"]
        self.assertAlmostEqual(goals["int8 batch 16 >= 3.5x fp32"]["bound"], 8000.0 / fp32_gflops)
        self.assertIn(f"{100 * bf16['share_of_peak']:.1f}% of amx_bf16", result.stdout)
        self.assertIn("at 100% of its amx_int8 peak", result.stdout)
        self.assertIn("bf16 amx_bf16 4000.0;", result.stdout)

    def test_a_sysinfo_file_without_share_peaks_is_an_error_naming_it(self):
        path = os.path.join(self.dir, "sysinfo_after.json")
        with open(path, "w") as f:
            json.dump({"cpu": {"model_name": "Old CPU"}, "peaks": {"fp32_gflops_all": 1.0}}, f)
        result = run_script("--analyse", self.dir)
        self.assertEqual(result.returncode, 1)
        self.assertIn("sysinfo_after.json has no peaks.share_peaks", result.stderr)

    def test_a_folder_without_rounds_is_an_error_naming_it(self):
        os.remove(os.path.join(self.dir, "round1_default.json"))
        result = run_script("--analyse", self.dir)
        self.assertEqual(result.returncode, 1)
        self.assertIn("round1_default.json", result.stderr)


class RealRunTest(unittest.TestCase):
    def test_a_tiny_run_writes_every_file_and_the_table(self):
        out = tempfile.mkdtemp(prefix="core_goals_run_")
        try:
            result = run_script("--benchmark", BENCHMARK, "--sonicbench", SONICBENCH,
                                "--model", "jet_cnn", "--rounds", "2", "--repetitions", "1",
                                "--min-time", "0.01", "--out", out)
            self.assertEqual(result.returncode, 0, result.stderr)
            for name in ("sysinfo_before.json", "sysinfo_after.json", "round1_default.json",
                         "round2_direct.json", "summary.json"):
                self.assertTrue(os.path.exists(os.path.join(out, name)), name)
            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            for key in ("fp32/default/batch:1", "fp32/default/batch:16",
                        "fp32/direct/batch:16"):
                self.assertEqual(len(summary["configs"][key]["ms_per_round"]), 2)
                self.assertGreater(summary["configs"][key]["img_s"], 0)
            self.assertIn("fp32 batch-1 latency <= 30 ms", result.stdout)
        finally:
            shutil.rmtree(out)


if __name__ == "__main__":
    BENCHMARK, SONICBENCH = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
