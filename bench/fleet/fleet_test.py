#!/usr/bin/python3
"""Integration tests of client fleets (MPI) and of several servers, run as a user would: the built
`sonicbench` under `mpirun`, against its embedded server or `sonicbench serve` processes on
loopback, then the results file read back with h5py. Expectations are independent of the code
under test: the sum of the per-rank counts, percentiles recomputed from the concatenated raw
records, request counts seen by the servers.

Usage: fleet_test.py PATH/TO/sonicbench MPIRUN [unittest arguments, e.g. FleetTest.test_merge]
MPIRUN is "-" when the build has no MPI (then ServersTest and NoMpiTest run, not FleetTest).
"""

import math
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

import h5py
import numpy as np

SONICBENCH = None  # set from argv[1]
MPIRUN = None  # argv[2]

# A short remote cell against the null backend: the fleet's machinery, not a model, is tested.
SHORT = ["--backend", "null", "--model", "jet_cnn", "--warmup-s", "0.3", "--min-duration-s", "1",
         "--ci-percent", "50", "--min-requests", "10", "--no-peak"]


def mpirun(ranks, *args, extra=(), env=None, timeout=240):
    command = [MPIRUN, "-n", str(ranks), "--oversubscribe", "--allow-run-as-root", *extra,
               SONICBENCH, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def open_results(path, wait_s=20.0):
    """Opens the results file for reading. mpirun can return while a rank it killed still holds
    the file's HDF5 lock (the lock goes with the process's last descriptor); a rank left
    running holds it for good, and then this fails."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return h5py.File(path, "r")
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def cells(path):
    with open_results(path) as f:
        run = f["runs"][list(f["runs"])[-1]]
        table = run["cells"][:]
        groups = run["cell"]
        return run.attrs["complete"], table, {
            name: {key: groups[name][key][:] for key in groups[name]} for name in groups
        }, {name: dict(groups[name]["ranks"].attrs) if "ranks" in groups[name] else None
            for name in groups}


def nearest_rank(values, q):
    return values[max(1, math.ceil(q * len(values))) - 1]


class Serve:
    """A `sonicbench serve` process on a free loopback port."""

    def __init__(self, backend="null"):
        self.process = subprocess.Popen(
            [SONICBENCH, "serve", "--backend", backend, "--model", "jet_cnn", "--port", "0"],
            stdout=subprocess.PIPE, text=True)
        for line in self.process.stdout:
            match = re.search(r"listening on (\S+)", line)
            if match:
                self.address = match.group(1)
                return
        raise RuntimeError("sonicbench serve did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


class Case(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.dir.name, "r.h5")

    def tearDown(self):
        self.dir.cleanup()

    def assert_exit(self, result, code):
        self.assertEqual(result.returncode, code,
                         f"exit {result.returncode}, expected {code}\n"
                         f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}")


class FleetTest(Case):
    def test_merged_counts_and_percentiles_match_the_ranks(self):
        # 6 clients over 4 ranks: shares 2, 2, 1, 1 (the remainder goes to the first ranks).
        result = mpirun(4, "sweep", "--target", "remote", *SHORT, "--concurrency", "6",
                        "--out", self.out)
        self.assert_exit(result, 0)
        complete, table, groups, attrs = cells(self.out)
        self.assertTrue(complete)
        row, group = table[0], groups["0"]
        ranks = group["ranks"]
        self.assertEqual(list(ranks["rank"]), [0, 1, 2, 3])
        self.assertEqual(list(ranks["concurrency"]), [2, 2, 1, 1])
        self.assertEqual(int(row["completed_requests"]), int(ranks["completed_requests"].sum()))
        self.assertGreater(int(ranks["completed_requests"].min()), 0)
        self.assertEqual(int(row["latency_count"]), int(row["completed_requests"]))
        self.assertAlmostEqual(float(row["throughput_requests_per_s"]),
                               float(ranks["throughput_requests_per_s"].sum()), delta=1e-6)
        self.assertAlmostEqual(float(row["client_cpu_user_s"]),
                               float(ranks["client_cpu_user_s"].sum()), delta=1e-9)
        # Percentiles of the merged histogram against the concatenated raw records.
        raw = group["raw_records"]
        self.assertFalse(bool(row["raw_records_truncated"]))
        self.assertEqual(len(raw), int(row["completed_requests"]))
        self.assertEqual(sorted(set(raw["worker"])), list(range(6)))
        latencies = np.sort(raw["received_ns"] - raw["scheduled_ns"])
        for name, q in {"p50_ns": 0.5, "p90_ns": 0.9, "p99_ns": 0.99}.items():
            exact = float(nearest_rank(latencies, q))
            self.assertLessEqual(abs(float(row["latency_" + name]) - exact), exact / 256 + 1e-6,
                                 name)
        # The alignment estimate is there, and consistent with the per-rank windows.
        fleet = attrs["0"]
        self.assertGreaterEqual(int(fleet["alignment_error_ns"]),
                                int(ranks["window_start_ns"].max() - ranks["window_start_ns"].min()))
        self.assertLess(int(fleet["alignment_error_ns"]), 500_000_000)
        # The ranks share one monotonic clock here, so the true offsets are 0: each estimate must
        # be within its uncertainty (half a round trip) of it.
        for offset, uncertainty in zip(ranks["clock_offset_ns"], ranks["clock_offset_uncertainty_ns"]):
            self.assertLessEqual(abs(int(offset)), int(uncertainty) + 1)
        # One embedded server, started by rank 0 alone, saw every request.
        servers = group["servers"]
        self.assertEqual(len(servers), 1)
        self.assertGreaterEqual(int(servers["requests"][0]), int(row["completed_requests"]))
        # The server counted what the clients saw, plus one untimed round trip per client; its
        # counters may lag the last reply of each client.
        seen = int(servers["requests"][0]) + 6
        self.assertLessEqual(int(row["server_request_count"]), seen)
        self.assertGreaterEqual(int(row["server_request_count"]), seen - 6)

    def test_one_rank_behaves_as_without_mpi(self):
        result = mpirun(1, "sweep", "--target", "remote", *SHORT, "--out", self.out)
        self.assert_exit(result, 0)
        _, table, groups, _ = cells(self.out)
        self.assertNotIn("ranks", groups["0"])
        self.assertGreater(int(table[0]["completed_requests"]), 0)

    def test_a_rank_that_dies_fails_its_cell_and_keeps_the_finished_ones(self):
        # mpirun's defaults: SIGTERM to every rank, SIGKILL within milliseconds.
        result = mpirun(4, "sweep", "--target", "remote", *SHORT, "--concurrency", "4,5,6",
                        "--out", self.out, extra=["-x", "SONIC_FLEET_TEST_EXIT_RANK",
                                                  "-x", "SONIC_FLEET_TEST_EXIT_CELL"],
                        env={"SONIC_FLEET_TEST_EXIT_RANK": "2", "SONIC_FLEET_TEST_EXIT_CELL": "1"})
        self.assertNotEqual(result.returncode, 0)
        complete, table, _, _ = cells(self.out)
        self.assertFalse(complete)
        self.assertEqual(len(table), 2, table["status"])
        self.assertNotEqual(table[0]["status"].decode(), "failed")
        self.assertEqual(table[1]["status"].decode(), "failed")
        self.assertIn("the job ended during this cell", table[1]["error_message"].decode())
        self.assertEqual(int(table[1]["index"]), 1)

    def test_with_recovery_the_survivors_name_the_lost_rank(self):
        # --enable-recovery keeps the survivors running: rank 0 waits --fleet-timeout-s for the
        # lost rank's result, then records the cell and aborts the job.
        result = mpirun(4, "sweep", "--target", "remote", *SHORT, "--concurrency", "4,5",
                        "--fleet-timeout-s", "3", "--out", self.out,
                        extra=["--enable-recovery", "-x", "SONIC_FLEET_TEST_EXIT_RANK",
                               "-x", "SONIC_FLEET_TEST_EXIT_CELL"],
                        env={"SONIC_FLEET_TEST_EXIT_RANK": "2", "SONIC_FLEET_TEST_EXIT_CELL": "1"})
        complete, table, _, _ = cells(self.out)
        self.assertFalse(complete, result.stderr)
        self.assertEqual(len(table), 2)
        message = table[1]["error_message"].decode()
        self.assertEqual(table[1]["status"].decode(), "failed")
        self.assertIn("rank 2", message)
        self.assertIn("lost", message)

    def test_an_invalid_configuration_stops_every_rank(self):
        result = mpirun(2, "sweep", "--backend", "nope", "--model", "jet_cnn", "--out", self.out,
                        timeout=120)
        self.assert_exit(result, 2)
        self.assertIn("unknown backend 'nope'", result.stderr)
        self.assertIn("rank 0 rejected the configuration", result.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_a_physics_measurement_is_refused_by_every_rank(self):
        inputs = self.out + ".inputs.bin"
        with open(inputs, "wb") as handle:
            handle.write(bytes(4 * 1600 * 2))
        result = mpirun(2, "sweep", *SHORT, "--inputs", inputs, "--accuracy", "on", "--out",
                        self.out, timeout=120)
        self.assert_exit(result, 2)
        self.assertIn("accuracy = on does not run under a fleet", result.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_a_fleet_spreads_over_two_servers(self):
        servers = [Serve(), Serve()]
        try:
            result = mpirun(2, "sweep", "--target", "remote", *SHORT, "--concurrency", "4",
                            "--server", ",".join(s.address for s in servers), "--out", self.out)
        finally:
            for s in servers:
                s.stop()
        self.assert_exit(result, 0)
        _, table, groups, _ = cells(self.out)
        shares = groups["0"]["servers"]
        self.assertEqual([a.decode() for a in shares["address"]], [s.address for s in servers])
        # Each rank alternates between the two: the merged shares differ by at most one per rank.
        self.assertLessEqual(abs(int(shares["requests"][0]) - int(shares["requests"][1])), 2)
        self.assertGreaterEqual(int(shares["requests"].sum()), int(table[0]["completed_requests"]))


class ServersTest(Case):
    def test_round_robin_and_least_loaded_over_two_servers(self):
        servers = [Serve("reference"), Serve("null")]
        try:
            addresses = ",".join(s.address for s in servers)
            rr = subprocess.run([SONICBENCH, "sweep", "--target", "remote", *SHORT,
                                 "--concurrency", "4", "--server", addresses, "--out", self.out],
                                capture_output=True, text=True, timeout=240)
            self.assert_exit(rr, 0)
            _, _, groups, _ = cells(self.out)
            even = groups["0"]["servers"]
            least = os.path.join(self.dir.name, "least.h5")
            ll = subprocess.run([SONICBENCH, "sweep", "--target", "remote", *SHORT,
                                 "--concurrency", "4", "--server", addresses,
                                 "--server-policy", "least_loaded", "--out", least],
                                capture_output=True, text=True, timeout=240)
            self.assert_exit(ll, 0)
            _, _, groups, _ = cells(least)
            skewed = groups["0"]["servers"]
        finally:
            for s in servers:
                s.stop()
        self.assertLessEqual(abs(int(even["requests"][0]) - int(even["requests"][1])), 1)
        # The null server answers sooner, so it has fewer in flight and gets more requests.
        self.assertGreater(int(skewed["requests"][1]), int(skewed["requests"][0]))
        report = subprocess.run([SONICBENCH, "report", least], capture_output=True, text=True)
        self.assert_exit(report, 0)
        for s in servers:
            self.assertIn(f"server {s.address}:", report.stdout)


class NoMpiTest(Case):
    def test_a_build_without_mpi_refuses_to_run_as_one_of_several_ranks(self):
        # What mpirun -n 2 would set; this build cannot talk to the other rank.
        result = subprocess.run([SONICBENCH, "sweep", "--target", "remote", *SHORT,
                                 "--out", self.out], capture_output=True, text=True, timeout=240,
                                env={**os.environ, "OMPI_COMM_WORLD_SIZE": "2"})
        self.assert_exit(result, 1)
        self.assertIn("built without MPI", result.stderr)
        self.assertFalse(os.path.exists(self.out))


if __name__ == "__main__":
    SONICBENCH, MPIRUN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]])
