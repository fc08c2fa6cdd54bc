#!/usr/bin/python3
"""Checks a sonicbench results file against schema v2 (results/SCHEMA.md), or v1.

Usage: /usr/bin/python3 results/check_schema.py FILE

Checks the root attributes, every run's attributes and groups, the cells table's columns, each
cell's group and datasets, that each histogram's counts add up, and that for every cell whose raw
records hold all of its requests, the percentiles recomputed from the raw records (received -
scheduled) agree with the stored ones within the histogram's relative error. Uses only h5py and
numpy (Debian's python3-h5py: run it with /usr/bin/python3). The optional v2 parts are checked
when present: a run's `system` group (the host's cores, ISA and measured peaks), a remote cell's
per-server `servers` (with a latency histogram each) and a fleet cell's per-rank `ranks`, whose
counts must add up to the cell's. Exit status 0 when the file conforms, 1 with one line per
problem otherwise.
"""

import math
import sys

import h5py
import numpy as np

SCHEMA_VERSION = 2
KNOWN_VERSIONS = {1, 2, 3, 4, 5, 6}

RUN_ATTRS = {
    "run_id", "sonicbench_version", "git_commit", "command_line", "config_text", "host",
    "cpu_model", "cpu_peak_gflops", "start_time_utc", "schema_version", "complete",
}
RUN_GROUPS = {"seeds", "library_versions", "device_names"}
# The host record, absent in files written before it existed: attribute -> numpy kind.
SYSTEM_ATTRS = {"cpu_cores": "i", "online_cpus": "i", "isa": "O", "memory_bytes": "i",
                "int8_peak_gops": "f", "bf16_peak_gflops": "f", "stream_triad_gbs": "f"}
# Added to the host record later, absent in the files written before: checked where present.
SYSTEM_ATTRS_ADDED = {"amx_bf16_peak_gflops": "f", "amx_int8_peak_gops": "f"}

SETTINGS_COLUMNS = [
    "target", "link", "backend", "model", "precision", "batch", "mode", "concurrency", "rate_hz",
    "arrival", "repeat", "threads", "inputs", "server_address",
]
SUMMARY_SUFFIXES = ["count", "p50_ns", "p90_ns", "p95_ns", "p99_ns", "p999_ns", "mean_ns",
                    "std_ns", "min_ns", "max_ns"]
CELL_COLUMNS = (
    ["index", "key", "status", "error_message", "converged", "convergence_reason"]
    + SETTINGS_COLUMNS
    + ["warmup_duration_s", "warmup_requests", "duration_s", "completed_requests",
       "completed_inferences", "throughput_inferences_per_s", "throughput_inferences_per_s_ci95",
       "throughput_requests_per_s", "throughput_requests_per_s_ci95"]
    + ["latency_" + s for s in SUMMARY_SUFFIXES] + ["latency_overflow_count"]
    + ["send_lag_" + s for s in SUMMARY_SUFFIXES]
    + ["generator_behind", "client_cpu_user_s", "client_cpu_sys_s", "client_cpu_utilisation",
       "error_count", "bytes_sent", "bytes_received", "server_stats", "server_request_count",
       "server_inference_count", "server_execution_count", "server_queue_ns",
       "server_compute_input_ns", "server_compute_infer_ns", "server_compute_output_ns",
       "raw_record_count", "raw_records_truncated", "dynamic_batching"]
)
COLUMNS_SINCE_4 = (
    ["backend_settings", "event_work", "event_work_spread", "requests_per_event", "client_mode",
     "completed_events", "throughput_events_per_s", "throughput_events_per_s_per_job"]
    + ["event_time_" + s for s in SUMMARY_SUFFIXES]
    + ["event_ns_total", "event_inference_ns_total", "event_inference_fraction", "bytes_per_event"])
COLUMNS_SINCE_5 = ["search_over", "latency_bound_ms", "latency_percentile", "search_role",
                   "search_probe", "within_bound_requests", "goodput_per_s", "search_verdict",
                   "bound_verdict_reason", "metrics_endpoint", "metrics_error", "metrics_span_s"]
COLUMNS_SINCE_6 = ["accuracy_dataset", "accuracy_error", "accuracy_signal_class",
                   "accuracy_samples", "accuracy_signal_samples", "roc_auc",
                   "background_rejection_at_0_3", "background_rejection_at_0_5", "accuracy",
                   "output_max_abs_deviation", "output_mean_abs_deviation"]
