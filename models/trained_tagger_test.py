#!/usr/bin/python3
"""The trained top tagger through every backend and precision (issue 19 sections 1 and 3).

Trains jet_cnn on synthetic top-tagging jets with models/train_jet_tagger.py (its defaults:
20000 training jets, 4000 test jets, seeded), then runs the test images through
`sonicbench accuracy --onnx jet_tagger.onnx --dataset test_images.h5` on every compiled backend and
precision that `sonicbench models --onnx jet_tagger.onnx --json` says runs the model, and compares
its AUC of P(top) with scikit-learn's roc_auc_score of PyTorch's own outputs on the same jets
(Debian's python3-sklearn):

  - fp32: every backend's AUC within 1e-4 of the AUC of PyTorch's own outputs on the same jets;
  - int8 (calibrated on the training jets, --calibration) and bfp8: within 0.005 of fp32's;
  - bf16 and every other precision: the AUC loss is printed;
  - the tagger served by `sonicbench serve` and judged by `accuracy --server` over KServe v2:
    the same AUC as PyTorch's within 1e-4;
  - a sweep with `accuracy = on` (local onednn at fp32 and int8, and the embedded server) stores
    each cell's AUC, rejections and ROC curve beside its speed: the same bounds against
    scikit-learn, and results/check_schema.py recomputes the AUC from the stored curve.

Everything is generated in a temporary directory. Run by CTest with /usr/bin/python3.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from serve_process import start_serve  # noqa: E402

FP32_AUC_BOUND = 1e-4
NARROW_AUC_LOSS_BOUND = 0.005  # int8 and bfp8 against fp32
NARROW = ("int8", "bfp8")
ARGS = None


class TrainedTagger(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        subprocess.run([sys.executable, os.path.join(HERE, "train_jet_tagger.py"),
                        "--sonicbench", ARGS.sonicbench, "--out", cls.dir.name], check=True)
        cls.labels = np.fromfile(cls.path("test_labels.bin"), dtype=np.int32)
        cls.torch_output = np.fromfile(cls.path("torch_test_output.bin"),
                                       dtype=np.float32).reshape(-1, 2)
        cls.torch_auc = roc_auc_score(cls.labels, cls.torch_output[:, 1])
        with open(cls.path("meta.json"), encoding="utf-8") as f:
            cls.meta = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir.name, name)

    def accuracy(self, backend, precisions):
        """`sonicbench accuracy` of one backend at `precisions` on the test images: its cells."""
        result = subprocess.run([ARGS.sonicbench, "accuracy", "--onnx", self.path("jet_tagger.onnx"),
                                 "--dataset", self.path("test_images.h5"), "--backend", backend,
                                 "--precision", ",".join(precisions), "--calibration",
                                 self.path("calibration.bin"), "--max-samples",
                                 str(len(self.labels)), "--json"],
                                check=True, capture_output=True, text=True)
        report = json.loads(result.stdout)
        self.assertEqual(report["samples"], len(self.labels))
        self.assertEqual(report["signal"], int(np.sum(self.labels == 1)))
        return report["cells"]

    def test_every_backend_and_precision_keeps_the_taggers_auc(self):
        self.assertAlmostEqual(self.meta["test"]["auc"], self.torch_auc, places=6,
                               msg="meta.json records the AUC of the outputs it wrote")
        torch_accuracy = accuracy_score(self.labels, self.torch_output.argmax(axis=1))
        result = subprocess.run([ARGS.sonicbench, "models", "--onnx", self.path("jet_tagger.onnx"),
                                 "--json"], check=True, capture_output=True, text=True)
        runs = {}
        for verdict in json.loads(result.stdout)["backends"]:
            if verdict["backend"] in ("reference", "onednn") and verdict["precision"] == "fp32":
                self.assertTrue(verdict["runs"], verdict["reason"])
            if verdict["runs"]:
                runs.setdefault(verdict["backend"], []).append(verdict["precision"])
            else:
                print(f"{verdict['backend']} {verdict['precision']}: not run: {verdict['reason']}")
        print(f"trained jet_cnn, {len(self.labels)} test jets; PyTorch AUC {self.torch_auc:.5f}")
        for backend, precisions in runs.items():
            cells = {c["precision"]: c for c in self.accuracy(backend, precisions)}
            fp32 = cells["fp32"]["auc"]
            for precision, cell in cells.items():
                with self.subTest(backend=backend, precision=precision):
                    self.assertTrue(cell["ran"], cell.get("error"))
                    print(f"  {backend:<10} {precision:<5} AUC {cell['auc']:.5f} "
                          f"(PyTorch {cell['auc'] - self.torch_auc:+.1e}, fp32 "
                          f"{cell['auc'] - fp32:+.5f}), accuracy {cell['accuracy']:.4f}, "
                          f"max |d| {cell['max_abs_deviation']:.2g}")
                    if precision == "fp32":
                        self.assertLessEqual(abs(cell["auc"] - self.torch_auc), FP32_AUC_BOUND)
                        # A handful of jets at P(top) ~ 0.5 may flip: within 0.1%.
                        self.assertLessEqual(abs(cell["accuracy"] - torch_accuracy), 1e-3)
                    elif precision in NARROW:
                        self.assertLessEqual(fp32 - cell["auc"], NARROW_AUC_LOSS_BOUND)
                    if backend == "reference" and precision == "fp32":
                        self.assertEqual(cell["max_abs_deviation"], 0.0, "the reference itself")

    def test_a_served_tagger_is_judged_through_kserve(self):
        server, banner = start_serve(ARGS.sonicbench,
                                     ["--onnx", self.path("jet_tagger.onnx"), "--backend", "onednn",
                                      "--port", "0", "--max-batch", "256"])
        try:
            result = subprocess.run([ARGS.sonicbench, "accuracy", "--onnx",
                                     self.path("jet_tagger.onnx"), "--dataset",
                                     self.path("test_images.h5"), "--server", banner["address"],
                                     "--max-samples", str(len(self.labels)), "--json"],
                                    check=True, capture_output=True, text=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
            server.stdout.close()
        [cell] = json.loads(result.stdout)["cells"]
        self.assertTrue(cell["ran"], cell.get("error"))
        print(f"  served by onednn over KServe: AUC {cell['auc']:.5f} "
              f"(PyTorch {cell['auc'] - self.torch_auc:+.1e})")
        self.assertLessEqual(abs(cell["auc"] - self.torch_auc), FP32_AUC_BOUND)

    def test_a_sweep_stores_each_cells_physics_beside_its_speed(self):
        results = self.path("sweep.h5")
        subprocess.run([ARGS.sonicbench, "sweep", "--model", self.path("jet_tagger.onnx"),
                        "--backend", "onednn", "--precision", "fp32,int8", "--target",
                        "local,remote", "--batch", "16", "--inputs", self.path("test_images.h5"),
                        "--calibration", self.path("calibration.bin"), "--accuracy", "on",
                        "--accuracy-samples", str(len(self.labels)), "--warmup-s", "0.2",
                        "--min-duration-s", "0.5", "--max-duration-s", "2", "--min-requests",
                        "10", "--no-peak", "--out", results], check=True)
        subprocess.run([sys.executable, os.path.join(HERE, "..", "results", "check_schema.py"),
                        results], check=True)
        import h5py
        with h5py.File(results, "r") as f:
            rows = next(iter(f["runs"].values()))["cells"][()]
        self.assertEqual(len(rows), 4)
        torch_accuracy = accuracy_score(self.labels, self.torch_output.argmax(axis=1))
        fp32 = {}
        for row in rows:
            where = f"{row['target'].decode()} {row['precision'].decode()}"
            with self.subTest(cell=where):
                self.assertEqual(row["status"].decode(), "ok" if row["converged"] else
                                 "not_converged")
                self.assertEqual(row["accuracy_error"].decode(), "")
                self.assertEqual(row["accuracy_samples"], len(self.labels))
                self.assertGreater(row["throughput_inferences_per_s"], 0)
                print(f"  sweep {where:<12} AUC {row['roc_auc']:.5f} (PyTorch "
                      f"{row['roc_auc'] - self.torch_auc:+.1e}), "
                      f"{row['throughput_inferences_per_s']:.0f} inf/s")
                if row["precision"] == b"fp32":
                    self.assertLessEqual(abs(row["roc_auc"] - self.torch_auc), FP32_AUC_BOUND)
                    self.assertLessEqual(abs(row["accuracy"] - torch_accuracy), 1e-3)
                    fp32[row["target"]] = row["roc_auc"]
        for row in rows:
            if row["precision"] == b"int8":
                self.assertLessEqual(fp32[row["target"]] - row["roc_auc"], NARROW_AUC_LOSS_BOUND)
        # The figures of a file whose model is an ONNX path: named after the file's stem.
        figures = self.path("figures")
        subprocess.run([ARGS.sonicbench, "plot", results, "--out", figures], check=True,
                       capture_output=True)
        self.assertTrue(os.path.getsize(os.path.join(figures, "roc_jet_tagger.png")) > 1000)
        with open(os.path.join(figures, "report.md"), encoding="utf-8") as f:
            self.assertIn("the paper's claim holds for this tagger here", f.read())


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sonicbench", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
