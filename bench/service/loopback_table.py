#!/usr/bin/python3
"""The table of bench/service/loopback.sh: iperf3's loopback bandwidth and the service's
figures from one run, with issue 4's goals.

Usage: loopback_table.py IPERF3.json SERVICE_BENCHMARK.json LOAD_BEFORE LOAD_AFTER
"""
import json
import sys


def main(iperf_path, benchmark_path, load_before, load_after):
    with open(iperf_path) as f:
        iperf_gbps = json.load(f)["end"]["sum_received"]["bits_per_second"] / 1e9
    with open(benchmark_path) as f:
        runs = {b["name"]: b for b in json.load(f)["benchmarks"]}

    def get(payload_bytes, concurrency):
        name = f"BM_NullRoundTrip/bytes:{payload_bytes}/concurrency:{concurrency}/real_time"
        if name not in runs:
            raise SystemExit(f"{benchmark_path}: no result for {name}")
        return runs[name]

    print(f"load average before {load_before}, after {load_after}")
    print(f"iperf3 loopback, one TCP stream: {iperf_gbps:.1f} Gbit/s")
    print(f"{'payload':>8} {'conc':>4} {'req/s':>8} {'p50 us':>8} {'p99 us':>8} {'Gbit/s':>7} "
          f"{'CPU us/req':>10}  goal")
    rows = [
        (602112, 1, lambda b: (b["p50_us"] <= 1000, "p50 <= 1 ms")),
        (602112, 4, lambda b: (b["Gbit/s"] >= 0.5 * iperf_gbps,
                               f"Gbit/s >= 50% of iperf3: {100 * b['Gbit/s'] / iperf_gbps:.0f}%")),
        (1024, 16, lambda b: (b["items_per_second"] >= 20000, ">= 20,000 req/s")),
    ]
    for payload, concurrency, goal in rows:
        b = get(payload, concurrency)
        met, what = goal(b)
        print(f"{round(payload / 1000):>6}KB {concurrency:>4} {b['items_per_second']:>8.0f} "
              f"{b['p50_us']:>8.0f} {b['p99_us']:>8.0f} {b['Gbit/s']:>7.1f} "
              f"{b['cpu_us_per_req']:>10.0f}  {what}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
