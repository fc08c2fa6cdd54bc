#!/usr/bin/python3
"""A Markdown report of a results file: the hardware, every figure, each cell, and the measured
numbers beside the paper's (Duarte et al. 2019) with the ratios that carry over between machines."""

import os

import sonicplots as sp

# The seed paper's headline figures (abstract; ../shared/PAPER.md).
PAPER = {
    "cloud_ms": 60.0,
    "edge_ms": 10.0,
    "local_ms": 1750.0,
    "service_throughput": "600-700",
}


def _latency_ms(cells):
    """Mean latency of the lowest-load cell (the paper quotes average time per inference)."""
    if not cells:
        return None
    cell = min(cells, key=lambda c: (c["concurrency"], c["latency_mean_ns"]))
    return cell["latency_mean_ns"] / 1e6


def _fmt(value, unit="", digits=1):
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def _system_line(run):
    """The host's cores and other measured peaks (results/SCHEMA.md), where the file has them."""
    system = run.system
    if not system.get("cpu_cores"):
        return ""
    parts = [f"{system['cpu_cores']} cores ({system.get('online_cpus', '?')} usable)"]
    for key, label, unit, digits in (("int8_peak_gops", "int8 peak", " GOP/s", 0),
                                     ("bf16_peak_gflops", "bf16 peak", " GFLOP/s", 0),
                                     ("stream_triad_gbs", "memory bandwidth", " GB/s", 1)):
        if system.get(key, 0) > 0:
            parts.append(f"{label} {_fmt(system[key], unit, digits)}")
    return "; " + "; ".join(parts)


def paper_model(run):
    """The model the comparison is about: ResNet-50 when the run has it, else the first model."""
    models = sorted({c["model"] for c in run.ok_cells() if c["backend"] != "null"})
    return "resnet50" if "resnet50" in models else (models[0] if models else None)


def comparison_rows(run):
    model = paper_model(run)
    # The null backend measures the harness, not inference: it never stands for a deployment.
    measured = [c for c in run.ok_cells(model=model) if c["backend"] != "null"]
    batch1 = [c for c in measured if c["batch"] == 1 and c.get("mode", "closed") == "closed"]
    by_deployment = {}
    for cell in batch1:
        if cell.get("concurrency", 1) == 1 and cell.get("dynamic_batching", "") in ("", "off"):
            by_deployment.setdefault(sp.deployment(cell), []).append(cell)
    local = _latency_ms(by_deployment.get("local", []))
    edge = _latency_ms(by_deployment.get("edge", []))
    cloud = _latency_ms(by_deployment.get("cloud", []))
    remote = _latency_ms(by_deployment.get("remote", []))
    remote_cells = [c for c in batch1 if c.get("target") == "remote"]
    service = max((c["throughput_inferences_per_s"] for c in remote_cells), default=None)
    large_batch = max((c["throughput_inferences_per_s"] for c in measured), default=None)
    ratio = lambda a, b: None if a is None or b is None or b == 0 else a / b
    return [
        ("latency, local CPU inference (ms)", _fmt(PAPER["local_ms"], digits=0), _fmt(local, digits=2)),
        ("latency, service over loopback (ms)", "—", _fmt(remote, digits=2)),
        ("latency, edge service (ms)", _fmt(PAPER["edge_ms"], digits=0), _fmt(edge, digits=2)),
        ("latency, cloud service (ms)", _fmt(PAPER["cloud_ms"], digits=0), _fmt(cloud, digits=2)),
        ("local / edge latency", "175", _fmt(ratio(local, edge), digits=2)),
        ("local / cloud latency", "30", _fmt(ratio(local, cloud), digits=2)),
        ("cloud / edge latency", "6", _fmt(ratio(cloud, edge), digits=2)),
        ("batch-1 service throughput, many clients (inf/s)", PAPER["service_throughput"],
         _fmt(service)),
        ("batch-1 service / best throughput at any batch", "≈ 1 (FPGA vs large-batch GPU)",
         _fmt(ratio(service, large_batch), digits=2)),
    ]


def write(path, out_dir, figures):
    run = sp.latest_run(path)
    os.makedirs(out_dir, exist_ok=True)
    lines = [
        "# sonicbench report",
        "",
        f"- results file: `{os.path.abspath(path)}`, run `{run.id}`"
        f" ({'complete' if run.attrs.get('complete', True) else 'interrupted'})",
        f"- started: {run.attrs.get('start_time_utc', '?')}; sonicbench "
        f"{run.attrs.get('sonicbench_version', '?')} ({run.attrs.get('git_commit', '?')})",
        f"- hardware: {sp.hardware_caption(run)}; measured fp32 peak "
        f"{_fmt(run.attrs.get('cpu_peak_gflops'), ' GFLOP/s', 0)}{_system_line(run)}",
        f"- command: `{run.attrs.get('command_line', '?')}`",
        "",
        "## Measured numbers beside the paper's",
        "",
        f"Model: {paper_model(run)}. Latencies are means at one client and batch 1.",
        "",
        "The paper ran ResNet-50 on Brainwave FPGAs; absolute numbers belong to each machine, the",
        "ratios and shapes are what carry over.",
        "",
        "| quantity | paper | measured |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {paper} | {measured} |" for name, paper, measured in comparison_rows(run)]
    lines += ["", "## Figures", ""]
    for figure in figures:
        if figure.endswith(".png"):
            name = os.path.basename(figure)
            lines.append(f"![{name}]({os.path.relpath(figure, out_dir)})")
            lines.append("")
    lines += ["## Cells", "",
              "| target | link | backend | model | precision | batch | clients | rate (Hz) | inf/s ± 95% | p50 ms | p99 ms | status |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in run.cells:
        lines.append(
            f"| {c['target']} | {c['link']} | {c['backend']} | {c['model']} | {c['precision']} | "
            f"{c['batch']} | {c['concurrency']} | {c['rate_hz']:g} | "
            f"{c['throughput_inferences_per_s']:.1f} ± {c['throughput_inferences_per_s_ci95']:.1f} | "
            f"{c['latency_p50_ns'] / 1e6:.3f} | {c['latency_p99_ns'] / 1e6:.3f} | {c['status']}"
            + (f": {c['error_message']}" if c.get("error_message") else "") + " |")
    report = os.path.join(out_dir, "report.md")
    with open(report, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return report
