"""Shared reading and styling for sonicbench figures.

Everything here reads a sonicbench results file (schema in results/SCHEMA.md) and nothing else:
figures never rerun a measurement. Run with Debian's Python (/usr/bin/python3), which has h5py,
numpy and matplotlib.
"""

import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

# One colour per backend and per deployment, the same in every figure.
COLOURS = {
    "onednn": "#1f77b4",
    "reference": "#7f7f7f",
    "cudnn": "#2ca02c",
    "opencl": "#d62728",
    "null": "#bcbd22",
    "local": "#1f77b4",
    "remote": "#9467bd",
    "edge": "#ff7f0e",
    "cloud": "#d62728",
}
_FALLBACK = ["#8c564b", "#e377c2", "#17becf", "#393b11", "#637939"]


def colour(name):
    """The colour of a backend or deployment; unknown names get a stable fallback."""
    if name in COLOURS:
        return COLOURS[name]
    return _FALLBACK[sum(name.encode()) % len(_FALLBACK)]


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


class Run:
    """One run of a results file: its attributes and its cells table as a list of dicts."""

    def __init__(self, path, group, run_id):
        self.path = path
        self.id = run_id
        self.attrs = {key: _attr(value) for key, value in group.attrs.items()}
        # The host record (results/SCHEMA.md); empty for files written before it existed.
        system = group.get("system")
        self.system = {k: _attr(v) for k, v in system.attrs.items()} if system is not None else {}
        devices = group.get("device_names")
        self.device_names = ({k: _attr(v) for k, v in devices.attrs.items()}
                             if devices is not None else {})
        table = group["cells"][()]
        names = table.dtype.names
        self.cells = []
        for index, row in enumerate(table):
            cell = {name: _attr(row[name]) for name in names}
            cell["_index"] = index
            self.cells.append(cell)

    def ok_cells(self, **where):
        """Cells that finished (ok or not converged) and match every `column=value` given."""
        selected = []
        for cell in self.cells:
            if cell.get("status") == "failed":
                continue
            if all(cell.get(key) == value for key, value in where.items()):
                selected.append(cell)
        return selected

    def histogram(self, cell, name="latency_histogram"):
        """(lower bounds in ns, counts) of a cell's stored histogram."""
        with h5py.File(self.path, "r") as handle:
            groups = handle["runs"][self.id]["cell"]
            data = groups[_cell_group_name(groups, cell["_index"])][name][()]
        return data["lower_bound_ns"].astype(np.float64), data["count"].astype(np.float64)

    def table(self, cell, name):
        """A table of a cell's group (e.g. `roc_curve`) as a numpy structured array."""
        with h5py.File(self.path, "r") as handle:
            groups = handle["runs"][self.id]["cell"]
            return groups[_cell_group_name(groups, cell["_index"])][name][()]

    def physics_cells(self):
        """Cells with a physics measurement that succeeded (accuracy = on; results/SCHEMA.md)."""
        return [c for c in self.ok_cells()
                if c.get("accuracy_dataset") and not c.get("accuracy_error")]


def _cell_group_name(groups, index):
    for candidate in (str(index), f"{index:06d}", f"{index:08d}"):
        if candidate in groups:
            return candidate
    ordered = list(groups.keys())
    return ordered[index]


def _attr(value):
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return [_text(v) for v in value]
    return value


def open_runs(path):
    """Every run in the file, oldest first."""
    with h5py.File(path, "r") as handle:
        runs_group = handle["runs"]
        order = list(runs_group.keys())
        runs = [Run(path, runs_group[run_id], run_id) for run_id in order]
    runs.sort(key=lambda run: str(run.attrs.get("start_time_utc", run.id)))
    return runs


def latest_run(path):
    runs = open_runs(path)
    if not runs:
        raise SystemExit(f"{path}: the file holds no run")
    return runs[-1]


def deployment(cell):
    """local, remote (loopback), or the emulated link's name for a remote cell."""
    if cell.get("target") == "local":
        return "local"
    link = cell.get("link", "none")
    return "remote" if link in ("", "none") else link


def model_name(model):
    """How figures name a model: a built-in's name, an ONNX file's stem (its path is in the file)."""
    return os.path.splitext(os.path.basename(model))[0] if model.endswith(".onnx") else model


def physics_label(cell):
    """backend, precision and deployment of a physics cell: what one ROC curve stands for."""
    return f"{cell['backend']} {cell['precision']} ({deployment(cell)}, batch {cell['batch']})"


def throughput(cell):
    return cell["throughput_inferences_per_s"], cell.get("throughput_inferences_per_s_ci95", 0.0)


def figure(title, xlabel, ylabel):
    fig, axis = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(True, which="both", alpha=0.3)
    return fig, axis


def hardware_caption(run):
    cpu = run.attrs.get("cpu_model", "unknown CPU")
    devices = run.attrs.get("device_names", "")
    return f"{cpu}" + (f"; {devices}" if devices else "")


def spans_decades(axis, factor=30.0):
    """Whether the plotted y values span more than `factor`: then a log axis shows them all."""
    values = [v for line in axis.get_lines() for v in line.get_ydata() if v > 0]
    return bool(values) and max(values) / min(values) > factor


def save(fig, out_dir, name, formats=("png", "svg")):
    """Writes the figure in each format; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fmt in formats:
        path = os.path.join(out_dir, f"{name}.{fmt}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    plt.close(fig)
    return paths


def series_key(cell, keys):
    """The tuple of the given columns: cells with equal keys belong to one curve."""
    return tuple(cell.get(key) for key in keys)


def main_for(draw, description):
    """The command line shared by every figure script: FILE.h5 --out DIR."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("results", help="a sonicbench results file (HDF5)")
    parser.add_argument("--out", default="figures", help="output folder")
    args = parser.parse_args()
    paths = draw(args.results, args.out)
    for path in paths:
        print(path)
    if not paths:
        print(f"{args.results}: no cells for this figure")
