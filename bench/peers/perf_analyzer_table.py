#!/usr/bin/python3
"""Prints the table of bench/peers/perf_analyzer.sh from the CSV files it left in OUT:
pa_c<N>_r<R>.csv (perf_analyzer -f, with pa_c<N>_r<R>.time: its wall-clock, user and system
seconds) and sb_c<N>_r<R>.csv (sonicbench report --csv) per concurrency N and round R; the closed
loop rows are medians over the rounds, the ratios medians of the per-round ratios. Then
pa_max_sync_c<N>.csv, pa_max_async_c<N>.csv and sb_max_c<N>.csv for the highest rate, each tool's
best over those concurrencies (none given: no such section).

Usage: perf_analyzer_table.py OUT BACKEND ROUNDS "CONCURRENCY ..." "HIGH CONCURRENCY ..."
"""
import csv
import math
import os
import statistics
import sys


def read_rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def perf_analyzer(path):
    """perf_analyzer's CSV: one row per concurrency; latencies in microseconds."""
    rows = read_rows(path)
    if not rows:
        return None
    row = rows[0]
    figures = {"rate": float(row["Inferences/Second"]), "p50_us": float(row["p50 latency"]),
               "p99_us": float(row["p99 latency"]), "cpu": float("nan"), "note": ""}
    time_path = path[:-len(".csv")] + ".time"
    if os.path.exists(time_path):
        # /usr/bin/time -f '%e %U %S': the whole run, its stability trials included.
        wall, user, system = (float(v) for v in open(time_path).read().split()[-3:])
        figures["cpu"] = (user + system) / wall if wall > 0 else float("nan")
    return figures


def sonicbench(path):
    """sonicbench report --csv: one row per cell, by concurrency; latencies in nanoseconds."""
    cells = {}
    for row in read_rows(path):
        ok = row["status"] != "failed"
        cells[int(row["concurrency"])] = {
            "rate": float(row["throughput_requests_per_s"]) if ok else 0.0,
            "p50_us": float(row["latency_p50_ns"]) / 1e3 if ok else float("nan"),
            "p99_us": float(row["latency_p99_ns"]) / 1e3 if ok else float("nan"),
            "cpu": float(row["client_cpu_utilisation"]) if ok else float("nan"),
            "note": "" if row["converged"] == "1" else f"{row['status']}",
        }
    return cells


def ratio(a, b):
    return a / b if a and b else float("nan")


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def listed(rates):
    """{concurrency: rate} as "c=16: 19988, c=32: 21109"."""
    return ", ".join(f"c={c}: {r:.0f}" for c, r in rates.items()) or "no result"


def main(out, backend, rounds, concurrencies, max_concurrencies):
    print(f"closed loop against the same `sonicbench serve` ({backend} backend): perf_analyzer "
          f"(PA) vs sonicbench (SB); medians over {rounds} round(s); cpu: each tool's own use, "
          "in cores")
    print(f"{'conc':>4} | {'PA req/s':>9} {'PA p50':>8} {'PA p99':>8} {'cpu':>4} | "
          f"{'SB req/s':>9} {'SB p50':>8} {'SB p99':>8} {'cpu':>4} | {'SB/PA rate':>10} "
          f"{'p50':>6} {'p99':>6} | agree?")
    for c in concurrencies:
        pairs = []
        for r in range(1, rounds + 1):
            p = perf_analyzer(os.path.join(out, f"pa_c{c}_r{r}.csv"))
            s = sonicbench(os.path.join(out, f"sb_c{c}_r{r}.csv")).get(c)
            if p is not None and s is not None:
                pairs.append((p, s))
        if not pairs:
            print(f"{c:>4} | no round with results from both tools")
            continue
        pa = {k: median(p[k] for p, _ in pairs) for k in ("rate", "p50_us", "p99_us", "cpu")}
        sb = {k: median(s[k] for _, s in pairs) for k in ("rate", "p50_us", "p99_us", "cpu")}
        r_rate, r_p50, r_p99 = (median(ratio(s[k], p[k]) for p, s in pairs)
                                for k in ("rate", "p50_us", "p99_us"))
        agree = "yes" if abs(r_rate - 1) <= 0.10 and abs(r_p50 - 1) <= 0.10 else "no"
        notes = " ".join(sorted({s["note"] for _, s in pairs if s["note"]}))
        per_round = ", ".join(f"{ratio(s['rate'], p['rate']):.3f}" for p, s in pairs)
        rounds_note = f" (rate per round {per_round})" if len(pairs) > 1 else ""
        print(f"{c:>4} | {pa['rate']:>9.0f} {pa['p50_us']:>6.0f}us {pa['p99_us']:>6.0f}us "
              f"{pa['cpu']:>4.2f} | {sb['rate']:>9.0f} {sb['p50_us']:>6.0f}us "
              f"{sb['p99_us']:>6.0f}us {sb['cpu']:>4.2f} | {r_rate:>10.3f} {r_p50:>6.3f} "
              f"{r_p99:>6.3f} | {agree}{rounds_note} {notes}")
    if not max_concurrencies:
        return
    print()
    print(f"highest request rate against {backend} (closed loop, best of concurrencies "
          f"{', '.join(map(str, max_concurrencies))})")
    best_pa = 0.0
    for mode in ("sync", "async"):
        rates = {c: p["rate"] for c in max_concurrencies
                 if (p := perf_analyzer(os.path.join(out, f"pa_max_{mode}_c{c}.csv")))}
        best = max(rates.values(), default=0.0)
        best_pa = max(best_pa, best)
        print(f"  perf_analyzer {mode:5}: {best:9.0f} req/s  ({listed(rates)})")
    rates = {}
    for c in max_concurrencies:
        rates.update({k: v["rate"] for k, v in
                      sonicbench(os.path.join(out, f"sb_max_c{c}.csv")).items()})
    best_sb = max(rates.values(), default=0.0)
    print(f"  sonicbench         : {best_sb:9.0f} req/s  ({listed(rates)})")
    verdict = "at least" if best_sb >= best_pa else "BELOW"
    print(f"  sonicbench / perf_analyzer = {ratio(best_sb, best_pa):.3f}: sonicbench is {verdict} "
          "perf_analyzer's rate")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(c) for c in sys.argv[4].split()],
         [int(c) for c in sys.argv[5].split()])
