#!/usr/bin/python3
"""Prints the table of bench/peers/perf_analyzer.sh from the CSV files it left in OUT:
pa_c<N>.csv (perf_analyzer -f) and sb_c<N>.csv (sonicbench report --csv) per concurrency N,
then pa_max_sync.csv, pa_max_async.csv and sb_max.csv for the highest rate.

Usage: perf_analyzer_table.py OUT CONCURRENCY...
"""
import csv
import os
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
    return {"rate": float(row["Inferences/Second"]), "p50_us": float(row["p50 latency"]),
            "p99_us": float(row["p99 latency"]), "note": ""}


def sonicbench(path):
    """sonicbench report --csv: one row per cell, by concurrency; latencies in nanoseconds."""
    cells = {}
    for row in read_rows(path):
        ok = row["status"] != "failed"
        cells[int(row["concurrency"])] = {
            "rate": float(row["throughput_requests_per_s"]) if ok else 0.0,
            "p50_us": float(row["latency_p50_ns"]) / 1e3 if ok else float("nan"),
            "p99_us": float(row["latency_p99_ns"]) / 1e3 if ok else float("nan"),
            "note": "" if row["converged"] == "1" else f"{row['status']}",
        }
    return cells


def ratio(a, b):
    return a / b if a and b else float("nan")


def main(out, concurrencies):
    sb = {}
    for c in concurrencies:
        sb.update(sonicbench(os.path.join(out, f"sb_c{c}.csv")))
    print("closed loop against the same `sonicbench serve` (null backend): perf_analyzer (PA) vs "
          "sonicbench (SB)")
    print(f"{'conc':>4} | {'PA req/s':>9} {'PA p50':>8} {'PA p99':>8} | {'SB req/s':>9} "
          f"{'SB p50':>8} {'SB p99':>8} | {'SB/PA rate':>10} {'p50':>6} {'p99':>6} | agree?")
    for c in concurrencies:
        p = perf_analyzer(os.path.join(out, f"pa_c{c}.csv"))
        s = sb.get(c)
        if p is None or s is None:
            print(f"{c:>4} | {'perf_analyzer: no result' if p is None else ''}"
                  f"{'  sonicbench: no result' if s is None else ''}")
            continue
        r_rate, r_p50, r_p99 = (ratio(s["rate"], p["rate"]), ratio(s["p50_us"], p["p50_us"]),
                                ratio(s["p99_us"], p["p99_us"]))
        agree = "yes" if abs(r_rate - 1) <= 0.10 and abs(r_p50 - 1) <= 0.10 else "no"
        print(f"{c:>4} | {p['rate']:>9.0f} {p['p50_us']:>6.0f}us {p['p99_us']:>6.0f}us | "
              f"{s['rate']:>9.0f} {s['p50_us']:>6.0f}us {s['p99_us']:>6.0f}us | {r_rate:>10.3f} "
              f"{r_p50:>6.3f} {r_p99:>6.3f} | {agree} {s['note']}")
    print()
    print("highest request rate against null (closed loop at high concurrency)")
    best_pa = 0.0
    for name in ("max_sync", "max_async"):
        p = perf_analyzer(os.path.join(out, f"pa_{name}.csv"))
        rate = p["rate"] if p else 0.0
        best_pa = max(best_pa, rate)
        print(f"  perf_analyzer {name[4:]:5}: {rate:9.0f} req/s" + ("" if p else "  (no result)"))
    best_sb = max((s["rate"] for s in sonicbench(os.path.join(out, "sb_max.csv")).values()),
                  default=0.0)
    print(f"  sonicbench         : {best_sb:9.0f} req/s")
    verdict = "at least" if best_sb >= best_pa else "BELOW"
    print(f"  sonicbench / perf_analyzer = {ratio(best_sb, best_pa):.3f}: sonicbench is {verdict} "
          "perf_analyzer's rate")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], [int(c) for c in sys.argv[2:]])