ROC_FIELDS = ("signal_efficiency", "background_efficiency")
VERDICTS = {"", "VALID", "INVALID"}
HISTOGRAM_FIELDS = ("lower_bound_ns", "count")
HISTOGRAM_ATTRS = {"total_count", "sum_ns", "min_ns", "max_ns", "overflow_count", "sum_sq_ns2_hi",
                   "sum_sq_ns2_lo", "sub_bucket_count", "max_value_ns", "relative_error"}
RAW_FIELDS = ("scheduled_ns", "sent_ns", "received_ns", "worker", "status", "server_queue_ns",
              "server_compute_ns")
PERCENTILES = {"p50_ns": 0.50, "p90_ns": 0.90, "p95_ns": 0.95, "p99_ns": 0.99, "p999_ns": 0.999}
STATUSES = {"ok", "failed", "not_converged"}
SERVER_FIELDS = ("address", "requests", "errors", "bytes_sent", "bytes_received", "latency_count",
                 "latency_p50_ns", "latency_p99_ns", "latency_mean_ns", "latency_max_ns")
RANK_FIELDS = ("rank", "host", "concurrency", "completed_requests", "error_count", "duration_s",
               "throughput_requests_per_s", "latency_p50_ns", "latency_p99_ns",
               "client_cpu_user_s", "client_cpu_sys_s", "clock_offset_ns",
               "clock_offset_uncertainty_ns", "window_start_ns", "window_end_ns")
RANK_ATTRS = {"alignment_error_ns", "start_spread_ns", "end_spread_ns"}


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def nearest_rank(sorted_values, q):
    """The value of rank ceil(q * n) (at least 1): the definition the histogram approximates."""
    n = len(sorted_values)
    rank = min(max(1, math.ceil(q * n)), n)
    return float(sorted_values[rank - 1])


