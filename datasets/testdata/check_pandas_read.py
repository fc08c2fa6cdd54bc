"""Reads a top-tagging file written by sonicbench with Debian's pandas and checks it.

Usage: /usr/bin/python3 check_pandas_read.py FILE.h5
Beside FILE.h5 the C++ test leaves FILE.h5.values.bin (the values it wrote, little-endian float64,
row-major). Exits 0 when pd.read_hdf(FILE, "table") gives a float64 frame with the public
layout's 806 columns in order, a 0..N-1 index and exactly those values; prints what differs and
exits 1 otherwise.
"""

import sys

import numpy as np
import pandas as pd


def main():
    path = sys.argv[1]
    frame = pd.read_hdf(path, "table")
    expected_columns = [f"{c}_{i}" for i in range(200) for c in ("E", "PX", "PY", "PZ")]
    expected_columns += ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]
    problems = []
    if list(frame.columns) != expected_columns:
        problems.append(f"columns differ: {list(frame.columns)[:8]}...")
    if not all(dtype == np.float64 for dtype in frame.dtypes):
        problems.append(f"dtypes {set(frame.dtypes)}")
    if list(frame.index) != list(range(len(frame))):
        problems.append("index is not 0..N-1")
    expected = np.fromfile(path + ".values.bin", dtype="<f8").reshape(len(frame), -1)
    if not np.array_equal(frame.to_numpy(), expected):
        problems.append("values differ")
    # The same selection a tagger would run: pandas' own query machinery on our table.
    signal = pd.read_hdf(path, "table", where="index < 4")
    if len(signal) != min(4, len(frame)):
        problems.append(f"where='index < 4' gave {len(signal)} rows")
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
