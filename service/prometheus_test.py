#!/usr/bin/env python3
"""End to end with the real thing: Debian's `prometheus` scrapes `sonicbench serve --metrics-port`
on loopback while a short `sonicbench sweep --target remote` runs against that server; then
Prometheus's HTTP API must give exactly the success count and summed durations that the sweep
recorded (its cell's server statistics, results file) and that the statistics RPC reports
(Triton's own client, tritonclient, from the test-only venv when it exists).

Prometheus runs with a temporary config and data directory, on a free loopback port, and is
stopped (then killed) at the end; everything is bounded in time. Exits 77 (CTest skip) with a
message when the prometheus binary is absent (tools/setup.sh installs it).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from serve_process import start_serve  # noqa: E402

SKIP = 77
# Every wait below is bounded by one of these (seconds).
START_TIMEOUT_S = 60
SCRAPE_INTERVAL_S = 1
SCRAPE_WAIT_S = 30


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sonicbench", required=True)
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    parser.add_argument("--venv", help="test-only venv with tritonclient (tools/triton-client-venv.sh)")
    return parser.parse_args()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prometheus(binary, workdir, target):
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"""global:
  scrape_interval: {SCRAPE_INTERVAL_S}s
  scrape_timeout: {SCRAPE_INTERVAL_S}s
scrape_configs:
  - job_name: sonicbench
    static_configs:
      - targets: ["{target}"]
