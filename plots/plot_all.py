#!/usr/bin/python3
"""Draws every figure a results file supports and writes report.md beside them.

Usage: /usr/bin/python3 plots/plot_all.py FILE.h5 --out DIR   (what `sonicbench plot` runs)
"""

import argparse
import sys

import fig_batch_scan
import fig_dynamic_batching
import fig_latency_distribution
import fig_roc
import fig_saturation
import fig_throughput_vs_clients
import fig_trend
import report

FIGURES = (fig_latency_distribution, fig_throughput_vs_clients, fig_batch_scan,
           fig_dynamic_batching, fig_saturation, fig_roc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--out", default="figures")
    parser.add_argument("--trend", action="store_true",
                        help="also draw the nightly trend across the file's runs")
    args = parser.parse_args()
    paths = []
    try:
        for module in FIGURES + ((fig_trend,) if args.trend else ()):
            paths += module.draw(args.results, args.out)
    except (OSError, KeyError, ValueError, TypeError) as error:
        # h5py's errors for a missing, damaged or foreign file: one line, as sonicbench prints
        # them (docs/CLI.md: exit 2, the input file cannot be read).
        print(f"plot_all.py: error: {args.results}: not a readable sonicbench results file: "
              f"{error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    print(report.write(args.results, args.out, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
