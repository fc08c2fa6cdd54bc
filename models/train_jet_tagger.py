#!/usr/bin/python3
"""Trains the jet_cnn top tagger on synthetic jets and exports it to ONNX (issue 19 section 1).

  train_jet_tagger.py --sonicbench PATH --out DIR [--train-jets 20000] [--test-jets 4000]
                      [--epochs 6] [--seed 1] [--threads 2]

`sonicbench dataset generate` makes the training jets (ttv 0, seed S) and the test jets (ttv 1,
seed S + 1000); `sonicbench dataset images` images them at 40x40x1 exactly as sonicbench feeds a
model (centre on the axis, pixel = pT / jet pT). The network is the built-in jet_cnn (models/
zoo.cpp: three conv-BN-ReLU blocks with 2x2 max, max and average pooling, 1600 -> 64 -> 2) with a
softmax, so output column 1 is P(top). Training: Adam (lr 1e-3, then 3e-4 for the last third),
batch 128, cross-entropy, on Debian's PyTorch on the CPU, seeded, deterministic algorithms.

Writes to DIR:
  jet_tagger.onnx          the trained tagger (opset 13, dynamic batch), graph name "jet_tagger"
  train_jets.h5, test_jets.h5              the jets (public top-tagging layout)
  train_images.h5, test_images.h5          their 40x40 images (sonicbench image sets)
  calibration.bin          the first 64 training images, raw float32: int8 calibration data
  torch_test_output.bin    PyTorch's [N, 2] softmax on the test images, raw float32
  test_labels.bin          the test labels (1 top, 0 QCD), raw int32
  meta.json                seeds, sizes, epochs, versions, seconds, PyTorch's test AUC and
                           background rejection 1/eB at signal efficiency 0.3 and 0.5

Reproducibility: the same command on the same torch build gives the same file bit for bit (the
jets are sonicbench's seeded generator; torch runs deterministic kernels with a fixed thread
count). Across CPUs, floating-point sums differ in the last bits, and the test AUC agrees within
0.005 (meta.json records it). On 2 cores the default run takes about 2 minutes.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

IMAGE_SIZE = 40
CALIBRATION_SAMPLES = 64
BATCH = 128
LEARNING_RATE = 1e-3


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sonicbench", required=True, help="the sonicbench binary")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--train-jets", type=int, default=20000)
    parser.add_argument("--test-jets", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for name in ("train_jets", "test_jets", "epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.train_jets < CALIBRATION_SAMPLES:
        parser.error(f"--train-jets must be at least {CALIBRATION_SAMPLES} (the calibration set)")
    return args


def sonicbench(binary, *args):
    subprocess.run([binary, *args], check=True, stdout=subprocess.DEVNULL)


def make_images(binary, out, name, jets, seed, ttv):
    """Generates `jets` jets and their 40x40x1 images; returns (images [N,1,40,40], labels [N])."""
    import h5py
    jets_path = os.path.join(out, f"{name}_jets.h5")
    images_path = os.path.join(out, f"{name}_images.h5")
    sonicbench(binary, "dataset", "generate", "--kind", "top-tagging", "--jets", str(jets),
               "--seed", str(seed), "--ttv", str(ttv), "--out", jets_path)
    sonicbench(binary, "dataset", "images", "--in", jets_path, "--out", images_path, "--size",
               str(IMAGE_SIZE), "--channels", "1")
    with h5py.File(images_path, "r") as f:
        return np.asarray(f["images"], dtype=np.float32), np.asarray(f["labels"], dtype=np.int64)


def jet_cnn(torch):
    """The built-in jet_cnn (models/zoo.cpp BuildJetCnn), with a softmax."""
    from torch import nn

    def block(c_in, c_out, pool):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), pool]

    return nn.Sequential(*block(1, 16, nn.MaxPool2d(2)), *block(16, 32, nn.MaxPool2d(2)),
                         *block(32, 64, nn.AvgPool2d(2)), nn.Flatten(), nn.Linear(64 * 5 * 5, 64),
                         nn.ReLU(), nn.Linear(64, 2), nn.Softmax(dim=1))


def physics_metrics(labels, scores):
    """ROC AUC and background rejection 1/eB at signal efficiency 0.3 and 0.5 (the metrics of
    the top-tagging comparison, Kasieczka et al. 2019), by scikit-learn. A rejection is None when
    no background jet passes: it is then only known to exceed the number of background jets."""
    from sklearn.metrics import roc_auc_score, roc_curve
    fpr, tpr, _ = roc_curve(labels, scores)
    rejection = {}
    for efficiency in (0.3, 0.5):
        background = float(np.interp(efficiency, tpr, fpr))
        rejection[f"{efficiency}"] = 1.0 / background if background > 0 else None
    return {"auc": float(roc_auc_score(labels, scores)), "background_rejection": rejection,
            "background_jets": int(np.sum(labels == 0))}


def describe_rejection(metrics, efficiency):
    value = metrics["background_rejection"][efficiency]
    return f"{value:.1f}" if value is not None else f"> {metrics['background_jets']}"


def train(torch, model, images, labels, epochs, seed):
    """Adam with one step down of the learning rate; returns the seconds it took."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    # The softmax is the model's last layer (sonicbench serves probabilities); the loss takes
    # the log of it, clamped so that a saturated output cannot give -inf.
    loss_of = torch.nn.NLLLoss()
    started = time.monotonic()
    model.train()
    for epoch in range(epochs):
        if epoch == (2 * epochs) // 3:
            for group in optimiser.param_groups:
                group["lr"] = LEARNING_RATE * 0.3
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), BATCH):
            batch = order[start:start + BATCH]
            optimiser.zero_grad()
            loss = loss_of(torch.log(model(x[batch]).clamp_min(1e-12)), y[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    return time.monotonic() - started


def main(argv):
    args = parse_args(argv)
    import torch
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_images, train_labels = make_images(args.sonicbench, args.out, "train", args.train_jets,
                                             args.seed, 0)
    test_images, test_labels = make_images(args.sonicbench, args.out, "test", args.test_jets,
                                           args.seed + 1000, 1)
    train_images[:CALIBRATION_SAMPLES].tofile(os.path.join(args.out, "calibration.bin"))

    model = jet_cnn(torch)
    seconds = train(torch, model, train_images, train_labels, args.epochs, args.seed)
    with torch.no_grad():
        test_output = model(torch.from_numpy(test_images)).numpy().astype(np.float32)
    test_output.tofile(os.path.join(args.out, "torch_test_output.bin"))
    test_labels.astype(np.int32).tofile(os.path.join(args.out, "test_labels.bin"))

    import onnx
    path = os.path.join(args.out, "jet_tagger.onnx")
    torch.onnx.export(model, torch.from_numpy(test_images[:2]), path, opset_version=13,
                      input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})
    exported = onnx.load(path)
    exported.graph.name = "jet_tagger"  # the exporter names every graph "torch_jit"
    onnx.save(exported, path)

    metrics = physics_metrics(test_labels, test_output[:, 1])
    meta = {
        "model": "jet_cnn (trained top tagger)", "input_shape": [1, IMAGE_SIZE, IMAGE_SIZE],
        "output": "softmax [P(QCD), P(top)]", "seed": args.seed,
        "train_jets": args.train_jets, "test_jets": args.test_jets, "epochs": args.epochs,
        "batch": BATCH, "threads": args.threads, "training_seconds": round(seconds, 1),
        "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
        "test": metrics,
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    print(f"wrote {path}: test AUC {metrics['auc']:.4f}, 1/eB {describe_rejection(metrics, '0.3')} "
          f"at eS = 0.3 and {describe_rejection(metrics, '0.5')} at eS = 0.5, trained in "
          f"{seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
