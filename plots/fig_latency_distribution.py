#!/usr/bin/python3
"""Figure 1: the latency per inference seen by the client, one histogram per deployment.

Local CPU inference, the service over loopback, and the service over the emulated edge and cloud
links, for each model at batch 1 (the paper's time-per-inference distributions).
"""

import numpy as np

import sonicplots as sp


def draw(path, out_dir):
    run = sp.latest_run(path)
    paths = []
    models = sorted({c["model"] for c in run.ok_cells(batch=1)})
    for model in models:
        # The deployment comparison is one client without server-side batching.
        cells = [c for c in run.ok_cells(batch=1, model=model)
                 if c.get("mode", "closed") == "closed" and c.get("concurrency", 1) == 1
                 and c.get("dynamic_batching", "") in ("", "off")]
        if not cells:
            continue
        fig, axis = sp.figure(f"{sp.model_name(model)}, batch 1: latency per inference", "latency (ms)",
                              "fraction of requests")
        curves = []
        for cell in sorted(cells, key=lambda c: c["latency_p50_ns"]):
            bounds, counts = run.histogram(cell)
            if counts.sum() > 0:
                curves.append((cell, bounds, counts))
        if not curves:
            continue
        lowest = min(b[c > 0].min() for _, b, c in curves)
        highest = max(b[c > 0].max() for _, b, c in curves)
        # Re-bin the log-linear buckets onto 60 shared log-spaced bins so the curves compare.
        edges = np.geomspace(max(lowest, 1e3) / 1.2, highest * 1.2, 61)
        for cell, bounds, counts in curves:
            name = sp.deployment(cell)
            label = f"{name} ({cell['backend']}): median {cell['latency_p50_ns'] / 1e6:.2f} ms"
            weights, _ = np.histogram(bounds, bins=edges, weights=counts)
            axis.stairs(weights / counts.sum(), edges / 1e6, label=label, color=sp.colour(name),
                        linewidth=1.6)
        axis.set_xscale("log")
        axis.legend(fontsize=8)
        axis.text(0.01, -0.16, sp.hardware_caption(run), transform=axis.transAxes, fontsize=7)
        paths += sp.save(fig, out_dir, f"latency_distribution_{sp.model_name(model)}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
