"""A broken OpenCL platform costs only the OpenCL backend (issue 22 §8).

Usage: opencl_probe_cli_test.py SONICBENCH ABORTING_ICD [unittest args]

ABORTING_ICD is testing/aborting_icd.cpp built as a library: it aborts the process, as PoCL does
in a container without /sys, when the ICD loader asks it for its platforms. OCL_ICD_VENDORS points
the loader at it alone.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

SONICBENCH = ""
ABORTING_ICD = ""
EXIT_OK, EXIT_UNAVAILABLE = 0, 4


def run(env, *args):
    return subprocess.run([SONICBENCH, *args], capture_output=True, text=True, timeout=120,
                          env=env)


class BrokenPlatformTest(unittest.TestCase):
    def setUp(self):
        self.vendors = tempfile.TemporaryDirectory()
        with open(os.path.join(self.vendors.name, "aborting.icd"), "w") as icd:
            icd.write(ABORTING_ICD + "\n")
        self.env = dict(os.environ, OCL_ICD_VENDORS=self.vendors.name)

    def tearDown(self):
        self.vendors.cleanup()

    def test_backends_lists_every_backend_and_says_what_failed(self):
        result = run(self.env, "backends", "--json")
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        backends = {b["name"]: b for b in json.loads(result.stdout)["backends"]}
        self.assertTrue(backends["reference"]["available"])
        opencl = backends["opencl"]
        self.assertFalse(opencl["available"])
        self.assertIn("crashed while listing its devices", opencl["unavailable_reason"])
        self.assertIn("signal 6", opencl["unavailable_reason"])
        self.assertIn("Not enough memory to run on this device", opencl["unavailable_reason"])

    def test_backends_table(self):
        result = run(self.env, "backends")
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        opencl = [line for line in result.stdout.splitlines() if line.startswith("opencl")]
        self.assertEqual(len(opencl), 1, result.stdout)
        self.assertIn("unavailable: the OpenCL platform crashed", opencl[0])

    def test_sysinfo_json(self):
        result = run(self.env, "sysinfo", "--json", "--no-peaks")
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        self.assertGreaterEqual(json.loads(result.stdout)["cpu"]["threads"], 1)

    def test_opencl_commands_fail_cleanly(self):
        result = run(self.env, "opencl-devices")
        self.assertEqual(result.returncode, EXIT_UNAVAILABLE, result.stderr)
        self.assertIn("crashed while listing its devices", result.stderr)
        result = run(self.env, "infer", "--backend", "opencl", "--model", "jet_cnn")
        self.assertEqual(result.returncode, EXIT_UNAVAILABLE, result.stderr)
        self.assertIn("crashed while listing its devices", result.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    SONICBENCH = sys.argv.pop(1)
    ABORTING_ICD = sys.argv.pop(1)
    unittest.main()
