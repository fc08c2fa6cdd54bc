#!/usr/bin/python3
"""Figure 2: inferences per second against the number of simultaneous clients at batch 1.

One shared service (remote cells), one curve per backend and deployment: the paper's "one FPGA
service shared by many CPU processes" figure, rising and then saturating.
"""

import sonicplots as sp


def draw(path, out_dir):
    run = sp.latest_run(path)
    paths = []
    cells = [c for c in run.ok_cells(batch=1) if c.get("mode", "closed") == "closed"]
    for model in sorted({c["model"] for c in cells}):
        curves = {}
        for cell in cells:
            if cell["model"] != model:
                continue
            key = (cell["backend"], sp.deployment(cell), cell["precision"])
            curves.setdefault(key, []).append(cell)
        curves = {k: v for k, v in curves.items() if len({c["concurrency"] for c in v}) > 1}
        if not curves:
            continue
        fig, axis = sp.figure(f"{sp.model_name(model)}, batch 1: throughput against simultaneous clients",
                              "simultaneous clients", "inferences / s")
        for (backend, where, precision), points in sorted(curves.items()):
            points.sort(key=lambda c: c["concurrency"])
            x = [c["concurrency"] for c in points]
            y = [sp.throughput(c)[0] for c in points]
            err = [sp.throughput(c)[1] for c in points]
            axis.errorbar(x, y, yerr=err, marker="o", capsize=3, color=sp.colour(backend),
                          linestyle="-" if where != "local" else "--",
                          label=f"{backend} {precision}, {where}")
        axis.set_xscale("log", base=2)
        if sp.spans_decades(axis):
            axis.set_yscale("log")
        else:
            axis.set_ylim(bottom=0)
        axis.legend(fontsize=8)
        paths += sp.save(fig, out_dir, f"throughput_vs_clients_{sp.model_name(model)}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