""")
    port = free_port()
    log = open(os.path.join(workdir, "prometheus.log"), "w")
    prometheus = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir}/data",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if prometheus.poll() is not None:
            raise SystemExit(f"prometheus exited with {prometheus.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"{api}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return prometheus, api
        except OSError:
            time.sleep(0.2)
    prometheus.kill()
    raise SystemExit("prometheus did not become ready")


def query(api, expression):
    """The instant vector of `expression`: {frozenset(labels): (unix time, value)}."""
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return {frozenset(r["metric"].items()): (float(r["value"][0]), float(r["value"][1]))
            for r in body["data"]["result"]}


def only(api, expression):
    result = query(api, expression)
    assert len(result) == 1, f"{expression}: {result}"
    return next(iter(result.values()))


def samples(api, selector, window_s):
    """The raw samples of the one series `selector` over the last `window_s`: {unix time: value};
    empty before the first scrape (Prometheus staggers a target's first scrape within the
    interval, so a fast sweep can end before it)."""
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": f"{selector}[{window_s}s]"})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result = body["data"]["result"]
    assert len(result) <= 1, f"{selector}: {len(result)} series"
    return {float(t): float(v) for t, v in result[0]["values"]} if result else {}


def sweep(sonicbench, address, out):
    subprocess.run(
        [sonicbench, "sweep", "--target", "remote", "--server", address, "--backend", "reference",
         "--model", "jet_cnn", "--batch", "1,3", "--concurrency", "2", "--warmup-s", "0.3",
         "--min-duration-s", "1", "--min-requests", "20", "--max-duration-s", "3", "--no-peak",
         "--out", out],
        check=True, stdout=subprocess.DEVNULL, timeout=120)
    import h5py
    with h5py.File(out, "r") as f:
        (run,) = f["runs"].values()
        cells = run["cells"][()]
    assert all(cells["server_stats"]), "the sweep recorded no server statistics"
    return {name: int(sum(cells[name])) for name in (
        "server_request_count", "server_inference_count", "server_execution_count",
        "server_queue_ns", "server_compute_input_ns", "server_compute_infer_ns",
        "server_compute_output_ns")}


def rpc_statistics(venv, address):
    """The statistics RPC as Triton's own client reads it, or None without the venv."""
    python = os.path.join(venv or "", "bin", "python")
    if not venv or not os.access(python, os.X_OK):
        return None
    program = (
        "import json, sys, tritonclient.grpc as g\n"
        "s = g.InferenceServerClient(url=sys.argv[1]).get_inference_statistics("
        "'jet_cnn', as_json=True)['model_stats'][0]\n"
        "print(json.dumps(s))\n")
    out = subprocess.run([python, "-c", program, address], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    stats = json.loads(out)
    infer = stats["inference_stats"]
    return {
        "success_count": int(infer["success"].get("count", 0)),
        "success_ns": int(infer["success"].get("ns", 0)),
        "fail_count": int(infer["fail"].get("count", 0)),
        "inference_count": int(stats.get("inference_count", 0)),
        "execution_count": int(stats.get("execution_count", 0)),
        **{f"{stage}_ns": int(infer[stage].get("ns", 0))
           for stage in ("queue", "compute_input", "compute_infer", "compute_output")},
    }


def main():
    args = parse_args()
    if not os.access(args.prometheus, os.X_OK):
        print(f"prometheus_test: SKIP: no prometheus binary at {args.prometheus} "
              "(Debian package `prometheus`, installed by tools/setup.sh)")
        return SKIP
    workdir = tempfile.mkdtemp(prefix="sonic_prometheus_")
    server = prometheus = None
    try:
        server, banner = start_serve(
            args.sonicbench,
            ["--model", "jet_cnn", "--backend", "reference", "--port", "0", "--metrics-port", "0",
             "--max-batch", "4", "--max-queue-delay-us", "200"],
            wanted=("address", "metrics"), timeout_s=START_TIMEOUT_S)
        address, metrics = banner["address"], banner["metrics"]
        prometheus, api = start_prometheus(args.prometheus, workdir, metrics)
        recorded = sweep(args.sonicbench, address, os.path.join(workdir, "sweep.h5"))
        swept_at = time.time()
        rpc = rpc_statistics(args.venv, address)

        # The first scrape that began after the sweep ended holds its final counts. Raw samples
        # carry their scrape's timestamp; every series of one scrape shares it.
        selector = '{job="sonicbench",model="jet_cnn",version="1"}'
        window_s = SCRAPE_WAIT_S + 10
        deadline = time.monotonic() + SCRAPE_WAIT_S
        while True:
            after = [t for t in samples(api, f"nv_inference_request_success{selector}", window_s)
                     if t > swept_at]
            if after:
                scraped_at = min(after)
                break
            assert time.monotonic() < deadline, "prometheus scraped nothing after the sweep"
            time.sleep(0.5)
        assert only(api, 'up{job="sonicbench"}')[1] == 1

        def value(name):
            at = samples(api, f"{name}{selector}", window_s)
            assert scraped_at in at, f"{name}: no sample of the scrape at {scraped_at}"
            return at[scraped_at]

        def ns(name):  # the metric's microseconds back to the statistics' nanoseconds
            return round(value(name) * 1000)

        from_prometheus = {
            "server_request_count": int(value("nv_inference_request_success")),
            "server_inference_count": int(value("nv_inference_count")),
            "server_execution_count": int(value("nv_inference_exec_count")),
            "server_queue_ns": ns("nv_inference_queue_duration_us"),
            "server_compute_input_ns": ns("nv_inference_compute_input_duration_us"),
            "server_compute_infer_ns": ns("nv_inference_compute_infer_duration_us"),
            "server_compute_output_ns": ns("nv_inference_compute_output_duration_us"),
        }
        # The sweep was the server's only traffic and its cells' statistics cover all of it
        # (each cell from before its first untimed round trip to after its last response).
        assert recorded["server_request_count"] > 0, recorded
        assert from_prometheus == recorded, (
            f"prometheus {from_prometheus} (scraped at {scraped_at}, sweep ended {swept_at})\n"
            f"sweep {recorded}")
        assert value("nv_inference_request_failure") == 0
        print(f"prometheus_test: prometheus agrees with the sweep: {from_prometheus}")
        if rpc is None:
            print("prometheus_test: statistics RPC comparison skipped: no tritonclient venv "
                  f"at {args.venv}")
        else:
            assert rpc["success_count"] == from_prometheus["server_request_count"], rpc
            assert rpc["success_ns"] == ns("nv_inference_request_duration_us"), rpc
            assert rpc["fail_count"] == value("nv_inference_request_failure"), rpc
            assert rpc["inference_count"] == from_prometheus["server_inference_count"], rpc
            assert rpc["execution_count"] == from_prometheus["server_execution_count"], rpc
            for stage in ("queue", "compute_input", "compute_infer", "compute_output"):
                assert rpc[f"{stage}_ns"] == from_prometheus[f"server_{stage}_ns"], (stage, rpc)
            print("prometheus_test: prometheus agrees with the statistics RPC, request "
                  f"durations included ({rpc['success_ns']} ns)")
        # What Triton lacks, as Prometheus stores it.
        executions = value("sonic_inference_exec_batch_size_count")
        assert executions == from_prometheus["server_execution_count"], executions
        assert value("sonic_inference_instance_busy_duration_us") > 0
        assert 0 <= only(api, 'nv_cpu_utilization{job="sonicbench"}')[1] <= 1
        print("prometheus_test: OK")
        return 0
    finally:
        for process in (prometheus, server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
