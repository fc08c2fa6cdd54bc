#!/usr/bin/python3
"""Runs every figure entry point on a fixture file made by the suite and checks what it writes.

Usage: test_plots.py FIXTURE.h5 SONICBENCH OUT_DIR
"""

import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE, SONICBENCH, OUT = sys.argv[1:4]


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, cwd=HERE, check=False)


class Figures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Matplotlib's first import on a new machine prints one line while it builds its font
        # cache; building it here keeps the stderr checks about the entry points themselves.
        subprocess.run(["/usr/bin/python3", "-c", "import matplotlib.font_manager"],
                       capture_output=True, check=True)

    def setUp(self):
        shutil.rmtree(OUT, ignore_errors=True)

    def check_script(self, script, expected):
        result = run("/usr/bin/python3", os.path.join(HERE, script), FIXTURE, "--out", OUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        for name in expected:
            for ext in ("png", "svg"):
                path = os.path.join(OUT, f"{name}.{ext}")
                self.assertTrue(os.path.getsize(path) > 1000, path)

    def test_latency_distribution(self):
        self.check_script("fig_latency_distribution.py", ["latency_distribution_jet_cnn"])

    def test_throughput_vs_clients(self):
        self.check_script("fig_throughput_vs_clients.py", ["throughput_vs_clients_jet_cnn"])

    def test_batch_scan(self):
        self.check_script("fig_batch_scan.py", ["batch_throughput_jet_cnn", "batch_latency_jet_cnn"])

    def test_trend_spans_both_runs(self):
        self.check_script("fig_trend.py", ["trend_throughput", "trend_p99_latency"])

    def test_saturation_of_a_job_sweep(self):
        # Three job counts against the emulated device: one series, drawn with its knee. The
        # fixture's one and two clients are not a series.
        jobs = os.path.join(OUT + "_jobs", "jobs.h5")
        os.makedirs(os.path.dirname(jobs), exist_ok=True)
        sweep = run(SONICBENCH, "sweep", "--backend", "null", "--backend-options", "latency_us=1000",
                    "--model", "jet_cnn", "--target", "remote", "--event-work", "elsewhere:2",
                    "--concurrency", "1,2,4", "--warmup-s", "0.1", "--min-duration-s", "0.3",
                    "--max-duration-s", "2", "--min-requests", "5", "--no-peak", "--out", jobs)
        self.assertEqual(sweep.returncode, 0, sweep.stderr)
        result = run("/usr/bin/python3", os.path.join(HERE, "fig_saturation.py"), jobs, "--out",
                     OUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        for ext in ("png", "svg"):
            self.assertTrue(os.path.getsize(os.path.join(OUT, f"saturation_jet_cnn.{ext}")) > 1000)
        result = run("/usr/bin/python3", os.path.join(HERE, "fig_saturation.py"), FIXTURE, "--out",
                     OUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no cells for this figure", result.stdout)

    def test_dynamic_batching_without_remote_cells_draws_nothing(self):
        result = run("/usr/bin/python3", os.path.join(HERE, "fig_dynamic_batching.py"), FIXTURE,
                     "--out", OUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("no cells for this figure", result.stdout)

    def test_sonicbench_plot_draws_all_and_the_report(self):
        result = run(SONICBENCH, "plot", FIXTURE, "--out", OUT, "--trend")
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(OUT, "report.md")) as handle:
            report = handle.read()
        self.assertIn("| quantity | paper | measured |", report)
        self.assertIn("![batch_throughput_jet_cnn.png]", report)
        # The fixture's sweeps skip the peaks (--no-peak) but still record the host's cores.
        hardware = next(line for line in report.splitlines() if line.startswith("- hardware:"))
        self.assertRegex(hardware, r"; \d+ cores \(\d+ usable\)$")
        # One table row per cell of the newest run: 2 backends x 3 batches x 2 client counts.
        self.assertEqual(report.count("| local | none |"), 12)

    def test_report_puts_the_job_comparison_beside_the_papers(self):
        # A small main job: jobs each with their own model, and the same jobs sharing one server.
        work = OUT + "_main"
        os.makedirs(work, exist_ok=True)
        config = os.path.join(work, "main.conf")
        with open(config, "w") as handle:
            handle.write("[sweep]\nmodel = jet_cnn\nbackend = onednn\nevent_work = elsewhere:5\n"
                         "warmup_s = 0.1\nmin_duration_s = 0.4\nmax_duration_s = 2\n"
                         "min_requests = 5\nthreads = 1\n"
                         "[sweep.local]\ntarget = local\nconcurrency = 1, 2\n"
                         "[sweep.service]\ntarget = remote\ndynamic_batching = on\n"
                         "concurrency = 1, 2, 4\n")
        results = os.path.join(work, "main.h5")
        sweep = run(SONICBENCH, "sweep", "--config", config, "--no-peak", "--out", results)
        self.assertEqual(sweep.returncode, 0, sweep.stdout + sweep.stderr)
        result = run(SONICBENCH, "plot", results, "--out", OUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(OUT, "report.md")) as handle:
            report = handle.read()
        self.assertIn("the accelerator was played by the `onednn` backend at fp32", report)
        # The ratio of events/s at the most jobs both have, computed here from the file itself.
        import h5py
        with h5py.File(results, "r") as f:
            run_group = next(iter(f["runs"].values()))
            rows = run_group["cells"][()]
        events = {(r["target"].decode(), int(r["concurrency"])): float(r["throughput_events_per_s"])
                  for r in rows}
        expected = events[("remote", 2)] / events[("local", 2)]
        row = next(line for line in report.splitlines() if line.startswith("| events/s of 2 jobs"))
        self.assertAlmostEqual(float(row.rsplit("|", 2)[1]), expected, places=1)
        self.assertIn("| jobs that saturate the service", report)
        # The service cells' server metrics, their request counts the statistics RPC's.
        self.assertIn("## Server metrics", report)
        for r in rows:
            if r["target"].decode() == "remote":
                self.assertIn(f"| {int(r['index'])} | {int(r['concurrency'])} | "
                              f"{int(r['server_request_count'])} |", report)

    def test_physics_cells_get_their_roc_figure_and_report_rows(self):
        # accuracy = on over labelled synthetic jets: reference and onednn, fp32 and int8.
        work = OUT + "_physics"
        os.makedirs(work, exist_ok=True)
        jets = os.path.join(work, "jets.h5")
        generate = run(SONICBENCH, "dataset", "generate", "--kind", "top-tagging", "--jets", "300",
                       "--seed", "3", "--out", jets)
        self.assertEqual(generate.returncode, 0, generate.stderr)
        results = os.path.join(work, "physics.h5")
        sweep = run(SONICBENCH, "sweep", "--backend", "reference,onednn", "--model", "jet_cnn",
                    "--precision", "fp32,int8", "--batch", "4", "--inputs", jets, "--accuracy",
                    "on", "--accuracy-samples", "300", "--warmup-s", "0.1", "--min-duration-s",
                    "0.3", "--max-duration-s", "1", "--min-requests", "5", "--no-peak", "--out",
                    results)
        # Exit 1: a failed cell (reference has no int8), recorded beside the others.
        self.assertEqual(sweep.returncode, 1, sweep.stdout + sweep.stderr)
        result = run(SONICBENCH, "plot", results, "--out", OUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        for ext in ("png", "svg"):
            self.assertTrue(os.path.getsize(os.path.join(OUT, f"roc_jet_cnn.{ext}")) > 1000)
        with open(os.path.join(OUT, "report.md")) as handle:
            report = handle.read()
        self.assertIn("## Physics performance beside the paper's claim", report)
        import h5py
        with h5py.File(results, "r") as f:
            rows = next(iter(f["runs"].values()))["cells"][()]
        measured = [r for r in rows if r["accuracy_dataset"] and not r["accuracy_error"]]
        self.assertEqual(len(measured), 3)
        fp32 = next(r for r in measured if r["backend"] == b"onednn" and r["precision"] == b"fp32")
        for r in measured:
            delta = r["roc_auc"] - fp32["roc_auc"]
            line = next(line for line in report.splitlines()
                        if line.startswith(f"| {r['backend'].decode()} | "
                                           f"{r['precision'].decode()} | local |"))
            self.assertIn(f"| {r['roc_auc']:.5f} | {delta:+.5f} |", line)
        loss = max(fp32["roc_auc"] - r["roc_auc"] for r in measured if r["precision"] == b"int8")
        self.assertIn(f"lose at most {loss:.5f} AUC (onednn int8)", report)

    def test_plot_of_a_missing_file_is_a_usage_error(self):
        result = run(SONICBENCH, "plot", os.path.join(OUT, "missing.h5"), "--out", OUT)
        self.assertEqual(result.returncode, 2)
        self.assertIn("does not exist", result.stderr)

    def test_an_unreadable_file_is_one_line_and_exit_two(self):
        os.makedirs(OUT, exist_ok=True)
        not_results = os.path.join(OUT, "not_results.h5")
        with open(not_results, "w") as handle:
            handle.write("not HDF5")
        result = run("/usr/bin/python3", os.path.join(HERE, "plot_all.py"), not_results,
                     "--out", OUT)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertIn(not_results, result.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
