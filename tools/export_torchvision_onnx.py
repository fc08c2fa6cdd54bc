#!/usr/bin/python3
"""Exports a torchvision classifier to ONNX with random weights, plus a seeded input and PyTorch's
output for it, so that sonicbench's importer and its peers (ONNX Runtime, OpenVINO) can all run
the same file and be compared with PyTorch.

Run it with Debian's Python (/usr/bin/python3: python3-torch, python3-torchvision, python3-onnx,
numpy).

Writes into --out:
  model.onnx        opset 13, dynamic batch axis, graph named after --model, batch norm kept as
                    BatchNormalization nodes (not fused by the exporter) so that an importer's
                    own folding is exercised
  input.bin         float32, C order, shape [batch, 3, 224, 224], seeded: standard normal, or
                    with --inputs imagenet uniform [0, 1) pixels normalised with ImageNet's
                    per-channel mean and std (what a classifier trained on ImageNet is fed)
  torch_output.bin  float32, C order, shape [batch, classes]: PyTorch's eval-mode output for
                    input.bin (left out with --no-check)
  torch_bf16_output.bin  the same computed by PyTorch in bf16 (autocast): what bf16 costs this
                    model in PyTorch's own hands, the yardstick of another runtime's bf16 error
  meta.json         model, shapes, seed, opset, torch and torchvision versions
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
import torchvision

OPSET = 13
IMAGE_SHAPE = (3, 224, 224)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet50",
                        help="torchvision classifier name (default: resnet50)")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--batch", type=int, default=2,
                        help="batch size of input.bin and torch_output.bin (default: 2)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed for weights, batch-norm statistics and the input (default: 1)")
    parser.add_argument("--inputs", choices=["normal", "imagenet"], default="normal",
                        help="input.bin's distribution (default: normal)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip PyTorch's forward pass: no torch_output.bin (faster)")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error(f"--batch {args.batch} must be at least 1")
    classifiers = torchvision.models.list_models(module=torchvision.models)
    if args.model not in classifiers:
        parser.error(f"--model {args.model}: not a torchvision {torchvision.__version__} "
                     f"classifier; expected one of {', '.join(classifiers)}")
    return args


def randomize_batch_norm(model, generator):
    """Gives every batch norm statistics and affine parameters away from the identity.

    torchvision initialises batch norm to mean 0, variance 1, scale 1, shift 0, which folding
    would leave unchanged; such a model would not show a folding bug. The running statistics are
    first measured on one random batch (so activations keep a sane scale through the residual
    stream), then the scale and shift are drawn at random.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the statistics exactly
    model.train()
    with torch.no_grad():
        model(torch.randn((4, *IMAGE_SHAPE), generator=generator))
        for bn in norms:
            channels = bn.num_features
            bn.weight.copy_(torch.empty(channels).uniform_(0.5, 1.5, generator=generator))
            bn.bias.copy_(torch.empty(channels).normal_(0.0, 0.1, generator=generator))
    model.eval()


def main(argv):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    model = getattr(torchvision.models, args.model)(weights=None)
    randomize_batch_norm(model, generator)

    if args.inputs == "imagenet":
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (torch.rand((args.batch, *IMAGE_SHAPE), generator=generator) - mean) / std
    else:
        x = torch.randn((args.batch, *IMAGE_SHAPE), generator=generator)
    model_path = os.path.join(args.out, "model.onnx")
    # TrainingMode.PRESERVE with the model in eval mode exports inference-mode batch norm but
    # skips the exporter's eval peephole pass, which would fuse it into the convolutions.
    torch.onnx.export(model, x, model_path, opset_version=OPSET, input_names=["input"],
                      output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    # The exporter names every graph "torch_jit"; importers show the graph's name as the model's.
    exported = onnx.load(model_path)
    exported.graph.name = args.model
    onnx.save(exported, model_path)
    x.numpy().astype(np.float32).tofile(os.path.join(args.out, "input.bin"))

    output_shape = None
    if not args.no_check:
        with torch.no_grad():
            y = model(x)
        y.numpy().astype(np.float32).tofile(os.path.join(args.out, "torch_output.bin"))
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            y_bf16 = model(x).float()
        y_bf16.numpy().astype(np.float32).tofile(os.path.join(args.out, "torch_bf16_output.bin"))
        output_shape = list(y.shape)

    meta = {
        "model": args.model,
        "opset": OPSET,
        "seed": args.seed,
        "inputs": args.inputs,
        "input_shape": [args.batch, *IMAGE_SHAPE],
        "output_shape": output_shape,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {model_path} ({os.path.getsize(model_path) / 1e6:.1f} MB), input.bin"
          f"{'' if args.no_check else ', torch_output.bin'}, meta.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
