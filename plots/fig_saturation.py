#!/usr/bin/python3
"""Saturation against jobs: throughput and latency of each series of cells that differ only in jobs.

For client workflows (event_work set) the throughput is events/s, else inferences/s; the knee (the
fewest jobs reaching 90% of the plateau, as `sonicbench report` finds it: results/saturation.h) is
marked. A second panel has the p50 and p99 request latency against jobs. docs/SIZING.md.
"""

from matplotlib.ticker import FuncFormatter

import sonicplots as sp

KNEE_FRACTION = 0.9  # results/saturation.h kKneeFraction
SERIES_KEYS = ("target", "link", "dynamic_batching", "backend", "model", "precision", "batch",
               "event_work", "event_work_spread", "requests_per_event", "client_mode", "repeat")


def _rate(cell):
    return cell["throughput_events_per_s"] if cell.get("event_work") else cell[
        "throughput_inferences_per_s"]


def _label(key):
    fields = dict(zip(SERIES_KEYS, key))
    text = f"{fields['backend']} {fields['precision']}, {sp.deployment(fields)}"
    if fields.get("dynamic_batching") == "on":
        text += " +batching"
    if fields.get("event_work"):
        text += f", {fields['event_work']} {fields['client_mode']}"
    return text


def draw(path, out_dir):
    run = sp.latest_run(path)
    cells = [c for c in run.ok_cells() if c.get("mode", "closed") == "closed"]
    paths = []
    for model in sorted({c["model"] for c in cells}):
        series = {}
        for cell in cells:
            if cell["model"] == model:
                series.setdefault(sp.series_key(cell, SERIES_KEYS), []).append(cell)
        series = {k: v for k, v in series.items() if len({c["concurrency"] for c in v}) >= 3}
        if not series:
            continue
        events = any(dict(zip(SERIES_KEYS, k)).get("event_work") for k in series)
        fig, (rate_axis, latency_axis) = sp.plt.subplots(
            1, 2, figsize=(11, 4.2), constrained_layout=True)
        fig.suptitle(f"{sp.model_name(model)}: saturation against jobs ({sp.hardware_caption(run)})", fontsize=9)
        rate_axis.set_xlabel("jobs (simultaneous clients)")
        rate_axis.set_ylabel("events / s" if events else "inferences / s")
        latency_axis.set_xlabel("jobs (simultaneous clients)")
        latency_axis.set_ylabel("request latency (ms)")
        for axis in (rate_axis, latency_axis):
            axis.grid(True, which="both", alpha=0.3)
            axis.set_xscale("log", base=2)
            # 1, 2, 4 jobs, not 2^0, 2^1 or 1.0
            axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        for key, points in sorted(series.items(), key=lambda item: str(item[0])):
            points.sort(key=lambda c: c["concurrency"])
            jobs = [c["concurrency"] for c in points]
            rates = [_rate(c) for c in points]
            # One colour per deployment (local, loopback, edge, cloud); local jobs dashed, and
            # each precision of one deployment its own marker.
            colour = sp.colour(sp.deployment(points[0]))
            style = "--" if points[0]["target"] == "local" else "-"
            marker = "s" if points[0]["precision"] == "fp32" else "o"
            label = _label(key)
            rate_axis.plot(jobs, rates, marker=marker, linestyle=style, color=colour, label=label)
            plateau = max(rates)
            knee = next(j for j, r in zip(jobs, rates) if r >= KNEE_FRACTION * plateau)
            rate_axis.plot([knee], [rates[jobs.index(knee)]], marker="*", markersize=14,
                           color=colour, linestyle="none")
            latency_axis.plot(jobs, [c["latency_p50_ns"] / 1e6 for c in points], marker=marker,
                              linestyle=style, color=colour, label=f"{label} p50")
            latency_axis.plot(jobs, [c["latency_p99_ns"] / 1e6 for c in points], marker="^",
                              linestyle=":", color=colour, label=f"{label} p99")
        rate_axis.set_ylim(bottom=0)
        if sp.spans_decades(latency_axis):
            latency_axis.set_yscale("log")
        rate_axis.legend(fontsize=7, title="★ knee (90% of the plateau)", title_fontsize=7)
        latency_axis.legend(fontsize=6)
        paths += sp.save(fig, out_dir, f"saturation_{sp.model_name(model)}")
    return paths


if __name__ == "__main__":
    sp.main_for(draw, __doc__.splitlines()[0])
