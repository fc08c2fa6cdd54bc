#!/usr/bin/python3
"""Tests bench/peers/perf_analyzer_table.py on perf_analyzer CSVs written here in its format and
sonicbench CSVs from a real `sonicbench report --csv` of a tiny sweep: the table's medians and
ratios must be the ones computed here from those inputs.

Usage: perf_analyzer_table_test.py SONICBENCH
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import unittest

SONICBENCH = None
TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "perf_analyzer_table.py")
PA_HEADER = ("Concurrency,Inferences/Second,Client Send,Client Recv,p50 latency,p90 latency,"
             "p95 latency,p99 latency\n")


def write_pa(path, concurrency, rate, p50_us, p99_us, time_line=None):
    with open(path, "w") as f:
        f.write(PA_HEADER)
        f.write(f"{concurrency},{rate},0,0,{p50_us},{p50_us},{p99_us},{p99_us}\n")
    if time_line is not None:
        with open(path[:-len(".csv")] + ".time", "w") as f:
            f.write(time_line)


def table_line(output, concurrency):
    for line in output.splitlines():
        if line.split("|")[0].strip() == str(concurrency):
            return line
    raise AssertionError(f"no row for concurrency {concurrency} in:\n{output}")


class PerfAnalyzerTableTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pa_table_")
        results = os.path.join(cls.dir, "sweep.h5")
        subprocess.run([SONICBENCH, "sweep", "--target", "remote", "--backend", "null", "--model",
                        "jet_cnn", "--concurrency", "1,4", "--warmup-s", "0.1",
                        "--min-duration-s", "0.3", "--max-duration-s", "1", "--min-requests", "5",
                        "--no-peak", "--out", results], check=True, capture_output=True)
        cls.sb_csv = os.path.join(cls.dir, "sweep.csv")
        subprocess.run([SONICBENCH, "report", results, "--csv", cls.sb_csv], check=True,
                       capture_output=True)
        with open(cls.sb_csv, newline="") as f:
            cls.sb = {int(row["concurrency"]): row for row in csv.DictReader(f)}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def run_table(self, out, rounds, concurrencies, high):
        result = subprocess.run(["/usr/bin/python3", TABLE, out, "null", str(rounds),
                                 " ".join(map(str, concurrencies)), " ".join(map(str, high))],
                                check=True, capture_output=True, text=True)
        return result.stdout

    def write_sb(self, path, rate_factor):
        """The real report CSV with every cell's request rate scaled by `rate_factor`."""
        with open(self.sb_csv, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = reader.fieldnames
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                row["throughput_requests_per_s"] = str(
                    float(row["throughput_requests_per_s"]) * rate_factor)
                writer.writerow(row)

    def test_rows_are_medians_and_ratios_are_medians_of_the_rounds(self):
        out = tempfile.mkdtemp(dir=self.dir)
        # Per round: perf_analyzer's and sonicbench's rate as multiples of the sweep's. The
        # median of the per-round ratios (2.0 at c=1) differs from the ratio of the medians (1.25).
        pa_factors = {1: [0.5, 0.8, 1.1], 4: [0.9, 1.0, 3.0]}
        sb_factors = {1: [1.0, 2.0, 0.5], 4: [1.0, 1.05, 1.1]}
        for c in pa_factors:
            base = float(self.sb[c]["throughput_requests_per_s"])
            for r, (pa, sb) in enumerate(zip(pa_factors[c], sb_factors[c]), 1):
                write_pa(os.path.join(out, f"pa_c{c}_r{r}.csv"), c, base * pa, 100 * r, 400 * r,
                         time_line="10.0 2.0 1.0\n")
                self.write_sb(os.path.join(out, f"sb_c{c}_r{r}.csv"), sb)
        output = self.run_table(out, 3, [1, 4], [])
        for c in pa_factors:
            columns = table_line(output, c).split("|")
            base = float(self.sb[c]["throughput_requests_per_s"])
            rate_ratio = statistics.median(sb / pa for pa, sb in zip(pa_factors[c], sb_factors[c]))
            self.assertEqual(float(columns[3].split()[0]), round(rate_ratio, 3), columns)
            self.assertEqual(float(columns[1].split()[0]),
                             round(base * statistics.median(pa_factors[c])), columns)
            self.assertEqual(float(columns[2].split()[0]),
                             round(base * statistics.median(sb_factors[c])), columns)
            self.assertEqual(float(columns[1].split()[3]), 0.30, columns)  # (2 + 1) / 10 cores
            p50_ratio = statistics.median(
                float(self.sb[c]["latency_p50_ns"]) / 1e3 / (100 * r) for r in (1, 2, 3))
            agree = abs(rate_ratio - 1) <= 0.10 and abs(p50_ratio - 1) <= 0.10
            self.assertEqual(columns[4].split()[0], "yes" if agree else "no", columns)
        self.assertEqual(float(table_line(output, 1).split("|")[3].split()[0]), 2.0)
        self.assertNotIn("highest request rate", output)

    def test_highest_rate_is_each_tools_best(self):
        out = tempfile.mkdtemp(dir=self.dir)
        sb_best = max(float(row["throughput_requests_per_s"]) for row in self.sb.values())
        for c, sync, asynchronous in ((1, 10.0, 20.0), (4, 30.0, 5.0)):
            write_pa(os.path.join(out, f"pa_max_sync_c{c}.csv"), c, sync, 100, 200)
            write_pa(os.path.join(out, f"pa_max_async_c{c}.csv"), c, asynchronous, 100, 200)
            shutil.copy(self.sb_csv, os.path.join(out, f"sb_max_c{c}.csv"))
        output = self.run_table(out, 1, [], [1, 4])
        self.assertRegex(output, r"perf_analyzer sync :\s+30 req/s")
        self.assertRegex(output, r"perf_analyzer async:\s+20 req/s")
        self.assertRegex(output, rf"sonicbench\s+:\s+{sb_best:.0f} req/s")
        self.assertIn(f"sonicbench / perf_analyzer = {sb_best / 30.0:.3f}", output)


if __name__ == "__main__":
    SONICBENCH = sys.argv.pop(1)
    unittest.main()
