#!/usr/bin/python3
"""Figure 3: throughput and latency against batch size, one curve per backend and precision.

The paper's GPU comparison: an accelerator reaches its throughput only at large batch, while the
latency of one request grows with the batch.
"""

import sonicplots as sp


def draw(path, out_dir):
    run = sp.latest_run(path)
    paths = []
    cells = [c for c in run.ok_cells(concurrency=1) if c.get("mode", "closed") == "closed"]
    for model in sorted({c["model"] for c in cells}):
        curves = {}
        for cell in cells:
            if cell["model"] == model:
                key = (cell["backend"], cell["precision"], sp.deployment(cell))
                curves.setdefault(key, []).append(cell)
        curves = {k: v for k, v in curves.items() if len({c["batch"] for c in v}) > 1}
        if not curves:
            continue
        for metric, ylabel, value in (
            ("throughput", "inferences / s", lambda c: sp.throughput(c)),
            ("latency", "latency per request, p50 (ms) — bars: p90", None),
        ):
            fig, axis = sp.figure(f"{sp.model_name(model)}: {metric} against batch size", "batch size", ylabel)
            for (backend, precision, where), points in sorted(curves.items()):
                points.sort(key=lambda c: c["batch"])
                x = [c["batch"] for c in points]
                style = dict(marker="o", capsize=3, color=sp.colour(backend),
                             label=f"{backend} {precision}, {where}",
                             linestyle="-" if precision == "fp32" else ":")
                if value is not None:
                    y = [value(c)[0] for c in points]
                    err = [value(c)[1] for c in points]
                    axis.errorbar(x, y, yerr=err, **style)
                else:
                    y = [c["latency_p50_ns"] / 1e6 for c in points]
                    up = [(c["latency_p90_ns"] - c["latency_p50_ns"]) / 1e6 for c in points]
                    axis.errorbar(x, y, yerr=[[0] * len(up), up], **style)
            axis.set_xscale("log", base=2)
            if metric == "latency":
                axis.set_yscale("log")
            elif sp.spans_decades(axis):
                axis.set_yscale("log")
            else:
                axis.set_ylim(bottom=0)
            axis.legend(fontsize=8)
            paths += sp.save(fig, out_dir, f"batch_{metric}_{sp.model_name(model)}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
