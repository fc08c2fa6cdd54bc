#!/usr/bin/python3
"""Nightly trend: each cell's throughput and p99 latency across the runs of a history file."""

import sonicplots as sp

SETTINGS = ("target", "link", "backend", "model", "precision", "batch", "mode", "concurrency",
            "rate_hz")


def draw(path, out_dir):
    runs = sp.open_runs(path)
    series = {}
    for position, run in enumerate(runs):
        for cell in run.ok_cells():
            key = sp.series_key(cell, SETTINGS)
            series.setdefault(key, []).append((position, cell))
    if len(runs) < 1 or not series:
        return []
    labels = [str(run.attrs.get("start_time_utc", run.id)) for run in runs]
    paths = []
    for metric, ylabel, value, error in (
        ("throughput", "inferences / s", lambda c: c["throughput_inferences_per_s"],
         lambda c: c.get("throughput_inferences_per_s_ci95", 0.0)),
        ("p99_latency", "p99 latency (ms)", lambda c: c["latency_p99_ns"] / 1e6, lambda c: 0.0),
    ):
        fig, axis = sp.figure(f"nightly trend: {metric.replace('_', ' ')}", "run", ylabel)
        for key, points in sorted(series.items(), key=lambda item: str(item[0])):
            name = f"{key[2]} {key[3]} {key[4]} b{key[5]} c{key[7]} {key[0]}"
            axis.errorbar([p for p, _ in points], [value(c) for _, c in points],
                          yerr=[error(c) for _, c in points], marker="o", capsize=3,
                          color=sp.colour(key[2]), label=name)
        axis.set_xticks(range(len(labels)))
        axis.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
        axis.set_yscale("log")
        axis.legend(fontsize=6)
        paths += sp.save(fig, out_dir, f"trend_{metric}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
