"""Benchmark figures belong in docs/PERFORMANCE.md, not in the backends' code comments (issue 16).

Usage: comment_figures_test.py SOURCE_DIR

A comment may say why a choice was made and point to docs/PERFORMANCE.md; a measured speed-up,
slow-down or share ("5-7% faster", "ran 7x slower", "40% less time") goes stale there unseen.
Fails naming each comment line under backends/ that states one. Arithmetic facts ("2.25-4x fewer
multiplications") are not measurements and pass.
"""

import pathlib
import re
import sys

MEASURED = re.compile(
    r"\d+(\.\d+)?(-\d+(\.\d+)?)?\s*(%|x\b|×)\s*(faster|slower|less|more|of its|the time)"
    r"|\b(ran|run|runs|took|takes|cost|costs)\b[^.]*\d+(\.\d+)?\s*(%|x\b|×)")


def main():
    root = pathlib.Path(sys.argv[1]) / "backends"
    wrong = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".cpp", ".h", ".cl", ".cu"} or path.stem.endswith("_test"):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            comment = line.partition("//")[2]
            if comment and MEASURED.search(comment):
                wrong.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    if wrong:
        sys.exit("benchmark figures in comments (move them to docs/PERFORMANCE.md):\n  " +
                 "\n  ".join(wrong))
    print("no benchmark figures in the backends' comments")


if __name__ == "__main__":
    main()
