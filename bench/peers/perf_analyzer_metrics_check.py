#!/usr/bin/python3
"""Compares the server-side metrics perf_analyzer wrote (--collect-metrics --verbose-csv) with a
scrape of the same endpoint: the GPUs perf_analyzer reports must be those the endpoint exports,
with the same total memory; with no GPU series exported, its GPU columns must be empty and its
log must show that it received a response and parsed it (its "Unable to parse 'nv_gpu_...'"
warnings, which perf_analyzer prints only for a response without those series). Exits 0 and prints what it found, or 1 naming the disagreement.

Usage: perf_analyzer_metrics_check.py PA_CSV PA_LOG METRICS_URL
"""
import csv
import re
import sys
import urllib.request

GPU_COLUMNS = ("Avg GPU Utilization", "Avg GPU Power Usage", "Max GPU Memory Usage",
               "Total GPU Memory")


def per_gpu(field):
    """perf_analyzer's "uuid:value;uuid:value;" as {uuid: value}."""
    values = {}
    for item in filter(None, field.split(";")):
        uuid, _, value = item.rpartition(":")
        values[uuid] = float(value)
    return values


def scrape(url):
    """{(name, gpu_uuid): value} of the endpoint's nv_gpu_* samples."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r'(nv_gpu_\w+)\{gpu_uuid="([^"]+)"\}\s+(\S+)', line)
        if match:
            samples[(match.group(1), match.group(2))] = float(match.group(3))
    return samples


def main(csv_path, log_path, url):
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return f"{csv_path}: no rows"
    missing = [c for c in GPU_COLUMNS if c not in rows[0]]
    if missing:
        return f"{csv_path}: no server-side metric columns {missing} (--collect-metrics ignored?)"
    log = open(log_path).read()
    if "Unable to connect to Metrics endpoint" in log:
        return f"perf_analyzer could not reach {url}"
    ours = scrape(url)
    our_gpus = {uuid for (_, uuid) in ours}
    row = rows[-1]
    columns = {c: per_gpu(row[c]) for c in GPU_COLUMNS}
    if not our_gpus:
        if any(columns.values()):
            return f"perf_analyzer reports GPUs {columns} that {url} does not export"
        if "Unable to parse 'nv_gpu_utilization' metric" not in log:
            return f"perf_analyzer shows no sign of having parsed a response from {url}"
        print(f"perf_analyzer_metrics_check: perf_analyzer read {url}; it exports no GPU series "
              "(no model on cudnn, or no NVML here), and perf_analyzer's GPU columns are empty")
        return None
    for column, values in columns.items():
        if set(values) != our_gpus:
            return f"{column}: perf_analyzer has GPUs {sorted(values)}, {url} has {sorted(our_gpus)}"
    for uuid, total in columns["Total GPU Memory"].items():
        # perf_analyzer writes memory in bytes or MB depending on its version: either must match.
        exported = ours[("nv_gpu_memory_total_bytes", uuid)]
        if total not in (exported, round(exported / 1e6)) and abs(total - exported / 1e6) > 1:
            return f"{uuid}: total memory {total} from perf_analyzer, {exported} bytes exported"
    for uuid, used in columns["Max GPU Memory Usage"].items():
        if used <= 0:
            return f"{uuid}: perf_analyzer saw no GPU memory in use while the model was loaded"
    print(f"perf_analyzer_metrics_check: perf_analyzer read {url}: "
          + "; ".join(f"{c} {columns[c]}" for c in GPU_COLUMNS))
    return None


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    problem = main(*sys.argv[1:])
    if problem:
        print(f"perf_analyzer_metrics_check: FAIL: {problem}", file=sys.stderr)
        sys.exit(1)
