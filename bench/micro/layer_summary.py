#!/usr/bin/python3
"""Sums onednn_layer_benchmark's per-layer times over a model: what its layers cost with the
implementations the onednn backend picks, with the fastest implementation of each layer, hot and
cold.

Reads the JSON files of `onednn_layer_benchmark --benchmark_out=FILE --benchmark_out_format=json`
(median aggregates where the run had repetitions, else the median of the runs) and prints, per
model, precision, batch and cache state:
- default ms: the sum over the model's layers of the default implementation's time, each distinct
  layer counted as often as the model has it;
- best ms: the same with each layer's fastest implementation, and default / best;
- then each layer on which an implementation beats the default by more than --threshold.
Where a group has both cache states, hot and cold sums sit side by side: the network's own time
(`ONEDNN_VERBOSE=1`, or backend_benchmark) lies between them, nearer cold where weights do not fit
in the last-level cache.

--exclude REGEX leaves out the alternatives whose implementation names match, e.g. `wino` for
the sums without Winograd kernels that cost accuracy (int8); a default is never left out.

Usage: layer_summary.py FILE.json [FILE.json ...] [--threshold 0.05] [--exclude REGEX]
"""
import argparse
import collections
import json
import re
import statistics
import sys

TIME_UNITS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def read_runs(paths, exclude=None):
    """{(model, precision, batch, layer, impl, cache): (ms, layers, is_default)}, without the
    non-default implementations whose names match `exclude`."""
    medians, samples = {}, collections.defaultdict(list)
    for path in paths:
        with open(path) as f:
            benchmarks = json.load(f)["benchmarks"]
        for run in benchmarks:
            if run.get("error_occurred"):
                continue
            parts = run["run_name"].split("/")
            if len(parts) != 7 or not parts[2].startswith("batch:"):
                raise ValueError(f"{path}: '{run['run_name']}' is not an onednn_layer_benchmark "
                                 "name (model/precision/batch:N/layer/implementation/cache/...)")
            key = (parts[0], parts[1], int(parts[2][len("batch:"):]), parts[3], parts[4], parts[5])
            value = (run["real_time"] * TIME_UNITS[run["time_unit"]], int(run["layers"]),
                     run["default"] == 1)
            if exclude and not value[2] and re.search(exclude, parts[4]):
                continue
            if run["run_type"] == "aggregate":
                if run.get("aggregate_name") == "median":
                    medians[key] = value
            else:
                samples[key].append(value)
    runs = dict(medians)
    for key, values in samples.items():
        if key not in runs:
            runs[key] = (statistics.median(v[0] for v in values), values[0][1], values[0][2])
    return runs


def summarise(runs, threshold):
    """Per (model, precision, batch, cache): sums and the layers where the default loses."""
    layers = collections.defaultdict(dict)  # group -> layer -> {impl: (ms, count, default)}
    for (model, precision, batch, layer, impl, cache), value in runs.items():
        layers[(model, precision, batch, cache)].setdefault(layer, {})[impl] = value
    summary = {}
    for group, by_layer in layers.items():
        default_ms = best_ms = 0.0
        losers = []
        for layer, impls in by_layer.items():
            defaults = [(ms, impl) for impl, (ms, _, is_default) in impls.items() if is_default]
            if len(defaults) != 1:
                raise ValueError(f"{'/'.join(map(str, group))}: layer {layer} has "
                                 f"{len(defaults)} default implementations, expected 1")
            count = next(iter(impls.values()))[1]
            default = defaults[0]
            best = min((ms, impl) for impl, (ms, _, _) in impls.items())
            default_ms += default[0] * count
            best_ms += best[0] * count
            if best[0] < default[0] * (1 - threshold):
                losers.append((layer, count, default, best))
        summary[group] = {"default_ms": default_ms, "best_ms": best_ms, "losers": sorted(losers)}
    return summary


def print_summary(summary, out=sys.stdout):
    models = sorted({group[:3] for group in summary})
    print(f"{'model/precision/batch':<28} {'cache':<5} {'default ms':>11} {'best ms':>9} "
          f"{'default/best':>12}", file=out)
    for model, precision, batch in models:
        for cache in ("hot", "cold"):
            s = summary.get((model, precision, batch, cache))
            if s is None:
                continue
            print(f"{f'{model}/{precision}/batch:{batch}':<28} {cache:<5} {s['default_ms']:>11.3f} "
                  f"{s['best_ms']:>9.3f} {s['default_ms'] / s['best_ms']:>12.3f}", file=out)
        hot = summary.get((model, precision, batch, "hot"))
        cold = summary.get((model, precision, batch, "cold"))
        if hot and cold:
            print(f"{'':<28} cold / hot (default): {cold['default_ms'] / hot['default_ms']:.3f}",
                  file=out)
    for (model, precision, batch, cache), s in sorted(summary.items()):
        for layer, count, default, best in s["losers"]:
            print(f"{model}/{precision}/batch:{batch} {cache}: {layer} (x{count}) default "
                  f"{default[1]} {default[0]:.3f} ms, {best[1]} {best[0]:.3f} ms", file=out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="onednn_layer_benchmark JSON outputs")
    parser.add_argument("--threshold", type=float, default=0.05,
                        help="list layers whose fastest implementation beats the default by more "
                             "than this fraction (default 0.05)")
    parser.add_argument("--exclude", metavar="REGEX",
                        help="leave out the non-default implementations whose names match")
    args = parser.parse_args()
    try:
        runs = read_runs(args.files, args.exclude)
        if not runs:
            raise ValueError("no successful runs in " + ", ".join(args.files))
        print_summary(summarise(runs, args.threshold))
    except (OSError, ValueError, KeyError, json.JSONDecodeError, re.error) as e:
        print(f"layer_summary: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
