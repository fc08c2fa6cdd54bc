#!/usr/bin/python3
"""Figure 4: the service's dynamic batcher on and off, for batch-1 clients.

Throughput and p99 latency against the number of simultaneous clients, one curve per setting:
batching raises throughput by running several clients' requests as one batch, at some latency.
"""

import sonicplots as sp


def draw(path, out_dir):
    run = sp.latest_run(path)
    paths = []
    cells = [c for c in run.ok_cells(batch=1, target="remote")
             if c.get("dynamic_batching", "") in ("on", "off") and c.get("mode", "closed") == "closed"]
    for model in sorted({c["model"] for c in cells}):
        curves = {}
        for cell in cells:
            if cell["model"] == model:
                key = (cell["backend"], sp.deployment(cell), cell["dynamic_batching"])
                curves.setdefault(key, []).append(cell)
        if not curves:
            continue
        fig, (left, right) = sp.plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
        fig.suptitle(f"{sp.model_name(model)}, batch-1 clients: dynamic batching on and off")
        for (backend, where, batching), points in sorted(curves.items()):
            points.sort(key=lambda c: c["concurrency"])
            x = [c["concurrency"] for c in points]
            style = dict(marker="o", capsize=3, color=sp.colour(where),
                         linestyle="-" if batching == "on" else "--",
                         label=f"{backend} via {where}, batching {batching}")
            left.errorbar(x, [sp.throughput(c)[0] for c in points],
                          yerr=[sp.throughput(c)[1] for c in points], **style)
            right.plot(x, [c["latency_p99_ns"] / 1e6 for c in points], **{
                k: v for k, v in style.items() if k != "capsize"})
        for axis, ylabel in ((left, "inferences / s"), (right, "p99 latency (ms)")):
            axis.set_xscale("log", base=2)
            axis.set_xlabel("simultaneous clients")
            axis.set_ylabel(ylabel)
            axis.grid(True, alpha=0.3)
            axis.legend(fontsize=8)
        left.set_ylim(bottom=0)
        paths += sp.save(fig, out_dir, f"dynamic_batching_{sp.model_name(model)}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