def histogram_percentile(data, attrs, q):
    """The percentile as SCHEMA.md defines it, from the stored buckets."""
    cumulative = np.cumsum(data["count"])
    n = int(cumulative[-1])
    rank = min(max(1, math.ceil(q * n)), n)
    if rank == 1:
        return float(attrs["min_ns"])
    if rank == n:
        return float(attrs["max_ns"])
    lower = int(data["lower_bound_ns"][np.searchsorted(cumulative, rank)])
    width = 1 if lower < 256 else 2 ** (lower.bit_length() - 8)
    return float(min(max(lower + width // 2, int(attrs["min_ns"])), int(attrs["max_ns"])))


class Checker:
    def __init__(self, path):
        self.path = path
        self.problems = []
        self.cells_checked = 0
        self.percentiles_checked = 0

    def fail(self, where, message):
        self.problems.append(f"{self.path}:{where}: {message}")

    def require_attrs(self, obj, names, where):
        missing = sorted(set(names) - set(obj.attrs.keys()))
        if missing:
            self.fail(where, f"missing attributes {missing}")
        return not missing

    def check(self):
        with h5py.File(self.path, "r") as f:
            if not self.require_attrs(f, {"schema_version", "format"}, "/"):
                return
            if int(f.attrs["schema_version"]) not in KNOWN_VERSIONS:
                self.fail("/", f"schema_version {f.attrs['schema_version']} not in "
                               f"{sorted(KNOWN_VERSIONS)}")
                return
            if "runs" not in f:
                self.fail("/", "no group /runs")
                return
            if len(f["runs"]) == 0:
                self.fail("/runs", "no runs")
            for run_id, run in f["runs"].items():
                self.check_run(f"/runs/{run_id}", run_id, run)

    def check_run(self, where, run_id, run):
        self.require_attrs(run, RUN_ATTRS, where)
        if text(run.attrs.get("run_id", run_id)) != run_id:
            self.fail(where, f"run_id attribute {run.attrs['run_id']!r} != group name")
        for name in RUN_GROUPS:
            if not isinstance(run.get(name), h5py.Group):
                self.fail(where, f"no group {name}")
        if "system" in run:
            self.check_system(f"{where}/system", run["system"])
        table = run.get("cells")
        if not isinstance(table, h5py.Dataset) or table.dtype.names is None:
            self.fail(where, "no compound dataset cells")
            return
        version = int(run.attrs.get("schema_version", 0))
        expected = (CELL_COLUMNS + (COLUMNS_SINCE_4 if version >= 4 else [])
                    + (COLUMNS_SINCE_5 if version >= 5 else [])
                    + (COLUMNS_SINCE_6 if version >= 6 else []))
        missing = [c for c in expected if c not in table.dtype.names]
        if missing:
            self.fail(f"{where}/cells", f"missing columns {missing}")
            return
        if table.maxshape != (None,) or table.chunks is None:
            self.fail(f"{where}/cells", "not chunked and extensible")
        if int(run.attrs.get("schema_version", 0)) >= 3:
            # Schema 3 keeps no variable-length string (HDF5's global heap has no checksum).
            variable = [name for name in table.dtype.names
                        if h5py.check_string_dtype(table.dtype[name]) is not None
                        and h5py.check_string_dtype(table.dtype[name]).length is None]
            if variable:
                self.fail(f"{where}/cells", f"variable-length string columns {variable}")
        rows = table[:]
        groups = run.get("cell")
        if not isinstance(groups, h5py.Group):
            self.fail(where, "no group cell")
            return
        for i, row in enumerate(rows):
            self.check_cell(f"{where}/cell/{i}", i, row, groups.get(str(i)))

    def check_search(self, where, row):
        """Schema 5: a verdict only with a bound, and goodput = within-bound requests / duration."""
        verdict = text(row["search_verdict"])
        if verdict not in VERDICTS:
            self.fail(where, f"search_verdict {verdict!r} not in {sorted(VERDICTS)}")
        if verdict and not float(row["latency_bound_ms"]) > 0:
            self.fail(where, "a search_verdict without latency_bound_ms")
        within = int(row["within_bound_requests"])
        if within > int(row["completed_requests"]):
            self.fail(where, "within_bound_requests > completed_requests")
        duration = float(row["duration_s"])
        expected = within / duration if duration > 0 else 0.0
        if not np.isclose(float(row["goodput_per_s"]), expected, rtol=1e-9):
            self.fail(where, f"goodput_per_s {row['goodput_per_s']} != {expected}")

    def check_accuracy(self, where, row, group):
        """The ROC curve runs from (0, 0) to (1, 1) without stepping back, and the stored AUC,
        rejections and sample counts are what it gives."""
        roc = group.get("roc_curve")
        if not isinstance(roc, h5py.Dataset) or roc.dtype.names != ROC_FIELDS:
            self.fail(f"{where}/roc_curve", f"expected a compound dataset with fields {ROC_FIELDS}")
            return
        if text(row["accuracy_error"]):
            return
        tpr = roc["signal_efficiency"][:]
        fpr = roc["background_efficiency"][:]
        if len(tpr) < 2 or (tpr[0], fpr[0], tpr[-1], fpr[-1]) != (0, 0, 1, 1) \
                or np.any(np.diff(tpr) < 0) or np.any(np.diff(fpr) < 0):
            self.fail(f"{where}/roc_curve", "not a curve from (0, 0) to (1, 1) that never steps back")
            return
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        if not np.isclose(auc, float(row["roc_auc"]), rtol=0, atol=1e-12):
            self.fail(where, f"roc_auc {row['roc_auc']} != {auc}, the area under roc_curve")
        for efficiency in (0.3, 0.5):
            column = f"background_rejection_at_{efficiency}".replace(".", "_")
            b = int(np.searchsorted(tpr, efficiency))  # the first point reaching it
            along = (efficiency - tpr[b - 1]) / (tpr[b] - tpr[b - 1])
            eb = fpr[b - 1] + along * (fpr[b] - fpr[b - 1])
            expected = 1 / eb if eb > 0 else np.inf
            if not np.isclose(float(row[column]), expected, rtol=1e-9):
                self.fail(where, f"{column} {row[column]} != {expected} from roc_curve")
        signal = int(row["accuracy_signal_samples"])
        if not 0 < signal < int(row["accuracy_samples"]):
            self.fail(where, "accuracy_signal_samples not within (0, accuracy_samples)")

    def check_cell(self, where, i, row, group):
        self.cells_checked += 1
        if int(row["index"]) != i:
            self.fail(where, f"index column {row['index']} != row {i}")
        if text(row["status"]) not in STATUSES:
            self.fail(where, f"status {text(row['status'])!r} not in {sorted(STATUSES)}")
        if "search_verdict" in row.dtype.names:
            self.check_search(where, row)
        if not isinstance(group, h5py.Group):
            self.fail(where, "no cell group")
            return
        if "metrics_endpoint" in row.dtype.names and text(row["metrics_endpoint"]):
            for name, fields in (("server_metric_deltas", ("name", "delta")),
                                 ("server_metric_series", ("t_s", "name", "value"))):
                table = group.get(name)
                if not isinstance(table, h5py.Dataset) or table.dtype.names != fields:
                    self.fail(f"{where}/{name}", f"expected a compound dataset with fields {fields}")
        if "accuracy_dataset" in row.dtype.names and text(row["accuracy_dataset"]):
            self.check_accuracy(where, row, group)
        latency = self.check_histogram(f"{where}/latency_histogram", group.get("latency_histogram"),
                                       row, "latency")
        self.check_histogram(f"{where}/send_lag_histogram", group.get("send_lag_histogram"), row,
                             "send_lag")
        if "event_time_histogram" in group or "event_time_count" in row.dtype.names:
            events = self.check_histogram(f"{where}/event_time_histogram",
                                          group.get("event_time_histogram"), row, "event_time")
            if events is not None and int(row["event_time_count"]) != int(row["completed_events"]):
                self.fail(where, "event_time_count != completed_events")
            duty = group.get("instance_duty_cycles")
            if not isinstance(duty, h5py.Dataset) or duty.ndim != 1:
                self.fail(f"{where}/instance_duty_cycles", "expected a 1-D float dataset")
        raw = group.get("raw_records")
        if not isinstance(raw, h5py.Dataset) or raw.dtype.names != RAW_FIELDS:
            self.fail(f"{where}/raw_records", f"expected a compound dataset with fields {RAW_FIELDS}")
            return
        if "truncated" not in raw.attrs:
            self.fail(f"{where}/raw_records", "no attribute truncated")
        if len(raw) != int(row["raw_record_count"]):
            self.fail(f"{where}/raw_records", f"{len(raw)} records, table says {row['raw_record_count']}")
        errors = group.get("errors")
        if not isinstance(errors, h5py.Dataset) or errors.dtype.names != ("kind", "count"):
            self.fail(f"{where}/errors", "expected a compound dataset (kind, count)")
        elif int(errors["count"].sum()) != int(row["error_count"]):
            self.fail(f"{where}/errors", "counts do not add up to error_count")
        batches = group.get("server_batch_sizes")
        if not isinstance(batches, h5py.Dataset) or batches.dtype.names != ("batch_size", "count"):
            self.fail(f"{where}/server_batch_sizes", "expected a compound dataset (batch_size, count)")
        if latency is not None and len(raw) > 0 and not bool(raw.attrs.get("truncated", True)):
            self.check_percentiles(where, row, raw[:], latency)
        if "servers" in group:
            self.check_servers(f"{where}/servers", group)
        if "ranks" in group:
            self.check_ranks(f"{where}/ranks", row, group["ranks"])

    def check_system(self, where, system):
        if not isinstance(system, h5py.Group):
            self.fail(where, "not a group")
            return
        if not self.require_attrs(system, SYSTEM_ATTRS, where):
            return
        for name, kind in {**SYSTEM_ATTRS, **SYSTEM_ATTRS_ADDED}.items():
            if name not in system.attrs:
                continue
            value = system.attrs[name]
            if kind == "O":
                if not isinstance(value, (str, bytes)):
                    self.fail(where, f"{name} is not a string")
            elif np.asarray(value).dtype.kind != kind or float(value) < 0:
                self.fail(where, f"{name} = {value!r}: expected a non-negative "
                                 f"{'integer' if kind == 'i' else 'float'}")

    def check_servers(self, where, group):
        servers = group["servers"]
        if servers.dtype.names != SERVER_FIELDS:
            self.fail(where, f"expected a compound dataset with fields {SERVER_FIELDS}")
            return
        for i, server in enumerate(servers[:]):
            histogram = group.get(f"server_{i}_latency_histogram")
            if not isinstance(histogram, h5py.Dataset) or histogram.dtype.names != HISTOGRAM_FIELDS:
                self.fail(where, f"server {i}: no server_{i}_latency_histogram")
                continue
            if int(histogram.attrs["total_count"]) != int(server["latency_count"]):
                self.fail(where, f"server {i}: histogram total_count != latency_count")
            if int(server["latency_count"]) + int(server["errors"]) != int(server["requests"]):
                self.fail(where, f"server {i}: latency_count + errors != requests")

    def check_ranks(self, where, row, ranks):
        if ranks.dtype.names != RANK_FIELDS:
            self.fail(where, f"expected a compound dataset with fields {RANK_FIELDS}")
            return
        if not self.require_attrs(ranks, RANK_ATTRS, where):
            return
        data = ranks[:]
        if list(data["rank"]) != list(range(len(data))):
            self.fail(where, f"ranks {list(data['rank'])} are not 0..{len(data) - 1}")
        if text(row["status"]) == "failed":
            return  # a failed cell's counts need not add up
        if int(data["concurrency"].sum()) != int(row["concurrency"]):
            self.fail(where, f"rank concurrencies add up to {data['concurrency'].sum()}, "
                             f"not {row['concurrency']}")
        if int(data["completed_requests"].sum()) != int(row["completed_requests"]):
            self.fail(where, f"rank completed_requests add up to {data['completed_requests'].sum()}"
                             f", not {row['completed_requests']}")
        if any(int(ranks.attrs[name]) < 0 for name in RANK_ATTRS):
            self.fail(where, "a negative alignment estimate")

    def check_histogram(self, where, dataset, row, prefix):
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.names != HISTOGRAM_FIELDS:
            self.fail(where, f"expected a compound dataset with fields {HISTOGRAM_FIELDS}")
            return None
        if not self.require_attrs(dataset, HISTOGRAM_ATTRS, where):
            return None
        data = dataset[:]
        total = int(dataset.attrs["total_count"])
        if int(data["count"].sum()) != total:
            self.fail(where, f"bucket counts add up to {data['count'].sum()}, not {total}")
        if total != int(row[f"{prefix}_count"]):
            self.fail(where, f"total_count {total} != table {prefix}_count {row[prefix + '_count']}")
        if len(data) > 1 and not np.all(np.diff(data["lower_bound_ns"]) > 0):
            self.fail(where, "bucket lower bounds are not ascending")
        if total > 0:
            for name, q in PERCENTILES.items():
                value = histogram_percentile(data, dataset.attrs, q)
                if value != float(row[f"{prefix}_{name}"]):
                    self.fail(where, f"{prefix}_{name} {row[prefix + '_' + name]} != {value} "
                                     "recomputed from the histogram as SCHEMA.md says")
            for name in ("min_ns", "max_ns"):
                if float(dataset.attrs[name]) != float(row[f"{prefix}_{name}"]):
                    self.fail(where, f"{name} {dataset.attrs[name]} != table {row[prefix + '_' + name]}")
        return float(dataset.attrs["relative_error"])

    def check_percentiles(self, where, row, raw, relative_error):
        ok = raw["status"] == 0
        latencies = np.sort((raw["received_ns"] - raw["scheduled_ns"])[ok])
        if len(latencies) != int(row["latency_count"]):
            return  # the histogram holds requests the raw records do not: nothing to recompute
        for name, q in PERCENTILES.items():
            exact = nearest_rank(latencies, q)
            stored = float(row[f"latency_{name}"])
            # 1e-12: the stored value went through a double; the bound itself is exact.
            if abs(stored - exact) > relative_error * exact + 1e-12 * exact:
                self.fail(where, f"latency_{name} {stored} vs {exact} from raw records: relative "
                                 f"error {abs(stored - exact) / exact:.5f} > {relative_error}")
            self.percentiles_checked += 1
        mean = float(latencies.mean())
        if abs(float(row["latency_mean_ns"]) - mean) > 1e-9 * mean:
            self.fail(where, f"latency_mean_ns {row['latency_mean_ns']} != {mean} from raw records")


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    checker = Checker(argv[1])
    try:
        checker.check()
    except (OSError, KeyError, ValueError) as error:
        checker.fail("", f"cannot read: {error}")
    for problem in checker.problems:
        print(problem)
    if checker.problems:
        return 1
    print(f"{argv[1]}: schema ok: {checker.cells_checked} cells, "
          f"{checker.percentiles_checked} percentiles agree with the raw records")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
