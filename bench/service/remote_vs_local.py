#!/usr/bin/python3
"""Prints what the service costs per inference, from a results file written by
bench/service/remote_vs_local.sh: every run in the file holds one local and one remote cell of the
same model, batch and threads, measured back to back.

Per pair: p50 and mean latency, throughput, CPU time per inference (the process's user + system
time over the window / inferences; for the embedded server that is client and server together),
and the server's compute_infer time per execution. Then, for each figure, the median of the
per-pair remote / local ratios: the headline, because the machines here drift by several percent
over a minute and only the two cells of one pair share a window (the ratio of the medians, which
mixes windows, is printed beside it). Last, the service's share within each remote cell alone,
free of drift: mean latency over the server's mean compute_infer time. Run with Debian's
/usr/bin/python3 (h5py).
"""
import statistics
import sys

import h5py


def cells_of(run):
    table = run["cells"][:]
    names = table.dtype.names

    def decode(value):
        return value.decode() if isinstance(value, bytes) else value

    return [{name: decode(row[name]) for name in names} for row in table]


def figures(cell):
    inferences = max(1, int(cell["completed_inferences"]))
    executions = int(cell["server_execution_count"])
    return {
        "p50_ms": cell["latency_p50_ns"] / 1e6,
        "mean_ms": cell["latency_mean_ns"] / 1e6,
        "inf_per_s": float(cell["throughput_inferences_per_s"]),
        "cpu_ms_per_inf": (cell["client_cpu_user_s"] + cell["client_cpu_sys_s"]) * 1e3 / inferences,
        "server_infer_ms": cell["server_compute_infer_ns"] / executions / 1e6 if executions else None,
    }


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def main(path):
    pairs = []
    with h5py.File(path, "r") as results:
        for run_id in results["runs"]:
            by_target = {}
            for cell in cells_of(results["runs"][run_id]):
                if cell["status"] == "failed":
                    print(f"{run_id}: {cell['target']} cell failed: {cell['error_message']}")
                    continue
                by_target[cell["target"]] = figures(cell)
            if "local" in by_target and "remote" in by_target:
                pairs.append((run_id, by_target["local"], by_target["remote"]))
    if not pairs:
        raise SystemExit(f"{path}: no run with both a local and a remote cell")

    header = (f"{'run':18} {'target':6} {'p50 ms':>8} {'mean ms':>8} {'inf/s':>7} "
              f"{'CPU ms/inf':>10} {'server infer ms':>15}")
    print(header)
    for run_id, local, remote in pairs:
        for target, f in (("local", local), ("remote", remote)):
            print(f"{run_id:18} {target:6} {fmt(f['p50_ms']):>8} {fmt(f['mean_ms']):>8} "
                  f"{fmt(f['inf_per_s'], 2):>7} {fmt(f['cpu_ms_per_inf']):>10} "
                  f"{fmt(f['server_infer_ms']):>15}")
    print()
    print(f"over {len(pairs)} pair(s): median of the per-pair ratios remote / local "
          f"(1.05 = 5% more per inference), then the ratio of the medians")
    for key, label in (("p50_ms", "p50 latency"), ("mean_ms", "mean latency"),
                       ("cpu_ms_per_inf", "CPU time per inference")):
        ratios = [p[2][key] / p[1][key] for p in pairs]
        local = statistics.median(p[1][key] for p in pairs)
        remote = statistics.median(p[2][key] for p in pairs)
        print(f"  {label:24} paired {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f})  medians: local {local:6.2f} ms, "
              f"remote {remote:6.2f} ms, ratio {remote / local:.3f}")
    ratios = [p[1]["inf_per_s"] / p[2]["inf_per_s"] for p in pairs]
    print(f"  {'throughput local/remote':24} paired {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")
    shares = [p[2]["mean_ms"] / p[2]["server_infer_ms"] for p in pairs if p[2]["server_infer_ms"]]
    if shares:
        print(f"  {'remote mean / server infer':24} median {statistics.median(shares):.3f} "
              f"(min {min(shares):.3f}, max {max(shares):.3f}): within each remote cell, what "
              f"the request's path adds to the server's compute")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: remote_vs_local.py RESULTS.h5")
    main(sys.argv[1])
