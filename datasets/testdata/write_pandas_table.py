"""Writes a top-tagging-layout DataFrame with Debian's pandas, for the C++ reader's test.

Usage: /usr/bin/python3 write_pandas_table.py OUT.h5 LAYOUT
LAYOUT is "public" (all 806 columns float64: one values block, as in the public files) or
"blocks" (ttv and is_signal_new as int64 and a float32 column: three values blocks, the column
order interleaving them). Beside OUT.h5 it writes OUT.h5.columns.txt (one name per line, the
frame's order) and OUT.h5.values.bin (the frame's values as little-endian float64, row-major),
which the C++ test compares with what it reads.
"""

import sys

import numpy as np
import pandas as pd


def main():
    out, layout = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(2019)
    rows, constituents = 57, 200
    columns = [f"{c}_{i}" for i in range(constituents) for c in ("E", "PX", "PY", "PZ")]
    values = rng.normal(0.0, 50.0, size=(rows, 4 * constituents))
    # Zero padding after a random number of constituents, as in the public files.
    for r in range(rows):
        values[r, 4 * rng.integers(5, constituents):] = 0.0
    frame = pd.DataFrame(values, columns=columns)
    for name in ("truthE", "truthPX", "truthPY", "truthPZ"):
        frame[name] = rng.normal(0.0, 300.0, size=rows)
    frame["ttv"] = rng.integers(0, 3, size=rows).astype(np.float64)
    frame["is_signal_new"] = rng.integers(0, 2, size=rows).astype(np.float64)
    if layout == "blocks":
        frame["ttv"] = frame["ttv"].astype(np.int64)
        frame["is_signal_new"] = frame["is_signal_new"].astype(np.int64)
        frame.insert(3, "extra_f32", rng.normal(size=rows).astype(np.float32))
    elif layout != "public":
        sys.exit(f"unknown layout {layout}")
    frame.to_hdf(out, key="table", format="table")
    with open(out + ".columns.txt", "w") as f:
        f.write("\n".join(frame.columns) + "\n")
    frame.to_numpy(dtype="<f8").tofile(out + ".values.bin")


if __name__ == "__main__":
    main()
